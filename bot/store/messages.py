"""Release messages: one Slack message per (intent, channel), posted once across replicas.

The row is created by the claim, before the Slack call, and gets its ts afterwards. Slack has no
idempotency key, so a replica dying between chat.postMessage and record_post leaves a message
the store does not know: after `stale_after` another replica takes the claim over and posts again
(at-least-once), rather than the intent never showing (at-most-once).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, func, select, update

from forestd.db.types import utcnow

from .database import StoreDatabase, in_chunks
from .models import ReleaseMessage, ThreadPost
from .rows import MessageRow


def _messages() -> Select[*tuple[Any, ...]]:
    return select(
        ReleaseMessage.intent_id,
        ReleaseMessage.channel_id,
        ReleaseMessage.team_id,
        ReleaseMessage.organisation,
        ReleaseMessage.project,
        ReleaseMessage.ts,
        ReleaseMessage.digest,
        ReleaseMessage.version,
        ReleaseMessage.finished,
        ReleaseMessage.claimed_at,
    ).order_by(ReleaseMessage.intent_id, ReleaseMessage.channel_id)


def _row(row: Row[*tuple[Any, ...]]) -> MessageRow:
    return MessageRow(**row._mapping)


def _message(intent_id: str, channel_id: str) -> tuple[ColumnElement[bool], ...]:
    return (ReleaseMessage.intent_id == intent_id, ReleaseMessage.channel_id == channel_id)


class Messages:
    _db: StoreDatabase

    async def claim_message(
        self,
        intent_id: str,
        channel_id: str,
        team_id: str,
        organisation: str,
        project: str,
        *,
        stale_after: float = 120.0,
    ) -> bool:
        """Whether this caller may post the intent's message in the channel (one caller wins).

        Also wins, atomically, a claim that was never posted (ts NULL) and is older than
        `stale_after` seconds: its replica died between claim and post.
        """
        now = utcnow()
        claim = (
            self._db.insert(ReleaseMessage)
            .values(
                intent_id=intent_id,
                channel_id=channel_id,
                team_id=team_id,
                organisation=organisation,
                project=project,
                ts=None,
                digest="",
                version=0,
                finished=False,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["intent_id", "channel_id"])
            .returning(ReleaseMessage.intent_id)
        )
        # On PostgreSQL a concurrent takeover waits for the row lock, then re-checks the WHERE
        # against the winner's claimed_at: only one UPDATE matches.
        takeover = (
            update(ReleaseMessage)
            .where(
                *_message(intent_id, channel_id),
                ReleaseMessage.ts.is_(None),
                ReleaseMessage.claimed_at < now - timedelta(seconds=stale_after),
            )
            .values(team_id=team_id, organisation=organisation, project=project, claimed_at=now)
            .returning(ReleaseMessage.intent_id)
        )
        async with self._db.write() as conn:
            if await conn.scalar(claim) is not None:
                return True
            return await conn.scalar(takeover) is not None

    async def record_post(
        self, intent_id: str, channel_id: str, ts: str, digest: str, version: int, finished: bool
    ) -> None:
        """The claimed message is posted: remember its ts and what it shows.

        Unconditional: when a stale takeover let two replicas post, the last one recorded is the
        message kept up to date. No row (the claim was released meanwhile): nothing is stored.
        """
        statement = (
            update(ReleaseMessage)
            .where(*_message(intent_id, channel_id))
            .values(ts=ts, digest=digest, version=version, finished=finished)
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def release_claim(self, intent_id: str, channel_id: str) -> None:
        """Give up a claim whose post failed (a posted message is kept)."""
        statement = delete(ReleaseMessage).where(
            *_message(intent_id, channel_id), ReleaseMessage.ts.is_(None)
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def record_update(
        self, intent_id: str, channel_id: str, digest: str, version: int, finished: bool
    ) -> bool:
        """Store what the message now shows, unless it already shows a newer state version."""
        statement = (
            update(ReleaseMessage)
            .where(*_message(intent_id, channel_id), ReleaseMessage.version <= version)
            .values(digest=digest, version=version, finished=finished)
            .returning(ReleaseMessage.intent_id)
        )
        async with self._db.write() as conn:
            return await conn.scalar(statement) is not None

    async def forget_ts(self, intent_id: str, channel_id: str) -> None:
        """The message was deleted in Slack: the caller now holds a fresh claim to repost it.
        Its thread posts are forgotten too, so the new message gets its own thread."""
        statement = (
            update(ReleaseMessage)
            .where(*_message(intent_id, channel_id))
            .values(ts=None, digest="", claimed_at=utcnow())
        )
        posts = delete(ThreadPost).where(
            ThreadPost.intent_id == intent_id, ThreadPost.channel_id == channel_id
        )
        async with self._db.write() as conn:
            await conn.execute(statement)
            await conn.execute(posts)

    async def message(self, intent_id: str, channel_id: str) -> MessageRow | None:
        async with self._db.read() as conn:
            row = (await conn.execute(_messages().where(*_message(intent_id, channel_id)))).first()
        return None if row is None else _row(row)

    async def messages_for_intent(self, intent_id: str) -> list[MessageRow]:
        statement = _messages().where(ReleaseMessage.intent_id == intent_id)
        async with self._db.read() as conn:
            return [_row(row) for row in await conn.execute(statement)]

    async def messages_for_intents(self, intent_ids: Collection[str]) -> list[MessageRow]:
        """Every message of these intents, in one query per IN_CHUNK ids."""
        out: list[MessageRow] = []
        async with self._db.read() as conn:
            for chunk in in_chunks(intent_ids):
                statement = _messages().where(ReleaseMessage.intent_id.in_(chunk))
                out.extend(_row(row) for row in await conn.execute(statement))
        return out

    async def message_by_ts(self, channel_id: str, ts: str) -> MessageRow | None:
        statement = _messages().where(
            ReleaseMessage.channel_id == channel_id, ReleaseMessage.ts == ts
        )
        async with self._db.read() as conn:
            row = (await conn.execute(statement.limit(1))).first()
        return None if row is None else _row(row)

    async def open_messages(
        self, organisation: str | None = None, project: str | None = None
    ) -> list[MessageRow]:
        """Messages whose intent is not finished, including claims not posted yet (of one
        organisation or project when given)."""
        statement = _messages().where(ReleaseMessage.finished.is_(False))
        if organisation is not None:
            statement = statement.where(ReleaseMessage.organisation == organisation)
        if project is not None:
            statement = statement.where(ReleaseMessage.project == project)
        async with self._db.read() as conn:
            return [_row(row) for row in await conn.execute(statement)]

    async def count_messages(self) -> int:
        async with self._db.read() as conn:
            return int(await conn.scalar(select(func.count()).select_from(ReleaseMessage)) or 0)
