"""Helpers for the event log tests: write events, read streams (each read bounded only so a hung
test fails), count the event log's reads."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from forest.v1 import events_pb2
from forestd import event_log
from forestd.db.models import OrgEvent
from forestd.event_feed import feed_for
from forestd.server import ForestServer
from forestd.uow import Database
from sandbox.testing import eventually

from .factories import World

Metadata = tuple[tuple[str, str], ...]
# Only bounds a hung test: a read that waits this long has failed, however slow the machine.
READ_TIMEOUT = 60.0


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

    def nothing_delivered(self) -> bool:
        """Whether the stream has delivered nothing that was not read yet."""
        return self._queue.empty()

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
    await eventually(
        lambda: feed.listening(organisation) >= streams, READ_TIMEOUT, what="the streams listening"
    )


class ReadCounter:
    """Counts the event log's reads (each pass of a stream over the log calls `settled` once),
    so a test can wait for a stream to look again instead of sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        real = event_log.settled

        async def counted(*args: Any, **kwargs: Any) -> list[OrgEvent]:
            rows = await real(*args, **kwargs)
            self.count += 1
            return rows

        monkeypatch.setattr(event_log, "settled", counted)

    async def more(self, passes: int) -> None:
        """Wait until the log has been read `passes` more times."""
        target = self.count + passes
        await eventually(lambda: self.count >= target, READ_TIMEOUT, what=f"{passes} more reads")


async def refused(call: Any) -> grpc.aio.AioRpcError:
    """The error of a unary call, or of a stream that must fail before sending anything."""
    if isinstance(call, Stream):
        return await call.error()
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call was not refused")
