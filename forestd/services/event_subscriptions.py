"""forest.v1 EventSubscriptionService: durable subscriptions (filters, status, cursor).

- Any member of the organisation (and the service account) may create, update, delete and list
  its subscriptions, as in Forest.
- Names are unique per organisation (ALREADY_EXISTS), 1 to 200 characters.
- Filters: resource types, actions and projects; an empty list means all. Projects must exist
  in the organisation (NOT_FOUND), and unlike Forest any number of them filters.
- Update: `status` when set ('active' or 'paused', INVALID_ARGUMENT otherwise); the three
  filters are replaced together only when `update_filters` is true (empty lists then mean all).
- The cursor starts at the organisation's newest event when the subscription is created: the
  bot creates its subscription once and, from then on, gets every later event through
  SubscribeDurable, even those committed while it was not connected; history from before the
  subscription existed is Subscribe's job (`since_sequence`).
"""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import events_pb2, events_pb2_grpc

from ..context import ServiceContext
from ..db.models import EventSubscription, Organisation
from ..db.types import rfc3339, utcnow
from ..errors import AlreadyExists, InvalidArgument, rpc
from ..event_log import live_start
from .events import filter_values, find_subscription, member_organisation, require_projects

SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventSubscriptionService"].full_name
STATUSES = ("active", "paused")
MAX_NAME_LENGTH = 200

FilterRequest = (
    events_pb2.CreateEventSubscriptionRequest | events_pb2.UpdateEventSubscriptionRequest
)


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    events_pb2_grpc.add_EventSubscriptionServiceServicer_to_server(
        EventSubscriptionService(ctx), server
    )
    return [SERVICE_NAME]


def subscription_message(row: EventSubscription) -> events_pb2.EventSubscription:
    return events_pb2.EventSubscription(
        id=row.id,
        organisation=row.organisation,
        name=row.name,
        resource_types=list(row.resource_types or ()),
        actions=list(row.actions or ()),
        projects=list(row.projects or ()),
        status=row.status,
        cursor=row.cursor,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


def _name(value: str) -> str:
    if not value or not value.strip():
        raise InvalidArgument("name is required")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name is longer than {MAX_NAME_LENGTH} characters")
    return value


async def _apply_filters(
    session: AsyncSession, org: Organisation, row: EventSubscription, request: FilterRequest
) -> None:
    projects = filter_values(request.projects, "projects")
    await require_projects(session, org, projects)
    row.projects = list(projects)
    row.resource_types = list(filter_values(request.resource_types, "resource_types"))
    row.actions = list(filter_values(request.actions, "actions"))


class EventSubscriptionService(events_pb2_grpc.EventSubscriptionServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db

    @rpc
    async def CreateEventSubscription(
        self,
        request: events_pb2.CreateEventSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.CreateEventSubscriptionResponse:
        name = _name(request.name)
        taken = AlreadyExists(
            f"event subscription {name!r} already exists in organisation {request.organisation!r}"
        )
        try:
            async with self._db.transaction() as uow:
                session = uow.session
                org = await member_organisation(session, request.organisation)
                existing = await session.scalar(
                    select(EventSubscription.id).where(
                        EventSubscription.organisation == org.name,
                        EventSubscription.name == name,
                    )
                )
                if existing is not None:
                    raise taken
                row = EventSubscription(
                    organisation=org.name,
                    name=name,
                    status="active",
                    cursor=await live_start(session, org.name),
                )
                await _apply_filters(session, org, row, request)
                session.add(row)
                await session.flush()
        except IntegrityError:  # a concurrent create won the UNIQUE(org, name) race
            raise taken from None
        return events_pb2.CreateEventSubscriptionResponse(subscription=subscription_message(row))

    @rpc
    async def UpdateEventSubscription(
        self,
        request: events_pb2.UpdateEventSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.UpdateEventSubscriptionResponse:
        if request.HasField("status") and request.status not in STATUSES:
            raise InvalidArgument(f"status must be 'active' or 'paused', got {request.status!r}")
        async with self._db.transaction() as uow:
            org = await member_organisation(uow.session, request.organisation)
            row = await find_subscription(uow.session, org, _name(request.name))
            if request.HasField("status"):
                row.status = request.status
            if request.update_filters:
                await _apply_filters(uow.session, org, row, request)
            row.updated_at = utcnow()
            await uow.session.flush()
            return events_pb2.UpdateEventSubscriptionResponse(
                subscription=subscription_message(row)
            )

    @rpc
    async def DeleteEventSubscription(
        self,
        request: events_pb2.DeleteEventSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.DeleteEventSubscriptionResponse:
        async with self._db.transaction() as uow:
            org = await member_organisation(uow.session, request.organisation)
            row = await find_subscription(uow.session, org, _name(request.name))
            await uow.session.delete(row)
        return events_pb2.DeleteEventSubscriptionResponse()

    @rpc
    async def ListEventSubscriptions(
        self,
        request: events_pb2.ListEventSubscriptionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.ListEventSubscriptionsResponse:
        async with self._db.read() as session:
            org = await member_organisation(session, request.organisation)
            rows = await session.scalars(
                select(EventSubscription)
                .where(EventSubscription.organisation == org.name)
                .order_by(EventSubscription.name)
            )
            return events_pb2.ListEventSubscriptionsResponse(
                subscriptions=[subscription_message(row) for row in rows]
            )
