"""Handler work still running after its ack, so a stopping bot finishes it instead of dropping
a click it already acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


WORK_SLOTS = 8  # votes worked on at once after their ack


class InFlight:
    def __init__(self, slots: int = WORK_SLOTS) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(slots)

    def bounded(self) -> asyncio.Semaphore:
        """`async with inflight.bounded():` around a handler's work after its ack. Under a burst
        the clicks queue here instead of in the event loop, so every ack still goes out at once
        (Slack wants it within 3 s; the answer may follow later)."""
        return self._slots

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def drain(self, within: float) -> int:
        """Wait for tracked work; returns how many were still running at the timeout."""
        pending = {t for t in self._tasks if t is not asyncio.current_task()}
        if not pending:
            return 0
        _, left = await asyncio.wait(pending, timeout=within)
        if left:
            log.warning("stopping with %d Slack request(s) still being handled", len(left))
        return len(left)


S = TypeVar("S")


def tracked(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Decorate a handler method (of a class holding `_ctx: BotContext`): its whole run, after
    the ack too, counts as in flight."""

    @functools.wraps(method)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        inflight: InFlight = self._ctx.inflight  # type: ignore[attr-defined]
        async with inflight.track():
            return await method(self, *args, **kwargs)

    return wrapper
