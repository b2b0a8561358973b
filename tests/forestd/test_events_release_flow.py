"""The bot's view of a release through the event log: a durable subscription follows a pipeline
release driven by the real ReleaseService, coordinator and runner (real gRPC, NATS, SQLite and
PostgreSQL), including a reconnect in the middle that resumes after the acknowledged event."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from forest.v1 import events_pb2, events_pb2_grpc, releases_pb2
from forestd.server import ForestServer

from .events_helpers import Metadata, Stream, until_listening
from .factories import World, provision
from .releases_helpers import (
    Stubs,
    create_pipeline,
    release,
)


async def events_until(
    stream: Stream, done: Callable[[events_pb2.OrgEvent], bool]
) -> list[events_pb2.OrgEvent]:
    seen: list[events_pb2.OrgEvent] = []
    while not seen or not done(seen[-1]):
        seen.append(await stream.next())
    return seen


def about(intent_id: str, events: list[events_pb2.OrgEvent]) -> list[tuple[str, str, str]]:
    """(resource_type, action, the status it carries) of the events about one intent."""
    return [
        (
            e.resource_type,
            e.action,
            e.metadata.get("stage_status")
            or e.metadata.get("pipeline_status")
            or e.metadata.get("status", ""),
        )
        for e in events
        if e.resource_id == intent_id or e.metadata.get("intent_id") == intent_id
    ]


async def test_a_durable_subscription_follows_a_pipeline_release(
    rpc: Stubs, release_world: World, machine: ForestServer, as_service: Callable[[], Metadata]
) -> None:
    subs = events_pb2_grpc.EventSubscriptionServiceStub(rpc.channel)
    events = events_pb2_grpc.EventServiceStub(rpc.channel)
    await subs.CreateEventSubscription(
        events_pb2.CreateEventSubscriptionRequest(
            organisation="acme", name="slack-bot", resource_types=["release", "pipeline"]
        ),
        metadata=as_service(),
    )
    request = events_pb2.SubscribeDurableRequest(organisation="acme", subscription_name="slack-bot")
    stream = Stream(events.SubscribeDurable(request, metadata=as_service()))
    await until_listening(machine, "acme")
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world, "bob")

    def awaiting_plan(e: events_pb2.OrgEvent) -> bool:
        return e.action == "stage_changed" and e.metadata.get("stage_status") == "AWAITING_APPROVAL"

    first = await events_until(stream, awaiting_plan)
    assert first[0].resource_type == "release" and first[0].action == "created"
    assert first[0].resource_id == intent_id
    assert first[-1].metadata["stage_id"] == "plan-production"
    assert ("pipeline", "stage_changed", "SUCCEEDED") in about(intent_id, first)

    # The bot acknowledges what it handled, disconnects, and the release goes on meanwhile.
    await events.AcknowledgeEvents(
        events_pb2.AcknowledgeEventsRequest(
            organisation="acme", subscription_name="slack-bot", sequence=first[-1].sequence
        ),
        metadata=as_service(),
    )
    stream.cancel()
    await rpc.releases.ApprovePlanStage(
        releases_pb2.ApprovePlanStageRequest(
            release_intent_id=intent_id, stage_id="plan-production"
        ),
        metadata=release_world.auth("carol"),
    )

    stream = Stream(events.SubscribeDurable(request, metadata=as_service()))
    rest = await events_until(stream, lambda e: e.action == "completed")
    assert rest[0].sequence > first[-1].sequence  # resumed right after the acknowledged event
    assert {e.resource_type for e in first + rest} <= {"release", "pipeline"}
    assert about(intent_id, rest)[-1] == ("pipeline", "completed", "SUCCEEDED")
    sequences = [e.sequence for e in first + rest]
    assert sequences == sorted(set(sequences))
    stream.cancel()

    other = await provision(rpc.db, org="globex", members={"mallory": "admin"})
    denied = Stream(events.SubscribeDurable(request, metadata=other.auth("mallory")))
    assert (await denied.error()).code() == grpc.StatusCode.PERMISSION_DENIED
