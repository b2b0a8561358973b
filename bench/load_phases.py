"""The load bench's phases (bench/load.py runs them, for the real bot and the naive one): the
load (NATS signals, gRPC votes, Slack clicks) and what each phase measures."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import vote_latency  # noqa: E402
from load_system import (  # noqa: E402
    ENVIRONMENT,
    FIRST_PROJECT,
    ORGANISATION,
    REQUIRED_APPROVALS,
    LoadSystem,
    RealBot,
    Voter,
    rss_mb,
)

EVALUATE = "forest.intent.evaluate"


def approvals(count: int) -> str:
    """What a release message's gate shows (blocks/release.py)."""
    return f"approvals {count}/{REQUIRED_APPROVALS}"


# ---- the load ------------------------------------------------------------------------------------


async def at_rate(
    rate: float, duration: float, act: Callable[[int], Coroutine[Any, Any, None]]
) -> int:
    """act(k) as its own task on a steady schedule for `duration` seconds; waits for all of
    them; how many were started."""
    tasks: list[asyncio.Task[None]] = []
    first = time.perf_counter()
    for k in itertools.count():
        due = first + k / rate
        if due - first >= duration:
            break
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(act(k)))
    await asyncio.gather(*tasks)
    return len(tasks)


async def publish_signals(nats_url: str, intents: list[str], rate: float, duration: float) -> int:
    """`forest.intent.evaluate` for the intents in turn, `rate` a second: signals that change
    nothing a person can see (Forest holds the same state before and after)."""
    import nats

    if rate <= 0 or duration <= 0:
        return 0
    nc = await nats.connect(nats_url, name="bench-load-signals")
    try:

        async def one(k: int) -> None:
            await nc.publish(EVALUATE, intents[k % len(intents)].encode())

        sent = await at_rate(rate, duration, one)
        await nc.flush()
        return sent
    finally:
        await nc.close()


@dataclass
class VoteBook:
    """Who approved what (only this benchmark votes on these intents), so every vote it casts
    is an approval that raises the count a message shows. bench/vote_latency.py's votes go to
    bench/api and are not booked: the book never picks those intents."""

    system: LoadSystem
    approvers: dict[str, set[str]] = field(default_factory=dict)
    _next: int = 0

    def __post_init__(self) -> None:
        self.intents = [
            i
            for project, ids in self.system.seeded.projects.items()
            if project != FIRST_PROJECT
            for i in ids
        ]

    def pick(self) -> tuple[Voter, str]:
        """The next intent in turn that someone has not approved yet, and that someone."""
        for _ in range(len(self.intents)):
            intent = self.intents[self._next % len(self.intents)]
            self._next += 1
            done = self.approvers.setdefault(intent, set())
            for voter in self.system.seeded.voters:
                if voter.name not in done:
                    done.add(voter.name)
                    return voter, intent
        raise RuntimeError("every voter has approved every intent: run fewer votes")

    def pick_for(self, intent: str) -> Voter | None:
        """Someone who has not approved this intent yet (now booked as having), if any."""
        done = self.approvers.setdefault(intent, set())
        for voter in self.system.seeded.voters:
            if voter.name not in done:
                done.add(voter.name)
                return voter
        return None

    def count(self, intent: str) -> int:
        return len(self.approvers.get(intent, ()))


class Voting:
    """ExternalApproveRelease over real gRPC, as Forest's web UI votes."""

    def __init__(self, system: LoadSystem) -> None:
        import grpc

        from forest.v1 import policies_pb2_grpc

        self.system = system
        self.channel = grpc.aio.insecure_channel(system.seeded.address)
        self.stub = policies_pb2_grpc.PolicyServiceStub(self.channel)

    async def approve(self, voter: Voter, intent: str) -> int:
        """Cast it; the approvals count Forest answered."""
        from forest.v1 import policies_pb2, releases_pb2

        answer = await self.stub.ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=releases_pb2.Project(
                    organisation=ORGANISATION, project=self.system.seeded.project_of(intent)
                ),
                release_intent_id=intent,
                target_environment=ENVIRONMENT,
            ),
            metadata=(("authorization", f"Bearer {voter.token}"),),
            timeout=30,
        )
        return int(answer.state.current_approvals)

    async def close(self) -> None:
        await self.channel.close()


