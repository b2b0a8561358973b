"""Subscriptions: unique per channel and project; remove_channel forgets the channel."""

from __future__ import annotations

import pytest

from bot.store import Store

INTENT = "7b0c6f5e-2a8c-4d7e-9d0a-6f6a1c2b3d4e"


async def test_a_channel_subscribes_to_a_project_once(store: Store) -> None:
    assert await store.subscribe("T1", "C1", "acme", "api", created_by="U1")
    assert not await store.subscribe("T1", "C1", "acme", "api", "production", created_by="U2")
    [row] = await store.subscriptions_for_channel("T1", "C1")
    assert (row.environment, row.created_by) == (None, "U1")  # the first one stands
    assert row.created_at.tzinfo is not None


async def test_lookups(store: Store) -> None:
    assert await store.subscribe("T1", "C1", "acme", "api")
    assert await store.subscribe("T1", "C1", "acme", "web", "production")
    assert await store.subscribe("T1", "C2", "acme", "api", "staging")
    assert await store.subscribe("T2", "C1", "acme", "api")  # another workspace's channel

    def keys(rows: list) -> list[tuple[str, str, str, str, str | None]]:
        return [(r.team_id, r.channel_id, r.organisation, r.project, r.environment) for r in rows]

    assert keys(await store.subscriptions_for_channel("T1", "C1")) == [
        ("T1", "C1", "acme", "api", None),
        ("T1", "C1", "acme", "web", "production"),
    ]
    assert keys(await store.subscriptions_for_project("acme", "api")) == [
        ("T1", "C1", "acme", "api", None),
        ("T1", "C2", "acme", "api", "staging"),
        ("T2", "C1", "acme", "api", None),
    ]
    assert len(await store.all_subscriptions()) == 4
    assert await store.subscriptions_for_project("globex", "api") == []


async def test_unsubscribe(store: Store) -> None:
    assert await store.subscribe("T1", "C1", "acme", "api")
    assert await store.unsubscribe("T1", "C1", "acme", "api")
    assert not await store.unsubscribe("T1", "C1", "acme", "api")
    assert await store.all_subscriptions() == []
    assert await store.subscribe("T1", "C1", "acme", "api")  # and subscribe again


async def test_remove_channel_forgets_its_subscriptions_and_messages(store: Store) -> None:
    for project in ("api", "web"):
        assert await store.subscribe("T1", "C1", "acme", project)
    assert await store.subscribe("T1", "C2", "acme", "api")
    for channel in ("C1", "C2"):
        assert await store.claim_message(INTENT, channel, "T1", "acme", "api")
        assert await store.claim_thread_post(INTENT, channel, "plan:production")

    assert await store.remove_channel("T1", "C1") == 2
    assert await store.subscriptions_for_channel("T1", "C1") == []
    assert [m.channel_id for m in await store.open_messages()] == ["C2"]
    assert await store.thread_posts(INTENT, "C1") == {}
    assert await store.thread_posts(INTENT, "C2") == {"plan:production": None}
    assert len(await store.subscriptions_for_channel("T1", "C2")) == 1
    assert await store.remove_channel("T1", "C1") == 0


async def test_overlong_names_are_refused_on_every_database(store: Store) -> None:
    with pytest.raises(ValueError, match="project name longer than 255"):
        await store.subscribe("T1", "C1", "acme", "p" * 256)
    assert await store.subscribe("T1", "C1", "acme", "p" * 255)
