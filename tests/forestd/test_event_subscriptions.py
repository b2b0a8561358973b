"""Durable event subscriptions through real gRPC and NATS, on SQLite and PostgreSQL:
EventSubscriptionService CRUD, SubscribeDurable and AcknowledgeEvents."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from forest.v1 import events_pb2, events_pb2_grpc
from forestd.server import ForestServer
from forestd.uow import Database

from .events_helpers import Metadata, Stream, record, refused, until_listening
from .factories import World, add_project, provision


@pytest.fixture
def subs(channel: grpc.aio.Channel) -> events_pb2_grpc.EventSubscriptionServiceStub:
    return events_pb2_grpc.EventSubscriptionServiceStub(channel)


@pytest.fixture
def events(channel: grpc.aio.Channel) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(channel)


async def create(
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    auth: Metadata,
    name: str = "slack-bot",
    organisation: str = "acme",
    **filters: list[str],
) -> events_pb2.EventSubscription:
    response = await subs.CreateEventSubscription(
        events_pb2.CreateEventSubscriptionRequest(organisation=organisation, name=name, **filters),
        metadata=auth,
    )
    return response.subscription


def durable(
    events: events_pb2_grpc.EventServiceStub,
    auth: Metadata,
    name: str = "slack-bot",
    organisation: str = "acme",
) -> Stream:
    request = events_pb2.SubscribeDurableRequest(organisation=organisation, subscription_name=name)
    return Stream(events.SubscribeDurable(request, metadata=auth))


async def ack(
    events: events_pb2_grpc.EventServiceStub, auth: Metadata, sequence: int, name: str = "slack-bot"
) -> int:
    response = await events.AcknowledgeEvents(
        events_pb2.AcknowledgeEventsRequest(
            organisation="acme", subscription_name=name, sequence=sequence
        ),
        metadata=auth,
    )
    return response.cursor


async def test_create_starts_at_the_newest_event_and_names_are_unique_per_org(
    db: Database, world: World, subs: events_pb2_grpc.EventSubscriptionServiceStub
) -> None:
    before = await record(db, world, 3)
    other = await provision(db, org="globex", members={"mallory": "admin"})
    await record(db, other, 2)  # newer, but another organisation's

    sub = await create(subs, world.auth("bob"), resource_types=["release"], projects=["api"])
    assert sub.cursor == before[-1]
    assert (sub.organisation, sub.name, sub.status) == ("acme", "slack-bot", "active")
    assert list(sub.resource_types) == ["release"] and list(sub.projects) == ["api"]
    assert list(sub.actions) == []
    assert sub.id and sub.created_at.endswith("Z") and sub.updated_at.endswith("Z")

    again = await refused(create(subs, world.auth("carol")))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "'slack-bot' already exists" in (again.details() or "")
    elsewhere = await create(subs, other.auth("mallory"), organisation="globex")
    assert elsewhere.organisation == "globex"

    for bad, code in [
        (create(subs, world.auth("bob"), name=""), grpc.StatusCode.INVALID_ARGUMENT),
        (create(subs, world.auth("bob"), name="x" * 201), grpc.StatusCode.INVALID_ARGUMENT),
        (create(subs, world.auth("bob"), name="b", actions=[""]), grpc.StatusCode.INVALID_ARGUMENT),
        (create(subs, world.auth("bob"), name="c", projects=["ghost"]), grpc.StatusCode.NOT_FOUND),
        (create(subs, world.auth("bob"), name="d", organisation="nope"), grpc.StatusCode.NOT_FOUND),
        (create(subs, other.auth("mallory"), name="e"), grpc.StatusCode.PERMISSION_DENIED),
    ]:
        assert (await refused(bad)).code() == code


async def test_update_status_and_filters_then_list_and_delete(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    as_service: Callable[[], Metadata],
) -> None:
    await add_project(db, world, "web")
    await create(subs, world.auth("bob"), actions=["created"], projects=["api"])
    await create(subs, as_service(), name="audit")

    def update(**kw: object) -> events_pb2.UpdateEventSubscriptionRequest:
        return events_pb2.UpdateEventSubscriptionRequest(
            organisation="acme",
            name="slack-bot",
            **kw,  # type: ignore[arg-type]
        )

    paused = await subs.UpdateEventSubscription(
        update(status="paused", actions=["ignored"]), metadata=world.auth("carol")
    )
    assert paused.subscription.status == "paused"
    # Without update_filters the lists in the request are ignored.
    assert list(paused.subscription.actions) == ["created"]

    refiltered = await subs.UpdateEventSubscription(
        update(update_filters=True, resource_types=["pipeline"], projects=["web", "api"]),
        metadata=world.auth("bob"),
    )
    sub = refiltered.subscription
    assert sub.status == "paused"  # untouched: status not set
    assert (list(sub.resource_types), list(sub.actions)) == (["pipeline"], [])
    assert list(sub.projects) == ["web", "api"]
    assert sub.updated_at >= paused.subscription.updated_at

    cleared = await subs.UpdateEventSubscription(
        update(update_filters=True, status="active"), metadata=world.auth("bob")
    )
    assert cleared.subscription.status == "active"
    assert (
        list(cleared.subscription.projects) == []
        and list(cleared.subscription.resource_types) == []
    )

    invalid = await refused(
        subs.UpdateEventSubscription(update(status="deleted"), metadata=world.auth("bob"))
    )
    assert invalid.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'active' or 'paused'" in (invalid.details() or "")
    ghost = await refused(
        subs.UpdateEventSubscription(
            update(update_filters=True, projects=["ghost"]), metadata=world.auth("bob")
        )
    )
    assert ghost.code() == grpc.StatusCode.NOT_FOUND

    listed = await subs.ListEventSubscriptions(
        events_pb2.ListEventSubscriptionsRequest(organisation="acme"), metadata=world.auth("carol")
    )
    assert [s.name for s in listed.subscriptions] == ["audit", "slack-bot"]

    delete = events_pb2.DeleteEventSubscriptionRequest(organisation="acme", name="audit")
    await subs.DeleteEventSubscription(delete, metadata=world.auth("bob"))
    gone = await refused(subs.DeleteEventSubscription(delete, metadata=world.auth("bob")))
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    listed = await subs.ListEventSubscriptions(
        events_pb2.ListEventSubscriptionsRequest(organisation="acme"), metadata=world.auth("bob")
    )
    assert [s.name for s in listed.subscriptions] == ["slack-bot"]

    other = await provision(db, org="globex", members={"mallory": "admin"})
    for call in [
        subs.ListEventSubscriptions(
            events_pb2.ListEventSubscriptionsRequest(organisation="acme"),
            metadata=other.auth("mallory"),
        ),
        subs.UpdateEventSubscription(update(status="paused"), metadata=other.auth("mallory")),
        subs.DeleteEventSubscription(
            events_pb2.DeleteEventSubscriptionRequest(organisation="acme", name="slack-bot"),
            metadata=other.auth("mallory"),
        ),
    ]:
        assert (await refused(call)).code() == grpc.StatusCode.PERMISSION_DENIED


async def test_durable_cursor_resumes_after_the_acknowledged_sequence(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    events: events_pb2_grpc.EventServiceStub,
    as_service: Callable[[], Metadata],
) -> None:
    await record(db, world, 2)  # before the subscription: never delivered
    sub = await create(subs, as_service())
    first = await record(db, world, 4)  # while the bot is not connected

    stream = durable(events, as_service())
    assert [e.sequence for e in await stream.take(4)] == first
    [live] = await record(db, world, action="updated")
    assert (await stream.next()).sequence == live
    assert await ack(events, as_service(), first[1]) == first[1]
    stream.cancel()

    # Reconnect: the replay starts right after the acknowledged sequence.
    stream = durable(events, as_service())
    assert [e.sequence for e in await stream.take(3)] == [*first[2:], live]
    # An older acknowledgement leaves the cursor where it is, and says where it is.
    assert await ack(events, as_service(), first[0]) == first[1]
    assert await ack(events, as_service(), live) == live
    assert await ack(events, as_service(), first[3]) == live
    stream.cancel()

    listed = await subs.ListEventSubscriptions(
        events_pb2.ListEventSubscriptionsRequest(organisation="acme"), metadata=as_service()
    )
    assert listed.subscriptions[0].cursor == live > sub.cursor
    stream = durable(events, as_service())
    [marker] = await record(db, world)  # the first delivered: nothing acknowledged comes again
    assert (await stream.next()).sequence == marker
    stream.cancel()


async def test_acknowledge_refusals(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    events: events_pb2_grpc.EventServiceStub,
) -> None:
    await create(subs, world.auth("bob"))
    [newest] = await record(db, world)
    for sequence in (0, -5, newest + 1000):
        error = await refused(ack(events, world.auth("bob"), sequence))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, sequence
    missing = await refused(ack(events, world.auth("bob"), newest, name="nope"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    other = await provision(db, org="globex", members={"mallory": "admin"})
    denied = await refused(ack(events, other.auth("mallory"), newest))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await ack(events, world.auth("bob"), newest) == newest


async def test_durable_applies_the_subscription_filters(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    events: events_pb2_grpc.EventServiceStub,
) -> None:
    web = await add_project(db, world, "web")
    await add_project(db, world, "docs")
    await create(
        subs,
        world.auth("bob"),
        projects=["api", "web"],
        resource_types=["release", "pipeline"],
        actions=["created", "completed"],
    )
    wanted: list[int] = []
    wanted += await record(db, world, resource_type="release", action="created")
    await record(db, world, resource_type="release", action="status_changed")
    await record(db, world, resource_type="policy", action="created")
    await record(db, world, resource_type="release", action="created", project="docs")
    wanted += await record(db, web, resource_type="pipeline", action="completed")
    await record(db, world, resource_type="release", action="created", project="")

    stream = durable(events, world.auth("bob"))
    assert [e.sequence for e in await stream.take(2)] == wanted
    # In order, so the next wanted event is delivered next: nothing filtered out came between.
    [marker] = await record(db, web, resource_type="pipeline", action="completed")
    assert (await stream.next()).sequence == marker
    stream.cancel()


async def test_paused_missing_and_foreign_subscriptions_are_refused(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    events: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
) -> None:
    await create(subs, world.auth("bob"))
    missing = await refused(durable(events, world.auth("bob"), name="nope"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    other = await provision(db, org="globex", members={"mallory": "admin"})
    denied = await refused(durable(events, other.auth("mallory")))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED

    # Pausing a subscription ends its open stream; a paused one cannot be opened.
    stream = durable(events, world.auth("bob"))
    await until_listening(forest_server, "acme")
    await subs.UpdateEventSubscription(
        events_pb2.UpdateEventSubscriptionRequest(
            organisation="acme", name="slack-bot", status="paused"
        ),
        metadata=world.auth("bob"),
    )
    await record(db, world)  # the nudge makes the stream look again
    ended = await stream.error()
    assert ended.code() == grpc.StatusCode.FAILED_PRECONDITION
    refused_paused = await refused(durable(events, world.auth("bob")))
    assert refused_paused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "paused" in (refused_paused.details() or "")


async def test_deleting_a_subscription_ends_its_stream(
    db: Database,
    world: World,
    subs: events_pb2_grpc.EventSubscriptionServiceStub,
    events: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
) -> None:
    await create(subs, world.auth("bob"))
    stream = durable(events, world.auth("bob"))
    await until_listening(forest_server, "acme")
    [sequence] = await record(db, world)
    assert (await stream.next()).sequence == sequence
    await subs.DeleteEventSubscription(
        events_pb2.DeleteEventSubscriptionRequest(organisation="acme", name="slack-bot"),
        metadata=world.auth("alice"),
    )
    await record(db, world)
    ended = await stream.error()
    assert ended.code() == grpc.StatusCode.NOT_FOUND
    assert "was deleted" in (ended.details() or "")
