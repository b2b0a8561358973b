"""Leases: one holder at a time, renewable by its holder, free once expired or dropped."""

from __future__ import annotations

import asyncio

from bot.store import Store, TokenCipher


async def test_one_holder_at_a_time(store: Store) -> None:
    assert await store.take_lease("acme/api", "replica-a", 30)
    assert not await store.take_lease("acme/api", "replica-b", 30)
    assert await store.take_lease("acme/api", "replica-a", 30)  # renewal
    assert await store.take_lease("acme/web", "replica-b", 30)  # another name is free


async def test_dropped_lease_is_free_at_once(store: Store) -> None:
    assert await store.take_lease("acme/api", "replica-a", 30)
    await store.drop_lease("acme/api", "replica-b")  # not b's to drop
    assert not await store.take_lease("acme/api", "replica-b", 30)
    await store.drop_lease("acme/api", "replica-a")
    assert await store.take_lease("acme/api", "replica-b", 30)


async def test_an_expired_lease_can_be_taken_over(store: Store) -> None:
    assert await store.take_lease("acme/api", "replica-a", -1)  # already expired
    assert await store.take_lease("acme/api", "replica-b", 30)
    assert not await store.take_lease("acme/api", "replica-a", 30)


async def test_concurrent_replicas_never_both_hold(database_url: str, cipher: TokenCipher) -> None:
    stores = [await Store.open(database_url, cipher) for _ in range(8)]
    try:
        won = await asyncio.gather(
            *(s.take_lease("acme/api", f"replica-{n}", 30) for n, s in enumerate(stores))
        )
    finally:
        for s in stores:
            await s.close()
    assert sum(won) == 1
