"""Thread posts: each (intent, channel, key) is claimed once, recorded, or released on failure."""

from __future__ import annotations

import asyncio

from bot.store import Store

INTENT = "7b0c6f5e-2a8c-4d7e-9d0a-6f6a1c2b3d4e"


async def test_a_thread_post_is_claimed_once(store: Store) -> None:
    won = await asyncio.gather(
        *(store.claim_thread_post(INTENT, "C1", "plan:production") for _ in range(10))
    )
    assert won.count(True) == 1
    assert await store.thread_posts(INTENT, "C1") == {"plan:production": None}
    await store.record_thread_post(INTENT, "C1", "plan:production", "1712345678.000200")
    assert not await store.claim_thread_post(INTENT, "C1", "plan:production")
    assert await store.thread_posts(INTENT, "C1") == {"plan:production": "1712345678.000200"}


async def test_keys_channels_and_intents_are_separate(store: Store) -> None:
    assert await store.claim_thread_post(INTENT, "C1", "plan:staging")
    assert await store.claim_thread_post(INTENT, "C1", "notice:bypass")
    assert await store.claim_thread_post(INTENT, "C2", "plan:staging")
    assert await store.claim_thread_post("another-intent", "C1", "plan:staging")
    assert await store.thread_posts(INTENT, "C1") == {"plan:staging": None, "notice:bypass": None}
    assert await store.thread_posts(INTENT, "C3") == {}


async def test_a_failed_post_is_released_and_a_posted_one_is_kept(store: Store) -> None:
    assert await store.claim_thread_post(INTENT, "C1", "plan:production")
    await store.release_thread_post(INTENT, "C1", "plan:production")
    assert await store.thread_posts(INTENT, "C1") == {}
    assert await store.claim_thread_post(INTENT, "C1", "plan:production")  # retried later

    await store.record_thread_post(INTENT, "C1", "plan:production", "1.2")
    await store.release_thread_post(INTENT, "C1", "plan:production")
    assert await store.thread_posts(INTENT, "C1") == {"plan:production": "1.2"}
