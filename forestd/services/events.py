"""forest.v1 EventService: the organisation event log as streams (contract §4).

- Subscribe: live stream from the organisation's current newest event (`since_sequence` 0), or a
  replay of every event after `since_sequence` first, in batches, then live. Filters: one
  project (empty: all), resource types and actions (empty: all).
- Both streams re-check the caller's membership every few seconds: a removed member's stream
  ends with PERMISSION_DENIED.
- SubscribeDurable: the stored subscription (NOT_FOUND when missing, FAILED_PRECONDITION when
  paused) replays from its cursor, then streams live, with the subscription's filters. The
  filters and status are read again before every batch: pausing or deleting a subscription ends
  its open streams.
- AcknowledgeEvents: moves the cursor forward only; an older sequence leaves it and returns the
  current cursor; a sequence that does not exist yet is refused (it would skip future events).

Unlike Forest, every call checks that the caller is a member of the organisation (the service
account passes). Streams wake on the server's single `forest.events.>` subscription
(`forestd.event_feed`) or every `event_log.POLL_SECONDS`; they end when the client cancels or
the server stops.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import grpc
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import events_pb2, events_pb2_grpc

from ..auth import Actor, current_actor
from ..authz import organisation_by_name, require_member
from ..context import ServiceContext
from ..db.models import EventSubscription, Organisation, Project
from ..db.types import utcnow
from ..errors import FailedPrecondition, ForestError, InvalidArgument, NotFound, rpc
from ..event_feed import feed_for
from ..event_log import EventFilter, follow, live_start, max_sequence, snapshot

SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    events_pb2_grpc.add_EventServiceServicer_to_server(EventService(ctx), server)
    return [SERVICE_NAME]


class ShuttingDown(ForestError):
    code = grpc.StatusCode.UNAVAILABLE


# A long stream re-checks its caller's membership at most this often (when it reads).
MEMBERSHIP_RECHECK_SECONDS = 5.0
SHUTDOWN = "forestd is shutting down: reconnect (with your last sequence) to resume"


def stream_rpc(method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    """`@rpc` for server-streaming handlers: ForestError becomes its status."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator:
        try:
            async for item in method(self, request, context):
                yield item
        except ForestError as exc:
            await context.abort(exc.code, exc.message)

    return wrapper


def filter_values(values: Any, field: str) -> tuple[str, ...]:
    """A filter list without duplicates; empty strings are refused (empty list = all)."""
    result: list[str] = []
    for value in values:
        if not value or not value.strip():
            raise InvalidArgument(f"{field} must not contain empty strings")
        if value not in result:
            result.append(value)
    return tuple(result)


async def require_projects(
    session: AsyncSession, org: Organisation, names: tuple[str, ...]
) -> None:
    """NOT_FOUND naming the first project that does not exist in the organisation."""
    if not names:
        return
    known = set(
        await session.scalars(
            select(Project.name).where(Project.organisation_id == org.id, Project.name.in_(names))
        )
    )
    for name in names:
        if name not in known:
            raise NotFound(f"project {org.name}/{name} does not exist")


async def member_organisation(session: AsyncSession, name: str) -> Organisation:
    org = await organisation_by_name(session, name)
    await require_member(session, current_actor(), org)
    return org


async def find_subscription(
    session: AsyncSession, org: Organisation, name: str
) -> EventSubscription:
    if not name:
        raise InvalidArgument("subscription_name is required")
    row = await session.scalar(
        select(EventSubscription).where(
            EventSubscription.organisation == org.name, EventSubscription.name == name
        )
    )
    if row is None:
        raise NotFound(f"event subscription {name!r} does not exist in organisation {org.name!r}")
    return row


def subscription_filter(row: EventSubscription) -> EventFilter:
    return EventFilter(
        projects=tuple(row.projects or ()),
        resource_types=tuple(row.resource_types or ()),
        actions=tuple(row.actions or ()),
    )


def require_active(row: EventSubscription) -> None:
    if row.status != "active":
        raise FailedPrecondition(
            f"event subscription {row.name!r} is {row.status}: set its status to 'active' first"
        )


class StillMember:
    """The membership check of an open stream: a member removed from the organisation stops
    receiving its events (PERMISSION_DENIED) at the stream's next read after the interval."""

    def __init__(self, actor: Actor, org: Organisation):
        self._actor = actor
        self._org = org
        self._checked = time.monotonic()

    async def check(self, session: AsyncSession) -> None:
        if not self._actor.is_user:
            return
        if time.monotonic() - self._checked < MEMBERSHIP_RECHECK_SECONDS:
            return
        await require_member(session, self._actor, self._org)
        self._checked = time.monotonic()


class EventService(events_pb2_grpc.EventServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db
        self.feed = feed_for(ctx.bus)

    @stream_rpc
    async def Subscribe(
        self, request: events_pb2.SubscribeEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.OrgEvent]:
        if request.since_sequence < 0:
            raise InvalidArgument(f"since_sequence must be >= 0, got {request.since_sequence}")
        flt = EventFilter(
            projects=(request.project,) if request.project else (),
            resource_types=filter_values(request.resource_types, "resource_types"),
            actions=filter_values(request.actions, "actions"),
        )
        async with snapshot(self._db) as session:
            org = await member_organisation(session, request.organisation)
            await require_projects(session, org, flt.projects)
            start = request.since_sequence or await live_start(session, org.name)

        member = StillMember(current_actor(), org)

        async def fixed(session: AsyncSession) -> EventFilter:
            await member.check(session)
            return flt

        async with aclosing(follow(self._db, self.feed, org.name, fixed, start)) as events:
            async for event in events:
                yield event
        raise ShuttingDown(SHUTDOWN)

    @stream_rpc
    async def SubscribeDurable(
        self, request: events_pb2.SubscribeDurableRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.OrgEvent]:
        async with self._db.read() as session:
            org = await member_organisation(session, request.organisation)
            row = await find_subscription(session, org, request.subscription_name)
            require_active(row)
            subscription_id, start = row.id, row.cursor
        member = StillMember(current_actor(), org)

        async def current(session: AsyncSession) -> EventFilter:
            await member.check(session)
            latest = await session.get(EventSubscription, subscription_id)
            if latest is None:
                raise NotFound(f"event subscription {request.subscription_name!r} was deleted")
            require_active(latest)
            return subscription_filter(latest)

        async with aclosing(follow(self._db, self.feed, org.name, current, start)) as events:
            async for event in events:
                yield event
        raise ShuttingDown(SHUTDOWN)

    @rpc
    async def AcknowledgeEvents(
        self, request: events_pb2.AcknowledgeEventsRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.AcknowledgeEventsResponse:
        if request.sequence <= 0:
            raise InvalidArgument(f"sequence must be > 0, got {request.sequence}")
        async with self._db.transaction() as uow:
            org = await member_organisation(uow.session, request.organisation)
            row = await find_subscription(uow.session, org, request.subscription_name)
            newest = await max_sequence(uow.session)
            if request.sequence > newest:
                raise InvalidArgument(
                    f"sequence {request.sequence} is beyond the newest event ({newest}): "
                    "acknowledge only sequences you received"
                )
            await uow.session.execute(
                update(EventSubscription)
                .where(EventSubscription.id == row.id, EventSubscription.cursor < request.sequence)
                .values(cursor=request.sequence, updated_at=utcnow())
            )
            cursor = await uow.session.scalar(
                select(EventSubscription.cursor)
                .where(EventSubscription.id == row.id)
                .execution_options(populate_existing=True)
            )
            return events_pb2.AcknowledgeEventsResponse(cursor=int(cursor or 0))
