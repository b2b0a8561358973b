"""The one refresher: every signal says "this project (or intent) may have changed", nothing more.

Signals (NATS nudges, EventService events, clicks, reconciliation) call `nudge`. Work is kept per
project, latest wins: a burst of signals for one project becomes one pending entry, refreshed by
one worker at a time, and across replicas by one replica at a time (a lease in the database), so
at most one refresh is in flight per message. A pass reads the project once from Forest (at most
`PASS_LIMIT` releases, clicked and finished ones first; the rest is queued again), renders each
affected release and keeps it as the message's *outgoing* state (latest wins), then sends the
outgoing states in priority order while Slack's budget allows, calling Slack only where the
rendered payload's hash differs from what the message shows. What the budget does not allow yet
stays outgoing and is sent by a later pass without reading Forest again. Failures re-queue the
work with a delay instead of dropping it: the final state always lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from blocks.digest import payload_digest
from blocks.from_forest import release_from_forest
from blocks.kit import Message
from blocks.model import Outcome, Release
from blocks.release import release_message
from blocks.text import parse_time
from bot.channel_gone import drop_gone_channel
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
MessageKey = tuple[str, str]  # intent id, channel id
PASS_LIMIT = 50  # releases read per pass: bounds how long a clicked release can wait behind others
_RETRY_FIRST = 1.0
_RETRY_MAX = 30.0
LEASE_SECONDS = 30.0
_LEASE_BUSY_RETRY = 0.2
_OUTCOMES = {
    "SUCCEEDED": Outcome.SUCCEEDED,
    "FAILED": Outcome.FAILED,
    "CANCELLED": Outcome.CANCELLED,
}  # another replica is refreshing the project: look again shortly


@dataclass
class _Work:
    """What to do for one project: read these intents (or every one), then send what is ready.
    Empty work only sends what is outgoing (a budget or Retry-After wait ended)."""

    intents: set[str] = field(default_factory=set)
    urgent: set[str] = field(default_factory=set)  # clicked: read and sent before the others
    everything: bool = False
    queued_at: float = field(default_factory=time.monotonic)
    failures: int = 0

    def merge(self, other: _Work) -> None:
        self.intents |= other.intents
        self.urgent |= other.urgent
        self.everything |= other.everything
        self.queued_at = min(self.queued_at, other.queued_at)
        self.failures = max(self.failures, other.failures)


class _Targets(NamedTuple):
    """Where one release's message may need a post or an update, and whether it has ended."""

    channels: list[tuple[SubscriptionRow, MessageRow | None]]
    finished: bool


@dataclass
class _Outgoing:
    """The state a message should show next, rendered from one read of Forest."""

    release: Release
    subscription: SubscriptionRow
    rendered: Message
    digest: str
    version: int
    urgent: bool  # clicked, or finished: sent before the others and may use Slack's reserve
    state: bytes  # the Forest intent state it was rendered from (serialised)


