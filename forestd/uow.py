"""One database transaction, its org_events rows, and the NATS messages sent after it commits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .bus import Bus, org_events_subject
from .db.engine import READ_ONLY, make_sessionmaker
from .db.models import OrgEvent


class UnitOfWork:
    """A session plus what to publish once (and only if) the transaction commits."""

    def __init__(self, session: AsyncSession):
        self.session = session
        self._outbox: list[tuple[str, bytes]] = []

    def record_event(
        self,
        organisation: str,
        resource_type: str,
        action: str,
        resource_id: str,
        *,
        project: str = "",
        metadata: dict[str, str] | None = None,
    ) -> OrgEvent:
        """Write an org_events row in this transaction; nudge forest.events.{org} after commit."""
        event = OrgEvent(
            organisation=organisation,
            project=project,
            resource_type=resource_type,
            action=action,
            resource_id=resource_id,
            event_metadata={k: str(v) for k, v in (metadata or {}).items()},
        )
        self.session.add(event)
        self.publish_after_commit(org_events_subject(organisation))
        return event

    def publish_after_commit(self, subject: str, payload: bytes | dict[str, Any] = b"") -> None:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        if (subject, data) not in self._outbox:
            self._outbox.append((subject, data))

    @property
    def outbox(self) -> list[tuple[str, bytes]]:
        return list(self._outbox)


class Database:
    """Engine, sessions and the bus: `async with db.transaction() as uow: ...`."""

    def __init__(self, engine: AsyncEngine, bus: Bus):
        self.engine = engine
        self.bus = bus
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
        # SQLite has one writer. Left to its busy handler, writers waiting for the lock sleep
        # with back-off (up to 100 ms a nap) and p99 under load reaches seconds; queueing this
        # process's writers in FIFO order keeps latency at the queue's length. Other processes
        # sharing the file still meet the busy handler. PostgreSQL needs no such queue.
        self._writer: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction. Not reentrant: never open one inside another."""
        async with self._writer, self.sessions() as session:
            uow = UnitOfWork(session)
            async with session.begin():
                yield uow
        for subject, data in uow.outbox:
            await self.bus.publish(subject, data)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        async with self.sessions() as session:
            await session.connection(execution_options={READ_ONLY: True})
            yield session
