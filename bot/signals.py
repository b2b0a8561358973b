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
import logging
import uuid

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bot.forest_client import ForestClient, ForestError
from bot.metrics import Metrics
from bot.refresher import Refresher
from bot.store import Store

log = logging.getLogger(__name__)

QUEUE_GROUP = "forest-slack"
_EVALUATE = "forest.intent.evaluate"
_STATUS = "forest.release.status.>"
_EVENTS = "forest.events.>"


def _intent_id(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


class NatsSignals:
    """Core NATS subjects, in a queue group so replicas share them."""

    def __init__(self, url: str, refresher: Refresher, metrics: Metrics) -> None:
        self._url = url
        self._refresher = refresher
        self._metrics = metrics
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
            log.warning("ignored %s with a payload that is not an intent id", msg.subject)
            return
        self._metrics.signals.labels("nats").inc()
        self._refresher.nudge_intent(intent_id)

    async def _on_status(self, msg: Msg) -> None:
        intent_id = _intent_id(msg.subject.rsplit(".", 1)[-1])
        if intent_id is None:
            return
        self._metrics.signals.labels("nats").inc()
        self._refresher.nudge_intent(intent_id)

    async def _on_events(self, msg: Msg) -> None:
        organisation = msg.subject.removeprefix("forest.events.")
        if not organisation or "." in organisation:
            return
        self._metrics.signals.labels("nats").inc()
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
                async for event in self._forest.durable_events(organisation, self._name):
                    delay = 1.0
                    self._metrics.signals.labels("events").inc()
                    if event.project:
                        self._refresher.nudge(event.organisation or organisation, event.project)
                    else:
                        self._refresher.nudge_organisation(organisation)
                    await self._forest.ack_events(organisation, self._name, event.sequence)
                    await self._store.save_event_cursor(organisation, self._name, event.sequence)
            except asyncio.CancelledError:
                raise
            except ForestError as exc:
                log.warning("event stream of %s: %s; again in %.0f s", organisation, exc, delay)
            except Exception:
                log.exception("event stream of %s failed; again in %.0f s", organisation, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


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