class Refresher:
    def __init__(
        self,
        *,
        store: Store,
        reader: ReleaseReader,
        plans: PlanPoster,
        slack: SlackGateway,
        metrics: Metrics,
        holder: str,
        workers: int = 4,
    ) -> None:
        self._store = store
        self._reader = reader
        self._plans = plans
        self._slack = slack
        self._metrics = metrics
        self._holder = holder  # this replica's name on leases
        self._workers = workers
        self._pending: dict[ProjectKey, _Work] = {}
        self._in_flight: set[ProjectKey] = set()
        self._outgoing: dict[ProjectKey, dict[MessageKey, _Outgoing]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._where: dict[str, ProjectKey] = {}  # intent id -> project, learnt from reads
        self._unrecorded: dict[MessageKey, str] = {}  # posted, but the database was unreachable

    # -- signals -----------------------------------------------------------------------------

    def nudge(
        self,
        organisation: str,
        project: str,
        intent_id: str | None = None,
        *,
        urgent: bool = False,
    ) -> None:
        """Something in this project (this intent, when given) may have changed; `urgent`: a
        person is looking at this intent's message right now (they clicked it)."""
        intents = {intent_id} if intent_id else set()
        work = _Work(intents=intents, urgent=intents if urgent else set(), everything=not intent_id)
        self._enqueue((organisation, project), work)

    def nudge_intent(self, intent_id: str) -> None:
        """An intent id with no project (core NATS): resolve it, else re-read every project."""
        key = self._where.get(intent_id)
        if key is not None:
            self.nudge(*key, intent_id)
            return
        self._spawn(self._nudge_unknown(intent_id))

    def nudge_organisation(self, organisation: str) -> None:
        self._spawn(self._nudge_subscribed(organisation))

    async def reconcile(self) -> int:
        """Re-read every subscribed project; returns how many were queued."""
        return await self._nudge_subscribed(None)

    def outgoing(self) -> int:
        """How many messages have a newer state waiting for Slack's budget."""
        return sum(len(messages) for messages in self._outgoing.values())

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

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

    def _forget_task(self, task: asyncio.Task[Any]) -> None:
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
                if self._slack.revoked:  # said once by the gateway; /healthz fails
                    log.debug("not refreshing %s/%s: Slack revoked the bot token", *key)
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
        lease = "refresh:{}/{}".format(*key)
        if not await self._store.take_lease(lease, self._holder, LEASE_SECONDS):
            # another replica is refreshing this project; it may have read before our signal's
            # change, so ours must still run after it
            self._enqueue_later(_LEASE_BUSY_RETRY, key, work)
            return
        try:
            if work.everything or work.intents:
                await self._read(key, work)
            await self._send(key, work.failures)
        finally:
            try:
                await self._store.drop_lease(lease, self._holder)
            except Exception as exc:  # it expires on its own
                log.warning("lease %s not dropped: %s", lease, exc)

    async def _read(self, key: ProjectKey, work: _Work) -> None:
        """Read the wanted releases from Forest and keep what each message should show next."""
        organisation, project = key
        subscriptions = await self._store.subscriptions_for_project(organisation, project)
        if not subscriptions:
            self._outgoing.pop(key, None)
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
        settled = await self._settled_off_page(listing.intents, open_ids | work.intents)
        lost = open_ids - listing.intents.keys()
        if lost:  # ended off Forest's page with no completion signal seen: outcome unknowable
            log.warning(
                "%d open message(s) of %s/%s: intent no longer listed by Forest",
                len(lost),
                organisation,
                project,
            )
        wanted = listing.intents.keys() if work.everything else work.intents
        plans = await self._targets(
            [listing.intents[i] for i in wanted if i in listing.intents], subscriptions
        )
        order = sorted(plans, key=lambda i: (i not in work.urgent, not plans[i].finished, i))
        now, later = order[:PASS_LIMIT], order[PASS_LIMIT:]
        if later:
            self._enqueue(key, _Work(intents=set(later), urgent=work.urgent & set(later)))
        by_team: dict[str, list[str]] = {}
        for intent_id in now:
            team_id = plans[intent_id].channels[0][0].team_id
            by_team.setdefault(team_id, []).append(intent_id)
        releases: dict[str, Release] = {}
        for team_id, intent_ids in by_team.items():
            releases.update(await self._reader.releases(listing, intent_ids, team_id))
        outgoing = self._outgoing.setdefault(key, {})
        for intent_id in now:
            release = releases.get(intent_id)
            if release is None:
                continue
            if intent_id in settled:
                release = replace(release, outcome=settled[intent_id])
            rendered = release_message(release)
            digest = payload_digest(dict(rendered))
            state = listing.intents[intent_id].SerializeToString()
            urgent = intent_id in work.urgent or release.finished
            for subscription, row in plans[intent_id].channels:
                message_key = (intent_id, subscription.channel_id)
                if row is not None and row.ts is not None and row.digest == digest:
                    outgoing.pop(message_key, None)  # it shows this already: nothing to send
                    continue
                outgoing[message_key] = _Outgoing(
                    release, subscription, rendered, digest, version, urgent, state
                )

    async def settle(self, intent_id: str, status: str) -> None:
        """Forest signalled that an intent ended with `status` (SUCCEEDED, FAILED, CANCELLED).

        Kept where a message showed the intent: if the intent has fallen off Forest's page of 50
        by the time it is read, its message shows its last shown state with this outcome."""
        if status.upper() in _OUTCOMES:
            await self._store.settle_shown_state(intent_id, status.upper())

    async def _settled_off_page(
        self, listed: dict[str, releases_pb2.ReleaseIntentState], wanted: set[str]
    ) -> dict[str, Outcome]:
        """Intents no longer listed whose end Forest signalled: listed again from their last
        shown state, so their message can show the outcome."""
        settled: dict[str, Outcome] = {}
        for intent_id, (raw, status) in (
            await self._store.ended_states(wanted - listed.keys())
        ).items():
            listed[intent_id] = releases_pb2.ReleaseIntentState.FromString(raw)
            settled[intent_id] = _OUTCOMES[status]
        return settled

    async def _targets(
        self,
        intents: list[releases_pb2.ReleaseIntentState],
        subscriptions: list[SubscriptionRow],
    ) -> dict[str, _Targets]:
        """Per intent, the channels whose message may need a post or an update, and whether
        the release has finished (pure, cheap: no evaluations needed to know if it ended)."""
        rows: dict[MessageKey, MessageRow] = {
            (r.intent_id, r.channel_id): r
            for r in await self._store.messages_for_intents([i.release_intent_id for i in intents])
        }
        out: dict[str, _Targets] = {}
        for intent in intents:
            intent_id = intent.release_intent_id
            created = parse_time(intent.created_at)
            finished = release_from_forest(intent, organisation="").finished
            channels: list[tuple[SubscriptionRow, MessageRow | None]] = []
            for subscription in _one_per_channel(subscriptions, intent_environments(intent)):
                row = rows.get((intent_id, subscription.channel_id))
                if row is not None:
                    if not row.finished:
                        channels.append((subscription, row))
                    continue
                recent = created is not None and created >= subscription.created_at
                if not finished or recent:
                    channels.append((subscription, None))
            if channels:
                out[intent_id] = _Targets(channels, finished)
        return out

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, key: ProjectKey, failures: int) -> None:
        """Send outgoing states, clicked and finished first, while Slack's budget allows."""
        outgoing = self._outgoing.get(key)
        if not outgoing:
            return
        waits: list[float] = []
        failed: set[str] = set()
        background_blocked = False
        for message_key, item in sorted(
            outgoing.items(), key=lambda kv: (not kv[1].urgent, kv[1].version)
        ):
            if background_blocked and not item.urgent:
                continue
            try:
                await self._sync_one(item)
            except RateLimited as exc:
                waits.append(exc.retry_after)
                if item.urgent:
                    break  # nothing more may go now
                background_blocked = True
                continue
            except ChannelGone as exc:
                await self._channel_gone(key, item.subscription, exc)
            except AuthRevoked:
                raise
            except Exception as exc:  # one bad message must not hold up the others
                log.warning(
                    "message of %s in %s not synced: %s",
                    item.release.intent_id,
                    item.subscription.channel_id,
                    exc,
                    extra={"intent_id": item.release.intent_id},
                )
                failed.add(item.release.intent_id)
            outgoing.pop(message_key, None)
        if not outgoing:
            self._outgoing.pop(key, None)
        self._metrics.outgoing.set(self.outgoing())
        if waits:
            self._enqueue_later(min(waits), key, _Work())
        if failed:
            retry = _Work(intents=failed, failures=failures + 1)
            self._enqueue_later(min(_RETRY_MAX, _RETRY_FIRST * 2**failures), key, retry)

    async def _channel_gone(
        self, key: ProjectKey, subscription: SubscriptionRow, exc: ChannelGone
    ) -> None:
        channel = subscription.channel_id
        await drop_gone_channel(self._store, self._slack, subscription.team_id, channel, exc.error)
        for message_key in [k for k in self._outgoing.get(key, {}) if k[1] == channel]:
            self._outgoing[key].pop(message_key, None)

    async def _sync_one(self, item: _Outgoing) -> None:
        """Bring one message to the item's state (unless it already shows it or newer)."""
        release, channel = item.release, item.subscription.channel_id
        row = await self._store.message(release.intent_id, channel)  # fresh: replicas share it
        ts = await self._post_or_update(item, row)
        if ts is None:
            return
        if release.finished:
            await self._store.forget_shown_state(release.intent_id)
        else:
            await self._store.remember_shown_state(release.intent_id, item.state)
        if release.awaiting_plans:
            await self._plans.post_awaiting(release, channel, ts)

    async def _post_or_update(self, item: _Outgoing, row: MessageRow | None) -> str | None:
        """Bring one message to `rendered`; returns its ts (None when another replica posts)."""
        release, subscription = item.release, item.subscription
        channel, intent_id = subscription.channel_id, release.intent_id
        posted = self._unrecorded.get((intent_id, channel))
        if posted is not None and (row is None or row.ts is None):
            # our post reached Slack but its record did not reach the database: record it now
            # (the claim is still ours) and bring it up to date, instead of posting it again
            await self._store.record_post(intent_id, channel, posted, "", 0, False)
            row = await self._store.message(intent_id, channel)
        self._unrecorded.pop((intent_id, channel), None)
        if row is not None and row.ts is not None:
            if row.digest == item.digest or row.version > item.version:
                return row.ts
            try:
                await self._slack.update(channel, row.ts, item.rendered, urgent=item.urgent)
            except MessageGone:
                log.warning("message of %s in %s was deleted: posting it again", intent_id, channel)
                await self._store.forget_ts(intent_id, channel)
                return await self._post(item)
            await self._store.record_update(
                intent_id, channel, item.digest, item.version, release.finished
            )
            return row.ts
        claimed = await self._store.claim_message(
            intent_id, channel, subscription.team_id, release.organisation, release.project
        )
        if not claimed:
            return None
        return await self._post(item)

    async def _post(self, item: _Outgoing) -> str:
        release, channel = item.release, item.subscription.channel_id
        intent_id = release.intent_id
        try:
            ts = await self._slack.post(channel, item.rendered, urgent=item.urgent)
        except BaseException:
            await self._store.release_claim(intent_id, channel)
            raise
        self._unrecorded[(intent_id, channel)] = ts
        await self._store.record_post(
            intent_id, channel, ts, item.digest, item.version, release.finished
        )
        self._unrecorded.pop((intent_id, channel), None)
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
