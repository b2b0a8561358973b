"""Where "something may have changed" comes from: core NATS, Forest's durable event stream, and a
periodic reconciliation. Every signal goes to the refresher; none carries state.

Core NATS is at-most-once (a nudge lost while disconnected is gone), so a reconnection triggers
a reconciliation, and the durable EventService stream (cursor acknowledged after handling) covers
what NATS missed. Forest sends no event for a vote or an awaiting plan: `forest.intent.evaluate`
and the reconciliation cover those.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bot.forest_client import ForestClient, ForestError
from bot.metrics import Metrics
from bot.refresher import Refresher
from bot.store import Store
from forest.v1 import events_pb2

log = logging.getLogger(__name__)

QUEUE_GROUP = "forest-slack"
_EVALUATE = "forest.intent.evaluate"
_STATUS = "forest.release.status.>"
_EVENTS = "forest.events.>"
# Event resource types that change nothing a release message shows.
_NOT_SHOWN = frozenset({"artifact", "destination", "environment", "trigger", "member"})


def _intent_id(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def _completion(data: bytes) -> str | None:
    """The intent's final status from a `forest.release.status.{intent}` payload that says the
    intent completed (`{"pipeline_complete": true, "intent_status": ...}`), else None."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("pipeline_complete") is not True:
        return None
    status = payload.get("intent_status")
    return status if isinstance(status, str) else None


class NatsSignals:
    """Core NATS subjects, in a queue group so replicas share them."""

    def __init__(
        self, url: str, refresher: Refresher, metrics: Metrics, events: EventStream
    ) -> None:
        self._url = url
        self._refresher = refresher
        self._metrics = metrics
        self._events = events
        self._nc: NatsClient | None = None
        self._stopping = False

    async def start(self, connect_timeout: float = 5.0) -> None:
        async def reconnected() -> None:
            log.info("NATS reconnected: reconciling open messages")
            await self._refresher.reconcile()

        async def disconnected() -> None:
            if self._stopping:
                return
            log.warning("NATS disconnected: updates rely on Forest's event stream until it is back")

        async def error(exc: Exception) -> None:
            log.warning("NATS: %s", exc)

        self._nc = await asyncio.wait_for(
            nats.connect(
                self._url,
                name="forest-slack",
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                reconnected_cb=reconnected,
                disconnected_cb=disconnected,
                error_cb=error,
                allow_reconnect=True,
            ),
            connect_timeout,
        )
        await self._nc.subscribe(_EVALUATE, queue=QUEUE_GROUP, cb=self._on_intent)
        await self._nc.subscribe(_STATUS, queue=QUEUE_GROUP, cb=self._on_status)
        await self._nc.subscribe(_EVENTS, queue=QUEUE_GROUP, cb=self._on_events)
        await self._nc.flush()

    async def stop(self) -> None:
        self._stopping = True
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            self._nc = None

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def _on_intent(self, msg: Msg) -> None:
        intent_id = _intent_id(msg.data.decode("utf-8", "replace"))
        if intent_id is None:
            log.warning(
                "ignored %s: the payload is not an intent id (%d bytes: %.60r)",
                msg.subject,
                len(msg.data),
                msg.data[:60],
            )
            return
        self._metrics.signals.labels("nats").inc()
        self._refresher.nudge_intent(intent_id)

    async def _on_status(self, msg: Msg) -> None:
        intent_id = _intent_id(msg.subject.rsplit(".", 1)[-1])
        if intent_id is None:
            log.warning("ignored %.200s: the subject names no intent id", msg.subject)
            return
        self._metrics.signals.labels("nats").inc()
        status = _completion(msg.data)
        if status is not None:
            await self._refresher.settle(intent_id, status)
        self._refresher.nudge_intent(intent_id)

    async def _on_events(self, msg: Msg) -> None:
        organisation = msg.subject.removeprefix("forest.events.")
        if not organisation or "." in organisation:
            log.warning("ignored %.200s: the subject names no organisation", msg.subject)
            return
        self._metrics.signals.labels("nats").inc()
        # An empty nudge: the org's event stream delivers the event itself, with its intent.
        # Only without a live stream is the whole organisation re-read.
        if not self._events.live(organisation):
            self._refresher.nudge_organisation(organisation)


class EventStream:
    """Forest's durable EventService subscription, one per followed organisation."""

    def __init__(
        self,
        forest: ForestClient,
        store: Store,
        refresher: Refresher,
        metrics: Metrics,
        subscription_name: str,
    ) -> None:
        self._forest = forest
        self._store = store
        self._refresher = refresher
        self._metrics = metrics
        self._name = subscription_name
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._live: set[str] = set()

    def live(self, organisation: str) -> bool:
        """The organisation's durable stream is open (it will deliver what NATS nudges for)."""
        return organisation in self._live

    async def sync_organisations(self) -> None:
        """One stream per organisation that has a subscription; stop the others."""
        wanted = {s.organisation for s in await self._store.all_subscriptions()}
        for organisation in wanted - self._streams.keys():
            self._streams[organisation] = asyncio.create_task(
                self._follow(organisation), name=f"events-{organisation}"
            )
        for organisation in self._streams.keys() - wanted:
            self._streams.pop(organisation).cancel()

    async def stop(self) -> None:
        tasks = list(self._streams.values())
        self._streams.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, organisation: str) -> None:
        delay = 1.0
        while True:
            try:
                await self._forest.ensure_event_subscription(organisation, self._name)
                self._live.add(organisation)
                async for event in self._forest.durable_events(organisation, self._name):
                    delay = 1.0
                    self._metrics.signals.labels("events").inc()
                    await self._handle(organisation, event)
                    await self._forest.ack_events(organisation, self._name, event.sequence)
                    await self._store.save_event_cursor(organisation, self._name, event.sequence)
            except asyncio.CancelledError:
                self._live.discard(organisation)
                raise
            except ForestError as exc:
                log.warning("event stream of %s: %s; again in %.0f s", organisation, exc, delay)
            except Exception:
                log.exception("event stream of %s failed; again in %.0f s", organisation, delay)
            self._live.discard(organisation)  # NATS org nudges re-read everything meanwhile
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _handle(self, organisation: str, event: events_pb2.OrgEvent) -> None:
        """Nudge the intent an event is about, else its project; some events touch no message."""
        if event.resource_type in _NOT_SHOWN:
            return
        if not event.project:
            self._refresher.nudge_organisation(organisation)
            return
        intent_id = event.metadata.get("intent_id") or (
            event.resource_id
            if event.resource_type in ("release", "pipeline") and event.action != "status_changed"
            else ""
        )
        intent = _intent_id(intent_id) if intent_id else None
        status = event.metadata.get("pipeline_status")
        if intent is not None and event.resource_type == "pipeline" and status:
            await self._refresher.settle(intent, status)
        self._refresher.nudge(organisation, event.project, intent)


async def reconcile_forever(refresher: Refresher, events: EventStream, every: float) -> None:
    """Re-read every followed project now and then: a lost signal delays an update, no more."""
    while True:
        try:
            await events.sync_organisations()
            await refresher.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconciliation failed")
        await asyncio.sleep(every)
