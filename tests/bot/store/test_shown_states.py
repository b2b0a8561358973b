"""Shown states: kept per intent, settled only where a message showed the intent, forgotten."""

from __future__ import annotations

from bot.store import Store


async def test_an_ended_intent_gives_its_last_shown_state_and_outcome(store: Store) -> None:
    await store.remember_shown_state("i-1", b"first")
    await store.remember_shown_state("i-1", b"second")  # the newest shown state wins
    await store.remember_shown_state("i-2", b"other")
    assert await store.ended_states(["i-1", "i-2"]) == {}  # nothing ended yet
    assert await store.settle_shown_state("i-1", "SUCCEEDED")
    assert not await store.settle_shown_state("i-3", "FAILED")  # never shown: nothing kept
    assert await store.ended_states(["i-1", "i-2", "i-3"]) == {"i-1": (b"second", "SUCCEEDED")}
    assert await store.ended_states([]) == {}
    await store.forget_shown_state("i-1")
    assert await store.ended_states(["i-1"]) == {}
