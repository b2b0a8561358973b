"""Replies in a release message's thread (plan diffs, notices): each key posted at most once."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select, update

from forestd.db.types import utcnow

from .database import StoreDatabase
from .models import ThreadPost


def _thread_post(intent_id: str, channel_id: str, key: str) -> tuple[ColumnElement[bool], ...]:
    return (
        ThreadPost.intent_id == intent_id,
        ThreadPost.channel_id == channel_id,
        ThreadPost.key == key,
    )


class ThreadPosts:
    _db: StoreDatabase

    async def claim_thread_post(self, intent_id: str, channel_id: str, key: str) -> bool:
        """Whether this caller may post the reply `key` in the message's thread (once ever)."""
        statement = (
            self._db.insert(ThreadPost)
            .values(
                intent_id=intent_id, channel_id=channel_id, key=key, ts=None, claimed_at=utcnow()
            )
            .on_conflict_do_nothing(index_elements=["intent_id", "channel_id", "key"])
            .returning(ThreadPost.key)
        )
        async with self._db.write() as conn:
            return await conn.scalar(statement) is not None

    async def record_thread_post(self, intent_id: str, channel_id: str, key: str, ts: str) -> None:
        statement = (
            update(ThreadPost).where(*_thread_post(intent_id, channel_id, key)).values(ts=ts)
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def release_thread_post(self, intent_id: str, channel_id: str, key: str) -> None:
        """Give up a claim whose post failed, so a later refresh tries again."""
        statement = delete(ThreadPost).where(
            *_thread_post(intent_id, channel_id, key), ThreadPost.ts.is_(None)
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def thread_posts(self, intent_id: str, channel_id: str) -> dict[str, str | None]:
        """key -> ts of the message's thread posts (ts None: claimed, not posted yet)."""
        statement = (
            select(ThreadPost.key, ThreadPost.ts)
            .where(ThreadPost.intent_id == intent_id, ThreadPost.channel_id == channel_id)
            .order_by(ThreadPost.claimed_at, ThreadPost.key)
        )
        async with self._db.read() as conn:
            return {key: ts for key, ts in await conn.execute(statement)}
