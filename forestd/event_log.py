"""Reading the organisation event log: filters, batches, and the follow loop of a stream.

`follow()` is what Subscribe and SubscribeDurable share: replay every matching event after a
cursor in batches, then wait for the feed (or the timer) and read again, forever, in sequence
order. Three things keep it from skipping events:

- a listener is armed *before* each read, so a nudge that arrives during the read wakes the
  next wait at once;
- sequences come from a database sequence that is handed out at insert time, not at commit time
  (PostgreSQL), so a transaction holding a smaller number may commit after a larger one is
  already visible. A stream therefore never moves past a hole in the global sequence that is
  younger than `GAP_GRACE` seconds (judged by the created_at of the event just after it): the
  hole is either an in-flight transaction, which will fill it, or a rollback, which is settled
  once it is old. On SQLite writers are serialized, so holes do not appear. Each batch reads
  in one snapshot (REPEATABLE READ on PostgreSQL), so the hole check and the events agree;
- a stream of new events only (`live_start`) does not start past such a hole either.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import events_pb2

from .db.engine import READ_ONLY
from .db.models import OrgEvent
from .db.types import rfc3339, utcnow
from .event_feed import EventFeed
from .uow import Database

BATCH = 500
# A stream reads the log at least this often, even when no nudge arrives.
POLL_SECONDS = 5.0
GAP_GRACE = timedelta(seconds=3)
# How soon a stream held at a young hole looks again.
GAP_RETRY_SECONDS = 0.05
# How many of the newest events `live_start` looks at for holes.
RECENT_WINDOW = 200


@dataclass(frozen=True)
class EventFilter:
    """Which events of an organisation a stream wants; an empty tuple means all."""

    projects: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


def event_message(row: OrgEvent) -> events_pb2.OrgEvent:
    return events_pb2.OrgEvent(
        sequence=row.sequence,
        event_id=row.event_id,
        timestamp=rfc3339(row.created_at),
        organisation=row.organisation,
        project=row.project,
        resource_type=row.resource_type,
        action=row.action,
        resource_id=row.resource_id,
        metadata={str(k): str(v) for k, v in (row.event_metadata or {}).items()},
    )


async def max_sequence(session: AsyncSession, organisation: str | None = None) -> int:
    """The highest sequence of the organisation's events (of all events when None); 0 if none."""
    query = select(func.max(OrgEvent.sequence))
    if organisation is not None:
        query = query.where(OrgEvent.organisation == organisation)
    return int(await session.scalar(query) or 0)


async def read_events(
    session: AsyncSession, organisation: str, flt: EventFilter, after: int, limit: int = BATCH
) -> list[OrgEvent]:
    query = select(OrgEvent).where(OrgEvent.organisation == organisation, OrgEvent.sequence > after)
    if flt.projects:
        query = query.where(OrgEvent.project.in_(flt.projects))
    if flt.resource_types:
        query = query.where(OrgEvent.resource_type.in_(flt.resource_types))
    if flt.actions:
        query = query.where(OrgEvent.action.in_(flt.actions))
    rows = await session.scalars(query.order_by(OrgEvent.sequence).limit(limit))
    return list(rows)


async def settled(session: AsyncSession, after: int, rows: Sequence[OrgEvent]) -> list[OrgEvent]:
    """The leading `rows` that no still-committing transaction can precede (see module doc)."""
    if not rows or _serialized_writers(session):
        return list(rows)
    upto = rows[-1].sequence
    in_range = (OrgEvent.sequence > after, OrgEvent.sequence <= upto)
    present = int(await session.scalar(select(func.count()).where(*in_range)) or 0)
    if present == upto - after:
        return list(rows)
    found = await session.execute(
        select(OrgEvent.sequence, OrgEvent.created_at).where(*in_range).order_by(OrgEvent.sequence)
    )
    hole = _first_young_hole(after, found)
    return [row for row in rows if hole is None or row.sequence < hole]


async def live_start(session: AsyncSession, organisation: str) -> int:
    """Where a stream of new events only starts (Subscribe with since_sequence 0, a new durable
    subscription's cursor): the organisation's newest event, or, when a young hole lies under
    it, just before the hole, since an in-flight transaction may still fill it with one of this
    organisation's events. The few events committed after such a hole (within `GAP_GRACE`) are
    then delivered too: better than losing one."""
    newest = await max_sequence(session, organisation)
    if newest == 0 or _serialized_writers(session):
        return newest
    recent = list(
        (
            await session.execute(
                select(OrgEvent.sequence, OrgEvent.created_at)
                .where(OrgEvent.sequence <= newest)
                .order_by(OrgEvent.sequence.desc())
                .limit(RECENT_WINDOW)
            )
        ).all()
    )
    recent.reverse()
    young = utcnow() - GAP_GRACE
    old = [i for i, (_, created_at) in enumerate(recent) if created_at <= young]
    window = recent[old[-1] :] if old else recent
    if not window:
        return newest
    hole = _first_young_hole(window[0][0], window[1:])
    return newest if hole is None else min(newest, hole - 1)


def _first_young_hole(after: int, found: Iterable[tuple[int, datetime]]) -> int | None:
    """The first sequence missing after `after` in `found` (ascending (sequence, created_at)),
    among those followed by an event younger than `GAP_GRACE`; None when there is none."""
    young = utcnow() - GAP_GRACE
    expected = after + 1
    for sequence, created_at in found:
        if sequence != expected and created_at > young:
            return expected
        expected = sequence + 1
    return None


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[AsyncSession]:
    """A read-only transaction that sees one snapshot throughout. On PostgreSQL, READ COMMITTED
    gives every statement a newer snapshot: the events read and the hole check after them
    could disagree (an event committed in between would be counted but never read)."""
    options: dict[str, Any] = {READ_ONLY: True}
    if db.engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    async with db.sessions() as session:
        await session.connection(execution_options=options)
        yield session


def _serialized_writers(session: AsyncSession) -> bool:
    """SQLite: one writer at a time, sequences assigned under its lock, so no holes to wait for."""
    bind = session.bind
    return bind is not None and bind.dialect.name == "sqlite"


FilterSource = Callable[[AsyncSession], Awaitable[EventFilter]]


async def follow(
    db: Database,
    feed: EventFeed,
    organisation: str,
    filters: FilterSource,
    after: int,
) -> AsyncGenerator[events_pb2.OrgEvent, None]:
    """Every matching event with a sequence above `after`, in order, then live ones, until the
    feed stops. `filters` is read again before every batch (in the batch's read transaction):
    it may raise to end the stream (a durable subscription paused or deleted meanwhile)."""
    cursor = after
    async with feed.listen(organisation) as listener:
        while not listener.closed:
            listener.arm()
            async with snapshot(db) as session:
                flt = await filters(session)
                rows = await read_events(session, organisation, flt, cursor)
                ready = await settled(session, cursor, rows)
            for row in ready:
                yield event_message(row)
            if ready:
                cursor = ready[-1].sequence
            if len(ready) < len(rows):
                await listener.wait(GAP_RETRY_SECONDS)
            elif len(rows) < BATCH:
                await listener.wait(POLL_SECONDS)
