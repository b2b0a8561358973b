"""The one refresher: every signal says "this project (or intent) may have changed", nothing more.

Signals (NATS nudges, EventService events, clicks, reconciliation) call `nudge`. Work is kept per
project, latest wins: a burst of signals for one project becomes one pending entry, refreshed by
one worker at a time (so at most one refresh is in flight per message), which reads the project
once from Forest, renders each affected release, and calls Slack only where the rendered payload's
hash differs from what the message shows. Failures re-queue the work with a delay instead of
dropping it, and a rate limit re-queues it at Retry-After: the final state always lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from blocks.digest import payload_digest
from blocks.from_forest import release_from_forest
from blocks.kit import Message
from blocks.model import Release
from blocks.release import release_message
from blocks.text import parse_time
from bot.forest_client import ForestError
from bot.metrics import Metrics
from bot.plan_poster import PlanPoster
from bot.release_reader import ReleaseReader, intent_environments
from bot.slack_errors import AuthRevoked, ChannelGone, MessageGone, RateLimited
from bot.slack_gateway import SlackGateway
from bot.store import MessageRow, Store, SubscriptionRow
from forest.v1 import releases_pb2

log = logging.getLogger(__name__)

ProjectKey = tuple[str, str]
_RETRY_FIRST = 1.0
_RETRY_MAX = 30.0


@dataclass
class _Work:
    intents: set[str] = field(default_factory=set)
    everything: bool = False
    urgent: bool = False
    queued_at: float = field(default_factory=time.monotonic)
    failures: int = 0

    def merge(self, other: _Work) -> None:
        self.intents |= other.intents
        self.everything |= other.everything
        self.urgent |= other.urgent
        self.queued_at = min(self.queued_at, other.queued_at)
        self.failures = max(self.failures, other.failures)


class Refresher:
    def __init__(
        self,
        *,
        store: Store,
        reader: ReleaseReader,
        plans: PlanPoster,
        slack: SlackGateway,
        metrics: Metrics,
        workers: int = 4,
    ) -> None:
        self._store = store
        self._reader = reader
        self._plans = plans
        self._slack = slack
        self._metrics = metrics
        self._workers = workers
        self._pending: dict[ProjectKey, _Work] = {}
        self._in_flight: set[ProjectKey] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._where: dict[str, ProjectKey] = {}  # intent id -> project, learnt from reads

    # -- signals -----------------------------------------------------------------------------

    def nudge(
        self,
        organisation: str,
        project: str,
        intent_id: str | None = None,
        *,
        urgent: bool = False,
    ) -> None:
        """Something in this project (this intent, when given) may have changed."""
        work = _Work(
            intents={intent_id} if intent_id else set(), everything=not intent_id, urgent=urgent
        )
        self._enqueue((organisation, project), work)

    def nudge_intent(self, intent_id: str, *, urgent: bool = False) -> None:
        """An intent id with no project (core NATS): resolve it, else re-read every project."""
        key = self._where.get(intent_id)
        if key is not None:
            self.nudge(*key, intent_id, urgent=urgent)
            return
        task = asyncio.get_running_loop().create_task(self._nudge_unknown(intent_id))
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    def nudge_organisation(self, organisation: str) -> None:
        task = asyncio.get_running_loop().create_task(self._nudge_organisation(organisation))
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    async def _nudge_organisation(self, organisation: str) -> None:
        await self._nudge_subscribed(organisation)

    async def reconcile(self) -> int:
        """Re-read every subscribed project; returns how many were queued."""
        return await self._nudge_subscribed(None)

    async def _nudge_unknown(self, intent_id: str) -> None:
        rows = await self._store.messages_for_intent(intent_id)
        if rows:
            self.nudge(rows[0].organisation, rows[0].project, intent_id)
        else:
            await self._nudge_subscribed(None)

    async def _nudge_subscribed(self, organisation: str | None) -> int:
        projects = {
            (s.organisation, s.project)
            for s in await self._store.all_subscriptions()
            if organisation is None or s.organisation == organisation
        }
        for org, project in projects:
            self.nudge(org, project)
        return len(projects)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("signal handling failed", exc_info=task.exception())

    def _enqueue(self, key: ProjectKey, work: _Work) -> None:
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = work
        else:
            pending.merge(work)
        self._metrics.queue_depth.set(len(self._pending))
        self._wake.set()

    def _enqueue_later(self, delay: float, key: ProjectKey, work: _Work) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._enqueue(key, work)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    # -- workers -----------------------------------------------------------------------------

    async def start(self) -> None:
        for n in range(self._workers):
            self._tasks.append(asyncio.create_task(self._run(), name=f"refresher-{n}"))

    async def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        tasks, self._tasks = list(self._tasks), []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _take(self) -> tuple[ProjectKey, _Work] | None:
        ready = [k for k in self._pending if k not in self._in_flight]
        if not ready:
            return None
        key = next((k for k in ready if self._pending[k].urgent), ready[0])
        work = self._pending.pop(key)
        self._in_flight.add(key)
        self._metrics.queue_depth.set(len(self._pending))
        return key, work

    async def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            key, work = taken
            try:
                if self._slack.revoked:
                    log.error("not refreshing %s/%s: Slack revoked the bot token", *key)
                    continue
                await self._refresh(key, work)
                self._metrics.refresh_seconds.observe(time.monotonic() - work.queued_at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                work.failures += 1
                delay = min(_RETRY_MAX, _RETRY_FIRST * 2 ** (work.failures - 1))
                if isinstance(exc, ForestError):
                    log.warning("refresh of %s/%s: %s; again in %.0f s", *key, exc, delay)
                else:
                    log.exception("refresh of %s/%s failed; again in %.0f s", *key, delay)
                self._enqueue_later(delay, key, work)
            finally:
                self._in_flight.discard(key)
                if key in self._pending:
                    self._wake.set()

    # -- one project -------------------------------------------------------------------------

    async def _refresh(self, key: ProjectKey, work: _Work) -> None:
        organisation, project = key
        subscriptions = await self._store.subscriptions_for_project(organisation, project)
        if not subscriptions:
            return
        version = time.time_ns() // 1000  # when this read started: newer reads win
        open_ids = (
            {r.intent_id for r in await self._store.open_messages(organisation, project)}
            if work.everything
            else set()
        )
        listing = await self._reader.listing(organisation, project, also=open_ids | work.intents)
        for intent_id in listing.intents:
            self._where[intent_id] = key
        wanted = listing.intents.keys() if work.everything else work.intents
        lost = open_ids - listing.intents.keys()
        if lost:  # finished while off Forest's 50-intent page: their final state is unknowable
            log.warning(
                "%d open message(s) of %s/%s: intent no longer listed by Forest",
                len(lost),
                organisation,
                project,
            )
        plans: dict[str, list[tuple[SubscriptionRow, MessageRow | None]]] = {}
        for intent_id in wanted:
            intent = listing.intents.get(intent_id)
            if intent is None:
                continue
            targets = await self._targets(intent, subscriptions)
            if targets:
                plans[intent_id] = targets
        if not plans:
            return
        by_team: dict[str, list[str]] = {}
        for intent_id, targets in plans.items():
            by_team.setdefault(targets[0][0].team_id, []).append(intent_id)
        releases: dict[str, Release] = {}
        for team_id, intent_ids in by_team.items():
            releases.update(await self._reader.releases(listing, intent_ids, team_id))
        failed: set[str] = set()
        for intent_id, targets in plans.items():
            release = releases.get(intent_id)
            if release is None:
                continue
            for subscription, row in targets:
                try:
                    await self._sync_one(key, release, subscription, row, version)
                except AuthRevoked:
                    raise
                except Exception as exc:  # one bad message must not hold up the others
                    log.warning(
                        "message of %s in %s not synced: %s",
                        intent_id,
                        subscription.channel_id,
                        exc,
                        extra={"intent_id": intent_id, "channel": subscription.channel_id},
                    )
                    failed.add(intent_id)
        if failed:
            retry = _Work(intents=failed, failures=work.failures + 1)
            self._enqueue_later(min(_RETRY_MAX, _RETRY_FIRST * 2**work.failures), key, retry)

    async def _targets(
        self, intent: releases_pb2.ReleaseIntentState, subscriptions: list[SubscriptionRow]
    ) -> list[tuple[SubscriptionRow, MessageRow | None]]:
        """The channels whose message for this intent may need a post or an update."""
        rows = {
            r.channel_id: r for r in await self._store.messages_for_intent(intent.release_intent_id)
        }
        environments = intent_environments(intent)
        created = parse_time(intent.created_at)
        finished: bool | None = None
        out: list[tuple[SubscriptionRow, MessageRow | None]] = []
        for subscription in _one_per_channel(subscriptions, environments):
            row = rows.get(subscription.channel_id)
            if row is not None:
                if not row.finished:
                    out.append((subscription, row))
                continue
            if finished is None:  # pure, cheap: no evaluations needed to know if it ended
                finished = release_from_forest(intent, organisation="").finished
            recent = created is not None and created >= subscription.created_at
            if not finished or recent:
                out.append((subscription, None))
        return out

    # -- one message -------------------------------------------------------------------------

    async def _sync_one(
        self,
        key: ProjectKey,
        release: Release,
        subscription: SubscriptionRow,
        row: MessageRow | None,
        version: int,
    ) -> None:
        channel = subscription.channel_id
        rendered = release_message(release)
        digest = payload_digest(dict(rendered))
        try:
            ts = await self._post_or_update(release, subscription, row, rendered, digest, version)
            if ts is not None and release.awaiting_plans:
                await self._plans.post_awaiting(release, channel, ts)
        except RateLimited as exc:
            self._enqueue_later(
                exc.retry_after, key, _Work(intents={release.intent_id}, urgent=True)
            )
        except ChannelGone as exc:
            removed = await self._store.remove_channel(subscription.team_id, channel)
            log.warning(
                "channel %s is gone (%s): dropped its %d subscription(s)",
                channel,
                exc.error,
                removed,
            )

    async def _post_or_update(
        self,
        release: Release,
        subscription: SubscriptionRow,
        row: MessageRow | None,
        rendered: Message,
        digest: str,
        version: int,
    ) -> str | None:
        """Bring one message to `rendered`; returns its ts (None when another replica posts)."""
        channel, intent_id = subscription.channel_id, release.intent_id
        if row is not None and row.ts is not None:
            if row.digest == digest or row.version > version:
                return row.ts
            try:
                await self._slack.update(channel, row.ts, rendered)
            except MessageGone:
                log.warning("message of %s in %s was deleted: posting it again", intent_id, channel)
                await self._store.forget_ts(intent_id, channel)
                return await self._post(release, subscription, rendered, digest, version)
            await self._store.record_update(intent_id, channel, digest, version, release.finished)
            return row.ts
        claimed = await self._store.claim_message(
            intent_id, channel, subscription.team_id, release.organisation, release.project
        )
        if not claimed:
            return None
        return await self._post(release, subscription, rendered, digest, version)

    async def _post(
        self,
        release: Release,
        subscription: SubscriptionRow,
        rendered: Message,
        digest: str,
        version: int,
    ) -> str:
        channel, intent_id = subscription.channel_id, release.intent_id
        try:
            ts = await self._slack.post(channel, rendered)
        except BaseException:
            await self._store.release_claim(intent_id, channel)
            raise
        await self._store.record_post(intent_id, channel, ts, digest, version, release.finished)
        log.info("posted release %s in %s", intent_id, channel, extra={"intent_id": intent_id})
        return ts


def _one_per_channel(
    subscriptions: Iterable[SubscriptionRow], environments: set[str]
) -> list[SubscriptionRow]:
    """Subscriptions whose environment filter matches, one per channel."""
    seen: dict[str, SubscriptionRow] = {}
    for subscription in subscriptions:
        if subscription.environment and subscription.environment not in environments:
            continue
        seen.setdefault(subscription.channel_id, subscription)
    return list(seen.values())
