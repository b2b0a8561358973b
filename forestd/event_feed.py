"""One notifier per server that wakes the open event streams of an organisation.

The feed subscribes once to `forest.events.>` (the empty nudge published after every
org_events commit) and sets the wake-up flag of every stream listening to that organisation;
there is never one NATS subscription per stream. A stream also wakes on its own timer, so a lost
nudge (core NATS is at-most-once) only delays delivery: the database is the source of truth.

Usage by a stream:

    async with feed.listen(org) as listener:
        while True:
            listener.arm()                   # before reading, so no nudge is lost
            ...read and send new rows...
            await listener.wait(seconds)     # True: nudged; False: timer or feed stopped
            if listener.closed: break
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from .bus import Bus, org_events_subject

if TYPE_CHECKING:
    from .server import ForestServer

log = logging.getLogger(__name__)

EVENTS_WILDCARD = org_events_subject(">")
_PREFIX = org_events_subject("")


class Listener:
    """One stream's wake-up flag for one organisation."""

    def __init__(self, feed: EventFeed, organisation: str):
        self.organisation = organisation
        self._feed = feed
        self._flag = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._feed.stopped

    def arm(self) -> None:
        """Forget past nudges: call it before reading, so a nudge during the read counts."""
        self._flag.clear()

    def wake(self) -> None:
        self._flag.set()

    async def wait(self, seconds: float) -> bool:
        """Until nudged (True), or `seconds` pass or the feed stops (False)."""
        if self.closed:
            return False
        try:
            await asyncio.wait_for(self._flag.wait(), seconds)
        except TimeoutError:
            return False
        return not self.closed


class EventFeed:
    """Fans `forest.events.{org}` nudges out to the listeners of each organisation.

    `start()` subscribes (idempotent; `listen()` starts the feed on first use, so it works
    whether or not the server runs it as a component); `stop()` wakes every listener with
    `closed` set, so streams end at once instead of waiting for the gRPC grace period.
    """

    def __init__(self, bus: Bus):
        self._bus = bus
        self._listeners: dict[str, set[Listener]] = {}
        self._started = False
        self._start_lock = asyncio.Lock()
        self.stopped = False
        self.nudges = 0

    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            await self._bus.subscribe(EVENTS_WILDCARD, self._on_nudge)
            self._started = True
            self.stopped = False

    async def stop(self) -> None:
        self.stopped = True
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.wake()

    def listening(self, organisation: str) -> int:
        """How many streams currently listen to the organisation."""
        return len(self._listeners.get(organisation, ()))

    @asynccontextmanager
    async def listen(self, organisation: str) -> AsyncIterator[Listener]:
        await self.start()
        listener = Listener(self, organisation)
        self._listeners.setdefault(organisation, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(organisation)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[organisation]

    def notify(self, organisation: str) -> None:
        """Wake every stream of the organisation."""
        for listener in self._listeners.get(organisation, ()):
            listener.wake()

    async def _on_nudge(self, subject: str, _data: bytes) -> None:
        if not subject.startswith(_PREFIX):
            return
        self.nudges += 1
        self.notify(subject.removeprefix(_PREFIX))


_FEEDS: weakref.WeakKeyDictionary[Bus, EventFeed] = weakref.WeakKeyDictionary()


def feed_for(bus: Bus) -> EventFeed:
    """The one feed of the server that owns `bus` (created on first use)."""
    feed = _FEEDS.get(bus)
    if feed is None:
        feed = _FEEDS[bus] = EventFeed(bus)
    return feed


class FeedComponent:
    """The server component form of the feed: subscribes at start-up, and at shutdown ends every
    open stream at once (UNAVAILABLE, "reconnect") instead of leaving it to the gRPC grace."""

    def __init__(self, server: ForestServer):
        self._server = server

    def _feed(self) -> EventFeed:
        if self._server.ctx is None:
            raise RuntimeError("the server has not started")
        return feed_for(self._server.ctx.bus)

    async def start(self) -> None:
        await self._feed().start()

    async def stop(self) -> None:
        if self._server.ctx is not None:
            await self._feed().stop()


def attach(server: ForestServer) -> None:
    """Add the event feed to a server's components (before start). Optional: without it the
    feed starts with the first stream, and streams end by cancellation after the grace."""
    server.components.append(FeedComponent(server))
