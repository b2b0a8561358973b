"""The EventService cursor starts at 0 and never goes backwards."""

from __future__ import annotations

import asyncio

from bot.store import Store, TokenCipher


async def test_cursor_starts_at_zero_and_only_advances(store: Store) -> None:
    assert await store.event_cursor("acme", "forest-bot") == 0
    await store.save_event_cursor("acme", "forest-bot", 10)
    assert await store.event_cursor("acme", "forest-bot") == 10
    await store.save_event_cursor("acme", "forest-bot", 4)  # a late, older acknowledgement
    assert await store.event_cursor("acme", "forest-bot") == 10
    await store.save_event_cursor("acme", "forest-bot", 10)
    await store.save_event_cursor("acme", "forest-bot", 2**40)  # sequences are 64-bit
    assert await store.event_cursor("acme", "forest-bot") == 2**40


async def test_cursors_are_per_organisation_and_subscription(store: Store) -> None:
    await store.save_event_cursor("acme", "forest-bot", 5)
    await store.save_event_cursor("acme", "other", 7)
    await store.save_event_cursor("globex", "forest-bot", 9)
    assert [
        await store.event_cursor("acme", "forest-bot"),
        await store.event_cursor("acme", "other"),
        await store.event_cursor("globex", "forest-bot"),
        await store.event_cursor("globex", "other"),
    ] == [5, 7, 9, 0]


async def test_concurrent_saves_from_two_replicas_keep_the_highest(
    database_url: str, cipher: TokenCipher
) -> None:
    async with (
        await Store.open(database_url, cipher) as one,
        await Store.open(database_url, cipher) as two,
    ):
        sequences = [17, 3, 42, 8, 41, 1, 40, 25, 39, 2]
        await asyncio.gather(
            *(
                (one if n % 2 else two).save_event_cursor("acme", "forest-bot", sequence)
                for n, sequence in enumerate(sequences)
            )
        )
        assert await one.event_cursor("acme", "forest-bot") == 42
