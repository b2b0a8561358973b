"""Release messages: one claim wins across replicas; stale claims, version guard, forget_ts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.store import Store, TokenCipher
from bot.store.models import ReleaseMessage
from forestd.db.types import utcnow

from .conftest import run_sql

INTENT = "7b0c6f5e-2a8c-4d7e-9d0a-6f6a1c2b3d4e"
OTHER_INTENT = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
REPLICAS = 20


@pytest.fixture
async def replicas(database_url: str, cipher: TokenCipher) -> AsyncIterator[list[Store]]:
    """Separate stores on one database, as separate bot replicas would have."""
    stores = [await Store.open(database_url, cipher) for _ in range(REPLICAS)]
    try:
        yield stores
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def claim(store: Store, channel: str = "C1", intent: str = INTENT) -> bool:
    return await store.claim_message(intent, channel, "T1", "acme", "api")


async def age_claims(url: str, seconds: float) -> None:
    """Make every claim `seconds` old, as if its replica had died that long ago."""
    when = utcnow() - timedelta(seconds=seconds)
    await run_sql(url, update(ReleaseMessage).values(claimed_at=when))


async def test_one_of_twenty_concurrent_replicas_wins_the_claim(replicas: list[Store]) -> None:
    won = await asyncio.gather(*(claim(store) for store in replicas))
    assert won.count(True) == 1
    row = await replicas[0].message(INTENT, "C1")
    assert row is not None
    assert (row.ts, row.digest, row.version, row.finished) == (None, "", 0, False)
    assert (row.team_id, row.organisation, row.project) == ("T1", "acme", "api")
    assert row.claimed_at.tzinfo is not None
    # claims are per channel: another channel is a separate message
    assert await claim(replicas[1], channel="C2")


async def test_a_stale_unposted_claim_is_taken_over_by_exactly_one(
    replicas: list[Store], database_url: str
) -> None:
    assert await claim(replicas[0])
    assert not await claim(replicas[1])  # fresh: its replica may still be posting
    await age_claims(database_url, 121)
    won = await asyncio.gather(*(claim(store) for store in replicas[1:]))
    assert won.count(True) == 1
    assert not await claim(replicas[0])  # the takeover renewed claimed_at
    row = await replicas[0].message(INTENT, "C1")
    assert row is not None
    assert utcnow() - row.claimed_at < timedelta(seconds=60)


async def test_stale_after_is_the_callers_choice(store: Store, database_url: str) -> None:
    assert await claim(store)
    await age_claims(database_url, 30)
    assert not await store.claim_message(INTENT, "C1", "T1", "acme", "api")
    assert await store.claim_message(INTENT, "C1", "T1", "acme", "api", stale_after=10)


async def test_a_posted_message_is_never_taken_over(store: Store, database_url: str) -> None:
    assert await claim(store)
    await store.record_post(INTENT, "C1", "1712345678.000100", "d1", 3, False)
    await age_claims(database_url, 3600)
    assert not await claim(store)
    row = await store.message(INTENT, "C1")
    assert row is not None
    assert (row.ts, row.digest, row.version, row.finished) == ("1712345678.000100", "d1", 3, False)


async def test_release_claim_frees_an_unposted_claim_only(store: Store) -> None:
    assert await claim(store)
    await store.release_claim(INTENT, "C1")
    assert await store.message(INTENT, "C1") is None
    assert await claim(store)  # a later refresh may try again

    await store.record_post(INTENT, "C1", "1712345678.000100", "d1", 1, False)
    await store.release_claim(INTENT, "C1")  # a posted message stays known
    assert await store.message(INTENT, "C1") is not None


async def test_record_update_never_goes_back_to_an_older_version(store: Store) -> None:
    assert await claim(store)
    await store.record_post(INTENT, "C1", "1.0", "d5", 5, False)
    assert not await store.record_update(INTENT, "C1", "d4", 4, False)
    assert await store.record_update(INTENT, "C1", "d5b", 5, False)  # same version: re-render
    assert await store.record_update(INTENT, "C1", "d7", 7, True)
    assert not await store.record_update(INTENT, "C1", "d6", 6, False)
    row = await store.message(INTENT, "C1")
    assert row is not None
    assert (row.digest, row.version, row.finished) == ("d7", 7, True)
    assert not await store.record_update(OTHER_INTENT, "C1", "d", 9, False)  # no such message


async def test_concurrent_updates_keep_the_newest(store: Store) -> None:
    assert await claim(store)
    await store.record_post(INTENT, "C1", "1.0", "d0", 0, False)
    versions = [7, 3, 12, 1, 9, 12, 5, 11, 2, 8]
    await asyncio.gather(*(store.record_update(INTENT, "C1", f"d{v}", v, False) for v in versions))
    row = await store.message(INTENT, "C1")
    assert row is not None
    assert (row.digest, row.version) == ("d12", 12)


async def test_forget_ts_hands_the_caller_a_fresh_claim(store: Store, database_url: str) -> None:
    assert await claim(store)
    await store.record_post(INTENT, "C1", "1.0", "d3", 3, False)
    assert await store.claim_thread_post(INTENT, "C1", "plan:p1")
    await store.record_thread_post(INTENT, "C1", "plan:p1", "1.1")
    assert await store.claim_thread_post(INTENT, "C2", "plan:p1")  # another channel's message
    await age_claims(database_url, 3600)
    await store.forget_ts(INTENT, "C1")  # the message was deleted in Slack
    assert await store.thread_posts(INTENT, "C1") == {}  # the new message gets its own thread
    assert await store.thread_posts(INTENT, "C2") == {"plan:p1": None}
    row = await store.message(INTENT, "C1")
    assert row is not None
    assert (row.ts, row.digest, row.version) == (None, "", 3)
    assert utcnow() - row.claimed_at < timedelta(seconds=60)
    assert not await claim(store)  # nobody else reposts while the caller does
    assert await store.message_by_ts("C1", "1.0") is None
    await store.record_post(INTENT, "C1", "2.0", "d4", 4, False)
    assert (await store.message_by_ts("C1", "2.0")) is not None


async def test_lookups_and_open_messages(store: Store) -> None:
    for intent, channel in [(INTENT, "C1"), (INTENT, "C2"), (OTHER_INTENT, "C1")]:
        assert await claim(store, channel=channel, intent=intent)
    await store.record_post(INTENT, "C1", "1.1", "a", 1, False)
    await store.record_post(INTENT, "C2", "2.1", "b", 1, True)

    assert await store.count_messages() == 3
    assert [(m.intent_id, m.channel_id) for m in await store.messages_for_intent(INTENT)] == [
        (INTENT, "C1"),
        (INTENT, "C2"),
    ]
    both = await store.messages_for_intents([INTENT, OTHER_INTENT, "no-such-intent"])
    assert sorted((m.intent_id, m.channel_id) for m in both) == sorted(
        [(INTENT, "C1"), (INTENT, "C2"), (OTHER_INTENT, "C1")]
    )
    assert await store.messages_for_intents([]) == []
    found = await store.message_by_ts("C2", "2.1")
    assert found is not None and found.intent_id == INTENT and found.finished
    assert await store.message_by_ts("C1", "2.1") is None  # ts are per channel
    # not finished, the unposted claim included
    assert sorted((m.intent_id, m.channel_id, m.ts) for m in await store.open_messages()) == sorted(
        [(INTENT, "C1", "1.1"), (OTHER_INTENT, "C1", None)]
    )
    assert await store.message(OTHER_INTENT, "C2") is None
