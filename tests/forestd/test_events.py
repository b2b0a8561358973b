"""EventService.Subscribe through real gRPC and real NATS, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import delete

from forest.v1 import events_pb2, events_pb2_grpc, policies_pb2, policies_pb2_grpc
from forestd import event_log
from forestd.config import ForestSettings
from forestd.db.models import OrganisationMember, OrgEvent
from forestd.event_feed import attach, feed_for
from forestd.server import ForestServer
from forestd.services import events as events_service
from forestd.uow import Database
from sandbox.testing import eventually

from .events_helpers import Metadata, ReadCounter, Stream, record, refused, until_listening
from .factories import World, add_project, provision

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(channel)


def subscribe(
    stub: events_pb2_grpc.EventServiceStub, auth: Metadata, organisation: str = "acme", **kw: object
) -> Stream:
    request = events_pb2.SubscribeEventsRequest(organisation=organisation, **kw)  # type: ignore[arg-type]
    return Stream(stub.Subscribe(request, metadata=auth))


async def test_replay_after_a_sequence_then_live(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sequences = await record(db, world, 5)
    call = subscribe(stub, world.auth("bob"), since_sequence=sequences[1])
    replayed = await call.take(3)
    assert [e.sequence for e in replayed] == sequences[2:]
    first = replayed[0]
    assert first.organisation == "acme" and first.project == "api"
    assert (first.resource_type, first.action, first.resource_id) == (
        "release",
        "created",
        "resource-2",
    )
    assert dict(first.metadata) == {"n": "2", "kind": "release"}
    assert RFC3339_UTC.match(first.timestamp), first.timestamp
    assert len({e.event_id for e in replayed}) == 3

    # No poll falls due during the test: a live event can only arrive through the nudge
    # (delivery latency: bench/event_latency.py).
    monkeypatch.setattr(event_log, "POLL_SECONDS", 3600.0)
    [live] = await record(db, world, resource_type="pipeline", action="completed")
    event = await call.next()
    assert event.sequence == live and event.resource_type == "pipeline"
    call.cancel()


async def test_since_zero_delivers_only_new_events(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
) -> None:
    await record(db, world, 3)
    call = subscribe(stub, world.auth("carol"))
    await until_listening(forest_server, "acme")
    [new] = await record(db, world, action="updated")
    event = await call.next()
    assert (event.sequence, event.action) == (new, "updated")
    call.cancel()


async def test_each_single_commit_reaches_the_stream_in_order(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
) -> None:
    """Each event committed by its own transaction is pushed live (latency: bench/)."""
    call = subscribe(stub, world.auth("bob"))
    await until_listening(forest_server, "acme")
    for _ in range(20):
        [sequence] = await record(db, world)
        assert (await call.next()).sequence == sequence
    call.cancel()


async def test_filters_project_resource_types_and_actions(
    db: Database, world: World, stub: events_pb2_grpc.EventServiceStub
) -> None:
    web = await add_project(db, world, "web")
    start = (await record(db, world))[0] - 1
    await record(db, world, resource_type="release", action="created")
    await record(db, web, resource_type="pipeline", action="completed")
    [wanted_1] = await record(db, web, resource_type="release", action="created")
    await record(db, web, resource_type="release", action="status_changed")
    await record(db, world, resource_type="release", action="created", project="")
    [wanted_2] = await record(db, web, resource_type="policy", action="created")
    [org_level] = await record(db, world, resource_type="policy", action="created", project="")

    call = subscribe(
        stub,
        world.auth("bob"),
        project="web",
        resource_types=["release", "policy"],
        actions=["created"],
        since_sequence=start,
    )
    events = await call.take(2)
    assert [e.sequence for e in events] == [wanted_1, wanted_2]
    assert all(e.project == "web" for e in events)
    # In order, so the next wanted event is delivered next: nothing filtered out came between.
    [marker] = await record(db, web, resource_type="release", action="created")
    assert (await call.next()).sequence == marker
    call.cancel()

    every_policy = subscribe(
        stub, world.auth("bob"), resource_types=["policy"], since_sequence=start
    )
    events = await every_policy.take(2)
    assert [e.sequence for e in events] == [wanted_2, org_level]
    assert events[1].project == ""
    every_policy.cancel()


async def test_refusals(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    as_service: Callable[[], Metadata],
) -> None:
    other = await provision(db, org="globex", members={"mallory": "admin"})
    denied = await refused(subscribe(stub, other.auth("mallory"), organisation="acme"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not a member of organisation 'acme'" in (denied.details() or "")

    missing = await refused(subscribe(stub, world.auth("bob"), organisation="nope"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    no_org = await refused(subscribe(stub, world.auth("bob"), organisation=""))
    assert no_org.code() == grpc.StatusCode.INVALID_ARGUMENT
    negative = await refused(subscribe(stub, world.auth("bob"), since_sequence=-1))
    assert negative.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "since_sequence" in (negative.details() or "")
    project = await refused(subscribe(stub, world.auth("bob"), project="ghost"))
    assert project.code() == grpc.StatusCode.NOT_FOUND
    assert "acme/ghost" in (project.details() or "")
    blank = await refused(subscribe(stub, world.auth("bob"), actions=[""]))
    assert blank.code() == grpc.StatusCode.INVALID_ARGUMENT
    anonymous = await refused(subscribe(stub, (("authorization", "Bearer wrong"),)))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED

    # The service account (the bot) reads any organisation; it never sees another org's events.
    [mine] = await record(db, world)
    await record(db, other, 3)
    call = subscribe(stub, as_service(), since_sequence=mine - 1)
    assert (await call.next()).sequence == mine
    [marker] = await record(db, world)  # delivered next: globex's events were not
    assert (await call.next()).sequence == marker
    call.cancel()


async def test_thousands_replayed_in_order_without_gaps(
    db: Database, world: World, stub: events_pb2_grpc.EventServiceStub
) -> None:
    """2,000 events interleaved with another org's: replayed in batches, in order, exactly the
    organisation's own sequences (its numbers have gaps: the other org's events)."""
    other = await provision(db, org="globex", members={"mallory": "admin"})
    ours: list[int] = []
    for _ in range(20):
        ours += await record(db, world, 100)
        await record(db, other, 7)
    assert len(ours) == 2000 and 2 * event_log.BATCH < 2000
    call = subscribe(stub, world.auth("bob"), since_sequence=ours[0] - 1)
    received = [e.sequence for e in await call.take(2000)]  # speed: bench/event_latency.py
    assert received == ours
    [live] = await record(db, world)
    assert (await call.next()).sequence == live
    call.cancel()


async def test_a_lost_nudge_only_delays(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_log, "POLL_SECONDS", 0.3)
    call = subscribe(stub, world.auth("bob"))
    await until_listening(forest_server, "acme")
    # Committed without the unit of work: no forest.events.acme nudge is ever published.
    async with db.sessions() as session, session.begin():
        row = OrgEvent(
            organisation="acme", resource_type="release", action="created", resource_id="x"
        )
        session.add(row)
    event = await call.next()  # found by the next poll
    assert event.sequence == row.sequence
    call.cancel()


async def test_streams_share_one_notifier_and_leave_on_cancel(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
) -> None:
    calls = [subscribe(stub, world.auth(user)) for user in ("alice", "bob", "carol")]
    await until_listening(forest_server, "acme", streams=3)
    [sequence] = await record(db, world)
    for call in calls:
        assert (await call.next()).sequence == sequence
    for call in calls:
        call.cancel()
    assert forest_server.ctx is not None
    feed = feed_for(forest_server.ctx.bus)
    await eventually(lambda: feed.listening("acme") == 0, 60, what="the streams leaving")


async def test_a_removed_member_stops_receiving(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_service, "MEMBERSHIP_RECHECK_SECONDS", 0.0)  # at every batch
    call = subscribe(stub, world.auth("carol"))
    await until_listening(forest_server, "acme")
    [before] = await record(db, world)
    assert (await call.next()).sequence == before
    async with db.transaction() as uow:
        await uow.session.execute(
            delete(OrganisationMember).where(OrganisationMember.user_id == world.user_id("carol"))
        )
    await record(db, world)
    ended = await call.error()
    assert ended.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_events_from_policy_rpcs_arrive_live(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    channel: grpc.aio.Channel,
    forest_server: ForestServer,
) -> None:
    call = subscribe(stub, world.auth("bob"), resource_types=["policy"])
    await until_listening(forest_server, "acme")
    policies = policies_pb2_grpc.PolicyServiceStub(channel)
    await policies.CreatePolicy(
        policies_pb2.CreatePolicyRequest(
            project=world.project_msg(),
            name="two-approvals",
            policy_type=policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL,
            external_approval=policies_pb2.ExternalApprovalConfig(
                target_environment="production", required_approvals=2
            ),
        ),
        metadata=world.auth("alice"),
    )
    event = await call.next()
    assert (event.resource_type, event.action, event.project) == ("policy", "created", "api")
    assert event.metadata["name"] == "two-approvals"
    call.cancel()


async def test_the_stream_ends_when_the_server_stops(forest_settings: ForestSettings) -> None:
    server = ForestServer(forest_settings)
    await server.start()
    try:
        assert server.ctx is not None
        other_world = await provision(server.ctx.db, org="initech", members={"peter": "admin"})
        async with grpc.aio.insecure_channel(server.address) as ch:
            call = subscribe(
                events_pb2_grpc.EventServiceStub(ch),
                other_world.auth("peter"),
                organisation="initech",
            )
            await until_listening(server, "initech")
            await server.stop(grace=0.5)
            await call.error()
    finally:
        await server.stop(grace=0.1)


async def test_with_the_feed_attached_shutdown_ends_streams_at_once(
    forest_settings: ForestSettings,
) -> None:
    server = ForestServer(forest_settings)
    attach(server)
    await server.start()
    try:
        assert server.ctx is not None
        people = await provision(server.ctx.db, org="initech", members={"peter": "admin"})
        async with grpc.aio.insecure_channel(server.address) as ch:
            call = subscribe(
                events_pb2_grpc.EventServiceStub(ch), people.auth("peter"), organisation="initech"
            )
            await until_listening(server, "initech")
            # A grace far beyond the read's bound: the stream ends only if shutdown ends it
            # at once instead of waiting the grace out.
            stopping = asyncio.ensure_future(server.stop(grace=3600))
            ended = await call.error()
            assert ended.code() == grpc.StatusCode.UNAVAILABLE
            assert "reconnect" in (ended.details() or "")
            await stopping
    finally:
        await server.stop(grace=0.1)


@pytest.mark.postgres
async def test_a_later_commit_never_overtakes_an_earlier_sequence(
    db: Database,
    world: World,
    stub: events_pb2_grpc.EventServiceStub,
    forest_server: ForestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL hands out sequences at insert, not at commit: a stream must not deliver the
    later event (and move past the earlier one) while the earlier transaction is in flight."""
    if not db.engine.url.drivername.startswith("postgresql"):
        pytest.skip("SQLite serializes writers: sequences become visible in order")
    reads = ReadCounter(monkeypatch)
    call = subscribe(stub, world.auth("bob"))
    await until_listening(forest_server, "acme")
    async with db.transaction() as slow:
        [early] = [slow.record_event("acme", "release", "created", "slow")]
        await slow.session.flush()
        [late] = await record(db, world, action="updated")
        assert late > early.sequence
        await reads.more(3)  # the stream has looked at `late` while `early` is in flight
        assert call.nothing_delivered()
    events = await call.take(2)
    assert [e.sequence for e in events] == [early.sequence, late]
    call.cancel()