@dataclass
class Calls:
    """Slack calls the sandbox accepted in a window, against the visible changes they made."""

    posts: int
    updates: int
    visible_edits: int

    @classmethod
    def since(cls, system: LoadSystem, mark: tuple[int, int, int]) -> Calls:
        posts, updates, visible = system.channel.counts()
        return cls(posts - mark[0], updates - mark[1], visible - mark[2])

    @property
    def per_change(self) -> float:
        changes = self.posts + self.visible_edits
        calls = self.posts + self.updates
        return calls / changes if changes else (0.0 if calls == 0 else float("inf"))


# ---- (1, 2, 7) signal -> chat.update under 200 signals/s, calls, vote RPC ----------------------


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process so far, in seconds (/proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_name(pid: int) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(c.decode(errors="replace") for c in cmdline)
    for name in ("naive_bot", "bot.cli", "nats-server", "multiprocessing"):
        if name in text:
            return {"bot.cli": "bot", "naive_bot": "bot", "multiprocessing": "forestd"}.get(
                name, name
            )
    return "other"


def cpu_by_process() -> dict[str, float]:
    """CPU seconds so far of this process ("bench": the sandbox and the load) and of each of
    its children, by role: bot, forestd, nats-server."""
    me = os.getpid()
    out = {"bench": _proc_cpu(me)}
    for task in Path(f"/proc/{me}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError, ValueError):
                name = _proc_name(int(child))
                out[name] = out.get(name, 0.0) + _proc_cpu(int(child))
    return out


@dataclass
class LatencyRun:
    signals: int
    votes: int
    latencies_ms: list[float]  # vote returned -> its message shows the new count
    unseen: int  # votes whose message did not show them within the bound
    calls: Calls
    vote_rpc_ms: list[float]  # bench/vote_latency.py's votes meanwhile (bench/api)
    caught_up_s: float | None  # after the load stopped, until the bot had nothing left to do
    load: float
    cpu_share: dict[str, float] = field(default_factory=dict)  # CPUs used while the load ran


async def timed_votes(
    system: LoadSystem,
    book: VoteBook,
    voting: Voting,
    rate: float,
    duration: float,
    within: float,
    latencies: list[float],
) -> tuple[int, int]:
    """Approvals at `rate`/s, each timed from its RPC's return to its message showing the new
    count; (votes cast, votes never shown within `within`)."""
    unseen = 0

    async def one(_: int) -> None:
        nonlocal unseen
        voter, intent = book.pick()
        count = await voting.approve(voter, intent)
        returned = time.perf_counter()
        shown = await system.channel.wait_showing(system.messages[intent], approvals(count), within)
        if shown is None:
            unseen += 1
        else:
            latencies.append(max(0.0, shown - returned) * 1000)

    if rate <= 0:
        return 0, 0
    return await at_rate(rate, duration, one), unseen


async def latency_phase(
    system: LoadSystem,
    book: VoteBook,
    voting: Voting,
    *,
    duration: float,
    signal_rate: float,
    vote_rate: float,
    vote_rpc_pace_ms: float,
    within: float,
    drain_within: float,
) -> LatencyRun:
    mark = system.channel.counts()
    signals_before = await system.bot.signals()
    cpu_before, started = cpu_by_process(), time.perf_counter()
    latencies: list[float] = []
    rpc: list[float] = []
    api = system.seeded.projects[FIRST_PROJECT]
    fixture = vote_latency.Fixture(
        system.seeded.address, [v.token for v in system.seeded.voters], api
    )
    rpc_votes = int(duration * 1000 / (vote_rpc_pace_ms + 15)) if vote_rpc_pace_ms > 0 else 0

    async def rpc_sample() -> None:
        if rpc_votes:
            rpc.extend(
                await vote_latency._vote_latencies(fixture, rpc_votes, 0, 1, vote_rpc_pace_ms)
            )

    signals, (votes, unseen), _ = await asyncio.gather(
        publish_signals(system.nats_url, system.intents, signal_rate, duration),
        timed_votes(system, book, voting, vote_rate, duration, within, latencies),
        rpc_sample(),
    )
    load = _load()
    stopped = time.perf_counter()
    cpu_after = cpu_by_process()
    cpu_share = {
        name: round((cpu_after[name] - cpu_before.get(name, 0.0)) / (stopped - started), 2)
        for name in cpu_after
    }
    caught_up: float | None = None
    with contextlib.suppress(AssertionError):
        await system.bot.caught_up(signals_before + signals, drain_within)
        caught_up = time.perf_counter() - stopped
    return LatencyRun(
        signals,
        votes,
        latencies,
        unseen,
        Calls.since(system, mark),
        rpc,
        caught_up,
        load,
        cpu_share,
    )


# ---- (5) convergence with 30% of Slack calls answered 429 ---------------------------------------


@dataclass
class ConvergenceRun:
    messages: int
    converged: int  # messages at their final state when the wait ended
    converge_s: float | None  # from the last vote's return until every one was (None: never)
    rate_limited_fraction: float
    calls: Calls
    load: float

    @property
    def share(self) -> float:
        return self.converged / self.messages if self.messages else 0.0


async def convergence_phase(
    system: LoadSystem,
    book: VoteBook,
    voting: Voting,
    *,
    burst: int,
    fraction: float,
    retry_after: int,
    within: float,
) -> ConvergenceRun:
    faults = system.sandbox.faults
    faults.ratelimit_fraction = fraction
    faults.retry_after = retry_after
    faults.methods = frozenset({"chat.update", "chat.postMessage"})
    mark = system.channel.counts()
    final: dict[str, str] = {}  # ts -> what it must show in the end
    try:
        picks = [book.pick() for _ in range(burst)]
        sem = asyncio.Semaphore(4)

        async def vote(voter: Voter, intent: str) -> None:
            async with sem:
                count = await voting.approve(voter, intent)
            final[system.messages[intent]] = approvals(count)

        await asyncio.gather(*(vote(v, i) for v, i in picks))
        last_vote = time.perf_counter()

        shown = await asyncio.gather(
            *(system.channel.wait_showing(ts, text, within) for ts, text in final.items())
        )
        done = sum(1 for at in shown if at is not None)
        converge_s = (
            max(0.0, max(at for at in shown if at is not None) - last_vote)
            if done == len(final) and shown
            else None
        )
    finally:
        faults.ratelimit_fraction = 0.0
        faults.methods = frozenset()
    return ConvergenceRun(
        len(final), done, converge_s, fraction, Calls.since(system, mark), _load()
    )


# ---- (3) the clicked message under Slack's real chat.update budget ------------------------------


@dataclass
class ClickedRun:
    backlog: int  # messages waiting for an update when the clicks came
    clicks: int
    latencies_ms: list[float]  # click sent -> the message shows the click's vote
    unseen: int
    how: str  # "Slack click" (real bot) or "gRPC vote" (naive: it answers no clicks)
    load: float


async def clicked_phase(
    system: LoadSystem,
    book: VoteBook,
    voting: Voting,
    *,
    backlog: int,
    clicks: int,
    within: float,
) -> ClickedRun:
    from blocks import ids
    from sandbox.throttle import SLACK_TIERS

    system.sandbox.rate_limits.limits = dict(SLACK_TIERS)
    system.sandbox.rate_limits.reset()
    picks = [book.pick() for _ in range(backlog)]
    sem = asyncio.Semaphore(4)

    async def vote(voter: Voter, intent: str) -> None:
        async with sem:
            await voting.approve(voter, intent)

    await asyncio.gather(*(vote(v, i) for v, i in picks))
    # the clicked ones: the last voted on (their updates wait behind the others)
    clicked: list[tuple[Voter, str]] = []
    for _, intent in reversed(picks):
        if len(clicked) >= clicks:
            break
        if (voter := book.pick_for(intent)) is not None:
            clicked.append((voter, intent))
    latencies: list[float] = []
    unseen = 0
    real = isinstance(system.bot, RealBot)

    async def click(k: int) -> None:
        nonlocal unseen
        voter, intent = clicked[k]
        ts = system.messages[intent]
        showing = approvals(book.count(intent))
        started = time.perf_counter()
        if real:
            ack = await system.sandbox.driver.click(
                voter.name, message=system.channel.message(ts), action_id=ids.ACTION_APPROVE
            )
            if not ack.ok:
                raise RuntimeError(f"click not acked: {ack.error or ack.status}")
        else:
            await voting.approve(voter, intent)
        shown = await system.channel.wait_showing(ts, showing, within)
        if shown is None:
            unseen += 1
        else:
            latencies.append((shown - started) * 1000)

    await at_rate(1.0, len(clicked), click)
    return ClickedRun(
        backlog,
        len(clicked),
        latencies,
        unseen,
        "Slack click" if real else "gRPC vote",
        _load(),
    )


# ---- (6) RSS with 10,000 tracked messages and the start-up reconciliation ----------------------


@dataclass
class RestartRun:
    tracked: int  # message rows in the bot's store
    open_messages: int
    rss_before_mb: float  # the bot with only the open messages, before the restart
    healthy_s: float  # start -> /healthz 200 and Socket Mode connected
    reconciled_s: float  # start -> every project refreshed and nothing left to do
    rss_mb: float
    slack_calls: Calls  # made by the restart (every message already showed its state)
    load: float


async def seed_finished_rows(system: LoadSystem, count: int) -> None:
    """`count` rows of finished releases in the bot's store (the bot's own model), as a bot
    that has followed these projects for a long time holds: they need no Forest read."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from bot.store.models import ReleaseMessage
    from forestd.db.engine import make_engine

    team = system.sandbox.workspace.app.team_id
    projects = list(system.seeded.projects)
    now = datetime.now(UTC)
    rows = [
        {
            "intent_id": str(uuid.uuid4()),
            "channel_id": system.channel.channel_id,
            "team_id": team,
            "organisation": ORGANISATION,
            "project": projects[k % len(projects)],
            "ts": f"{1_600_000_000 + k}.000100",
            "digest": "0" * 64,
            "version": 1,
            "finished": True,
            "claimed_at": now,
        }
        for k in range(count)
    ]
    engine = make_engine(system.bot_database_url)
    try:
        async with engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                await conn.execute(insert(ReleaseMessage), rows[start : start + 1000])
    finally:
        await engine.dispose()


async def restart_phase(
    system: LoadSystem, tracked: int, chat_updates_per_minute: int
) -> RestartRun:
    """Stop the bot, seed the finished rows, start it paced at chat_updates_per_minute."""
    assert isinstance(system.bot, RealBot)
    rss_before = rss_mb(system.bot.pid)
    open_messages = len(system.messages)
    await system.stop_real_bot()
    await seed_finished_rows(system, max(0, tracked - open_messages))
    mark = system.channel.counts()
    started = time.perf_counter()
    await system.start_real_bot(chat_updates_per_minute)
    healthy = time.perf_counter() - started
    bot = system.bot
    assert isinstance(bot, RealBot)
    projects = len(system.seeded.projects)

    async def refreshed() -> float:
        return await bot.sample("forest_bot_refresh_seconds_count")

    from load_system import SETUP_WITHIN, poll_until

    await poll_until(refreshed, lambda n: n >= projects, SETUP_WITHIN)
    await bot.caught_up(0, SETUP_WITHIN)
    reconciled = time.perf_counter() - started
    return RestartRun(
        tracked,
        open_messages,
        rss_before,
        healthy,
        reconciled,
        rss_mb(bot.pid),
        Calls.since(system, mark),
        _load(),
    )


def _load() -> float:
    import os

    return round(os.getloadavg()[0], 2)


def figures(latencies_ms: list[float]) -> dict[str, Any]:
    import common

    ordered = sorted(latencies_ms)
    if not ordered:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(ordered),
        "p50": common.percentile(ordered, 0.5),
        "p99": common.percentile(ordered, 0.99),
        "max": ordered[-1],
    }
