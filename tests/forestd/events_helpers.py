"""Helpers for the event log tests: write events, read streams with deadlines."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from forest.v1 import events_pb2
from forestd.event_feed import feed_for
from forestd.server import ForestServer
from forestd.uow import Database

from .factories import World

Metadata = tuple[tuple[str, str], ...]
READ_TIMEOUT = 5.0


async def record(
    db: Database,
    world: World,
    count: int = 1,
    *,
    resource_type: str = "release",
    action: str = "created",
    project: str | None = None,
    organisation: str | None = None,
) -> list[int]:
    """`count` events committed in one transaction (one nudge); their sequences."""
    async with db.transaction() as uow:
        rows = [
            uow.record_event(
                organisation or world.org_name,
                resource_type,
                action,
                f"resource-{i}",
                project=world.project_name if project is None else project,
                metadata={"n": str(i), "kind": resource_type},
            )
            for i in range(count)
        ]
        await uow.session.flush()
        return [row.sequence for row in rows]


class Stream:
    """A server stream read by a background task, so a read can time out without cancelling
    the call (cancelling `call.read()` cancels the RPC)."""

    def __init__(self, call: Any):
        self.call = call
        self._queue: asyncio.Queue[events_pb2.OrgEvent | BaseException | None] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for message in self.call:
                self._queue.put_nowait(message)
            self._queue.put_nowait(None)
        except BaseException as exc:
            self._queue.put_nowait(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def next(self, within: float = READ_TIMEOUT) -> events_pb2.OrgEvent:
        item = await asyncio.wait_for(self._queue.get(), within)
        if isinstance(item, BaseException):
            raise item
        assert item is not None, "the stream ended"
        return item

    async def take(self, count: int, within: float = READ_TIMEOUT) -> list[events_pb2.OrgEvent]:
        return [await self.next(within) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> None:
        """Assert that the stream delivers nothing for `seconds`."""
        try:
            item = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected: {item}")

    async def error(self, within: float = READ_TIMEOUT) -> grpc.aio.AioRpcError:
        """The status the stream ended with (after any events still queued)."""
        while True:
            item = await asyncio.wait_for(self._queue.get(), within)
            if isinstance(item, grpc.aio.AioRpcError):
                return item
            if item is None:
                raise AssertionError("the stream ended without an error")

    def cancel(self) -> None:
        self.call.cancel()
        self._task.cancel()


async def until_listening(server: ForestServer, organisation: str, streams: int = 1) -> None:
    """Wait until `streams` streams of the organisation are live: their starting point is fixed
    (a stream computes it before it listens), so any event committed now reaches them."""
    assert server.ctx is not None
    feed = feed_for(server.ctx.bus)
    deadline = time.monotonic() + READ_TIMEOUT
    while feed.listening(organisation) < streams:
        assert time.monotonic() < deadline, "the stream never started listening"
        await asyncio.sleep(0.01)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    """The error of a unary call, or of a stream that must fail before sending anything."""
    if isinstance(call, Stream):
        return await call.error()
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call was not refused")
