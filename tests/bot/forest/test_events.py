"""The EventService durable stream: a subscription, its events after a release, the cursor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
import pytest

from bot.forest import ForestClient, ForestError
from forest.v1 import events_pb2, events_pb2_grpc
from forestd.seed import DemoSeed
from forestd.server import ForestServer
from sandbox.testing import eventually

from .conftest import ORG, PROJECT, SERVICE_TOKEN, release

NAME = "forest-slack"


class Reader:
    """Reads a durable stream in a task, keeping what arrived."""

    def __init__(self, client: ForestClient, name: str = NAME) -> None:
        self.events: list[events_pb2.OrgEvent] = []
        self.task = asyncio.create_task(self._read(client, name))

    async def _read(self, client: ForestClient, name: str) -> None:
        async for event in client.durable_events(ORG, name):
            self.events.append(event)

    async def first(self, resource_type: str, action: str, resource_id: str) -> events_pb2.OrgEvent:
        async def seen() -> events_pb2.OrgEvent | None:
            if self.task.done():
                self.task.result()  # raises what ended the stream
            return next(
                (
                    e
                    for e in self.events
                    if (e.resource_type, e.action, e.resource_id)
                    == (resource_type, action, resource_id)
                ),
                None,
            )

        return await eventually(seen)

    async def stop(self) -> None:
        """Cancel the reading task (a stream that already ended has said why in the test)."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ForestError):
            await self.task


@pytest.fixture
async def reader(demo: DemoSeed, client: ForestClient) -> AsyncIterator[Reader]:
    await client.ensure_event_subscription(ORG, NAME, [PROJECT])
    reader = Reader(client)
    try:
        yield reader
    finally:
        await reader.stop()


async def cursor(server: ForestServer, name: str = NAME) -> int:
    async with grpc.aio.insecure_channel(server.address) as channel:
        listing = await events_pb2_grpc.EventSubscriptionServiceStub(
            channel
        ).ListEventSubscriptions(
            events_pb2.ListEventSubscriptionsRequest(organisation=ORG),
            metadata=(("authorization", f"Bearer {SERVICE_TOKEN}"),),
            timeout=10,
        )
    return next(s.cursor for s in listing.subscriptions if s.name == name)


async def test_ensuring_twice_keeps_one_subscription(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    await client.ensure_event_subscription(ORG, NAME, [PROJECT])
    before = await cursor(forestd)
    await client.ensure_event_subscription(ORG, NAME)
    assert await cursor(forestd) == before


async def test_a_release_arrives_and_ack_moves_the_cursor(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient, reader: Reader
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    created = await reader.first("release", "created", intent_id)
    assert created.project == PROJECT
    assert created.sequence > await cursor(forestd)

    await client.ack_events(ORG, NAME, created.sequence)
    assert await cursor(forestd) == created.sequence

    # a new stream starts after the acknowledged event
    again = Reader(client)
    try:
        later = await eventually(lambda: _first_of(again))
        assert later.sequence > created.sequence
    finally:
        await again.stop()


async def _first_of(reader: Reader) -> events_pb2.OrgEvent | None:
    if reader.task.done():
        reader.task.result()
    return reader.events[0] if reader.events else None


async def test_an_unknown_subscription_is_not_found(demo: DemoSeed, client: ForestClient) -> None:
    with pytest.raises(ForestError) as caught:
        async for _ in client.durable_events(ORG, "never-created"):
            pass
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


async def test_closing_the_client_ends_the_stream_as_unreachable(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient, reader: Reader
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await reader.first("release", "created", intent_id)  # the stream is open

    await client.close()

    with pytest.raises(ForestError) as caught:
        await reader.task
    assert caught.value.unreachable
    with pytest.raises(ForestError) as again:
        async for _ in client.durable_events(ORG, NAME):
            pass
    assert again.value.unreachable


async def test_breaking_out_cancels_the_call(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    await client.ensure_event_subscription(ORG, NAME, [PROJECT])
    _, intent_id = await release(forestd, demo.tokens["bob"])
    stream = client.durable_events(ORG, NAME)
    async for event in stream:
        if event.resource_id == intent_id:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    # the channel stays usable after the stream went away
    assert await client.project_exists(ORG, PROJECT)


async def test_cancelling_the_reading_task_is_a_cancellation(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient, reader: Reader
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await reader.first("release", "created", intent_id)

    reader.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader.task
    assert reader.task.cancelled()
    assert await client.project_exists(ORG, PROJECT)