@pytest.mark.postgres
async def test_a_new_stream_does_not_start_past_an_in_flight_event(
    db: Database, world: World, stub: events_pb2_grpc.EventServiceStub, forest_server: ForestServer
) -> None:
    """since_sequence 0 starts at the newest event, but never past one still committing."""
    if not db.engine.url.drivername.startswith("postgresql"):
        pytest.skip("SQLite serializes writers: sequences become visible in order")
    async with db.transaction() as slow:
        early = slow.record_event("acme", "release", "created", "slow")
        await slow.session.flush()
        [late] = await record(db, world, action="updated")
        call = subscribe(stub, world.auth("bob"))
        await until_listening(forest_server, "acme")
    events = await call.take(2)
    assert [e.sequence for e in events] == [early.sequence, late]
    call.cancel()


async def test_without_nats_the_in_process_bus_wakes_streams(
    forest_settings: ForestSettings,
) -> None:
    server = ForestServer(forest_settings.model_copy(update={"nats_url": None}))
    await server.start()
    try:
        assert server.ctx is not None and not server.ctx.bus.connected
        people = await provision(server.ctx.db, org="initech", members={"peter": "admin"})
        async with grpc.aio.insecure_channel(server.address) as ch:
            call = subscribe(
                events_pb2_grpc.EventServiceStub(ch), people.auth("peter"), organisation="initech"
            )
            await until_listening(server, "initech")
            [sequence] = await record(server.ctx.db, people)
            assert (await call.next()).sequence == sequence
            call.cancel()
    finally:
        await server.stop(grace=0.1)
