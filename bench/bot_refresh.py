"""The bot's refresher: signal -> chat.update latency, Slack calls per visible change, and
signals that change nothing.

The system runs as in bench/bot_ack.py: the bot in its own process (forest-bot run, configured
by its environment; its Prometheus /metrics say when it has caught up), forestd on SQLite with
its coordinator and runner and the Slack sandbox in this process, a private nats-server; with
--in-process the bot runs in this process too. bob releases K commits through Forest's
pipeline; the soak before production is long, so every release stays open (staging deploys,
then the production plan and deploy wait for the soak). Once Forest has moved every release
as far as it goes and the bot has caught up with that:

(a) signal -> chat.update: carol and alice vote over real gRPC as Forest's web UI would
    (PolicyService ExternalApproveRelease with their own tokens), one vote at a time, over
    the K releases in turn: round 1 approves, round 2 rejects (ExternalRejectRelease), round 3
    approves again, and so on, so every vote changes what its message shows. Each vote is
    timed from the RPC's return to the first edit of its message whose blocks change and show
    the count the RPC answered ("approvals 1/2"). The sandbox's workspace reports each edit
    from inside its chat.update handler (it is in this process), so no polling delay is
    counted. Goal: p99 < 300 ms.
(b) Slack calls per visible change: chat.postMessage and chat.update calls the sandbox accepted,
    against the visible changes they made (a post, or an edit whose blocks differ from the
    version it replaced), while the K releases are posted and progress, and while the votes
    land. Goal: <= 1.05.
(c) signals that change nothing: N `forest.intent.evaluate` messages for the open intents
    (nats-py, at a steady rate), and every Slack call made until the bot has counted them all
    and finished every refresh they caused. Goal: 0.

    .venv/bin/python bench/bot_refresh.py                     # 20 releases, 2 rounds, 500 signals
    .venv/bin/python bench/bot_refresh.py --releases 5 --rounds 4 --signals 2000
    .venv/bin/python bench/bot_refresh.py --json
    .venv/bin/python bench/bot_refresh.py --in-process        # the bot in this process too

Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402
from bot_ack import (  # noqa: E402
    EVALUATE,
    FIGURE_HEADS,
    LONG_SOAK_SECONDS,
    SETUP_WITHIN,
    SIGNALS,
    BotHandle,
    CallLog,
    Figures,
    add_in_process_argument,
    emit,
    load_average,
    positive,
    release_messages,
    running_system,
    sandbox_of,
    say,
    until,
    where,
)

from bot.devsystem import DevSystem  # noqa: E402
from sandbox.records import Message  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402
from sandbox.testing import eventually  # noqa: E402

GOAL_UPDATE_P99_MS = 300.0
GOAL_CALLS_PER_CHANGE = 1.05
GOAL_IDLE_CALLS = 0
VOTERS = ("carol", "alice")  # bob is the author
ENVIRONMENT = "production"
VOTE_WITHIN = 30.0  # seconds for a vote to show


# ---- what the channel shows -------------------------------------------------------------------


@dataclass
class Change:
    at: float  # perf_counter
    ts: str
    blocks_changed: bool
    text_changed: bool
    shown: str  # the new blocks, as JSON


@dataclass
class ChangeLog:
    """Every post and edit in #deploys and its threads, as the workspace makes them (file
    shares are not posts: they come from the upload API, not chat.postMessage)."""

    sandbox: Sandbox
    channel_id: str
    changes: list[Change] = field(default_factory=list)
    posts: int = 0

    def __post_init__(self) -> None:
        self.sandbox.workspace.listeners.append(self._on_change)

    def close(self) -> None:
        self.sandbox.workspace.listeners.remove(self._on_change)

    def _on_change(self, event: dict[str, Any]) -> None:
        if event.get("channel") != self.channel_id:
            return
        message = self.sandbox.workspace.message(self.channel_id, str(event.get("ts")))
        if message is None:
            return
        if event.get("kind") == "message":
            self.posts += 0 if message.files else 1
        elif event.get("kind") == "message_changed" and message.edits:
            before = message.edits[-1]  # the version this edit replaced
            self.changes.append(
                Change(
                    time.perf_counter(),
                    message.ts,
                    before.blocks != message.blocks,
                    before.text != message.text,
                    json.dumps(message.blocks, ensure_ascii=False),
                )
            )

    def mark(self) -> tuple[int, int]:
        return len(self.changes), self.posts

    def visible_since(self, mark: tuple[int, int]) -> tuple[int, int, int]:
        """(posts, edits that changed the blocks, edits that changed only the text) since mark."""
        edits = self.changes[mark[0] :]
        return (
            self.posts - mark[1],
            sum(1 for c in edits if c.blocks_changed),
            sum(1 for c in edits if c.text_changed and not c.blocks_changed),
        )

    def next_visible_edit(self, ts: str, after: float, showing: str) -> float | None:
        """When the first edit of message ts after `after` that changed its blocks to blocks
        showing `showing` landed."""
        for change in self.changes:
            if (
                change.ts == ts
                and change.at >= after
                and change.blocks_changed
                and showing in change.shown
            ):
                return change.at
        return None

    async def wait_visible_edit(
        self, ts: str, after: float, showing: str, within: float
    ) -> float | None:
        """next_visible_edit, waiting for it up to `within` seconds; None if it never came."""
        with contextlib.suppress(AssertionError):
            await eventually(lambda: self.next_visible_edit(ts, after, showing) is not None, within)
        return self.next_visible_edit(ts, after, showing)


# ---- the bot's own figures ------------------------------------------------------------------


async def refreshes(bot: BotHandle) -> float:
    return await bot.sample("forest_bot_refresh_seconds_count")


async def caught_up(
    system: DevSystem, bot: BotHandle, intent_id: str, within: float = SETUP_WITHIN
) -> None:
    """Return once a refresh of the project that started after this call has finished, so
    every earlier refresh has too (the refresher runs one refresh per project at a time):
    the channel then shows what Forest held when this was called. Two nudges of our own for
    one of its intents: the queue empties once the first one's refresh has started; the
    second makes sure one more refresh finishes after that."""
    assert system.seed is not None
    project = (system.seed.organisation, system.seed.project)
    await bot.nudge(*project, intent_id)
    await until(lambda: bot.sample("forest_bot_refresh_queue_depth"), lambda n: n == 0, within)
    done = await refreshes(bot)
    await bot.nudge(*project, intent_id)
    await until(lambda: refreshes(bot), lambda n: n > done, within)


# ---- (b) calls per visible change --------------------------------------------------------------


@dataclass
class CallsPerChange:
    phase: str
    posts_called: int
    updates_called: int
    posts_seen: int
    blocks_changed: int
    text_only_changed: int

    @property
    def calls(self) -> int:
        return self.posts_called + self.updates_called

    @property
    def visible(self) -> int:
        return self.posts_seen + self.blocks_changed

    @property
    def ratio(self) -> float:
        return self.calls / self.visible if self.visible else float("inf")

    @property
    def ok(self) -> bool:
        return self.ratio <= GOAL_CALLS_PER_CHANGE


def calls_per_change(
    phase: str, calls: CallLog, changes: ChangeLog, mark: tuple[int, int]
) -> CallsPerChange:
    posts, blocks, text_only = changes.visible_since(mark)
    return CallsPerChange(
        phase,
        calls.count("chat.postMessage"),
        calls.count("chat.update"),
        posts,
        blocks,
        text_only,
    )


# ---- (a) votes ---------------------------------------------------------------------------------


@dataclass
class VoteRun:
    votes: int
    latency: Figures
    before_return: int  # votes whose edit landed before their RPC returned (counted as 0 ms)
    unseen: int  # votes whose edit never came within VOTE_WITHIN
    load: float

    @property
    def ok(self) -> bool:
        return self.latency.p99 < GOAL_UPDATE_P99_MS and self.unseen == 0


async def cast_votes(
    system: DevSystem, releases: Sequence[tuple[str, Message]], rounds: int, changes: ChangeLog
) -> VoteRun:
    import grpc

    from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2

    assert system.forest is not None and system.seed is not None
    project = releases_pb2.Project(
        organisation=system.seed.organisation, project=system.seed.project
    )
    latencies: list[float] = []
    before_return = unseen = 0
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        stub = policies_pb2_grpc.PolicyServiceStub(channel)
        for round_ in range(rounds):
            approve = round_ % 2 == 0
            for voter in VOTERS:
                metadata = (("authorization", f"Bearer {system.users[voter].token}"),)
                for intent_id, message in releases:
                    called = time.perf_counter()
                    if approve:
                        answer = await stub.ExternalApproveRelease(
                            policies_pb2.ExternalApproveReleaseRequest(
                                project=project,
                                release_intent_id=intent_id,
                                target_environment=ENVIRONMENT,
                            ),
                            metadata=metadata,
                            timeout=10,
                        )
                    else:
                        answer = await stub.ExternalRejectRelease(
                            policies_pb2.ExternalRejectReleaseRequest(
                                project=project,
                                release_intent_id=intent_id,
                                target_environment=ENVIRONMENT,
                            ),
                            metadata=metadata,
                            timeout=10,
                        )
                    returned = time.perf_counter()
                    # the new count, as the gate shows it ("approvals 1/2")
                    count = f"{answer.state.current_approvals}/{answer.state.required_approvals}"
                    shown = await changes.wait_visible_edit(message.ts, called, count, VOTE_WITHIN)
                    if shown is None:
                        unseen += 1
                        continue
                    if shown < returned:
                        before_return += 1
                    latencies.append(max(0.0, shown - returned) * 1000)
    return VoteRun(len(latencies), Figures.of(latencies), before_return, unseen, load_average())


# ---- (c) signals that change nothing -------------------------------------------------------------


@dataclass
class IdleRun:
    signals: int
    rate_per_s: float
    handled: int  # forest.intent.evaluate messages the bot counted
    refreshes: int  # project refreshes the bot completed meanwhile (with caught_up's 1-2)
    slack_calls: dict[str, int]
    load: float

    @property
    def total_calls(self) -> int:
        return sum(self.slack_calls.values())

    @property
    def ok(self) -> bool:
        return self.total_calls <= GOAL_IDLE_CALLS and self.handled >= self.signals


async def idle_signals(
    system: DevSystem,
    bot: BotHandle,
    intents: Sequence[str],
    count: int,
    rate: float,
    calls: CallLog,
) -> IdleRun:
    import nats

    async def handled() -> float:
        return await bot.sample(SIGNALS, {"source": "nats"})

    handled_before, refreshed_before = await handled(), await refreshes(bot)
    nc = await nats.connect(system.nats_url, name="bench-bot-refresh")
    try:
        first = time.perf_counter()
        for k in range(count):
            delay = first + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await nc.publish(EVALUATE, intents[k % len(intents)].encode())
        sent = time.perf_counter() - first
        await nc.flush()
    finally:
        await nc.close()
    with_grace = SETUP_WITHIN + count / rate
    with contextlib.suppress(AssertionError):  # reported as fewer handled than sent
        await until(handled, lambda n: n - handled_before >= count, with_grace)
    handled_after = await handled()  # before caught_up's own signals (when the bot is a child)
    await caught_up(system, bot, intents[0], with_grace)
    made: dict[str, int] = {}
    for name, _ in calls.since():
        made[name] = made.get(name, 0) + 1
    return IdleRun(
        signals=count,
        rate_per_s=(count - 1) / sent if sent > 0 else float("inf"),
        handled=int(handled_after - handled_before),
        refreshes=int(await refreshes(bot) - refreshed_before),
        slack_calls=made,
        load=load_average(),
    )


# ---- the run ----------------------------------------------------------------------------------


async def settled(system: DevSystem, bot: BotHandle, intents: Sequence[str]) -> None:
    """Every release has gone as far as it can (Forest: staging deployed, no stage active; the
    soak holds the rest), and the bot has caught up with that."""
    import grpc

    from forest.v1 import releases_pb2, releases_pb2_grpc

    assert system.forest is not None and system.seed is not None
    request = releases_pb2.GetReleaseIntentStatesRequest(
        organisation=system.seed.organisation, project=system.seed.project, include_completed=True
    )
    metadata = (("authorization", f"Bearer {system.service_token}"),)
    succeeded = releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED
    active = releases_pb2.PIPELINE_RUN_STAGE_STATUS_ACTIVE

    def still(state: releases_pb2.ReleaseIntentState | None) -> bool:
        statuses = {stage.status for stage in state.stages} if state is not None else set()
        return succeeded not in statuses or active in statuses

    deadline = time.monotonic() + SETUP_WITHIN
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        stub = releases_pb2_grpc.ReleaseServiceStub(channel)
        while True:
            reply = await stub.GetReleaseIntentStates(request, metadata=metadata, timeout=10)
            states = {s.release_intent_id: s for s in reply.release_intents}
            if not any(still(states.get(i)) for i in intents):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"releases still moving after {SETUP_WITHIN:.0f} s")
            await asyncio.sleep(0.1)
    await caught_up(system, bot, intents[0])


@dataclass
class RefreshRun:
    releases: int
    votes: VoteRun
    per_change: list[CallsPerChange]
    idle: IdleRun

    @property
    def ok(self) -> bool:
        return self.votes.ok and all(p.ok for p in self.per_change) and self.idle.ok


async def measure(args: argparse.Namespace) -> RefreshRun:
    running = running_system(args.mode, soak_seconds=LONG_SOAK_SECONDS, in_process=args.in_process)
    async with running as (system, bot):
        sandbox = sandbox_of(system)
        channel = sandbox.workspace.channel("deploys")
        assert channel is not None
        changes = ChangeLog(sandbox, channel.id)
        try:
            calls = CallLog(sandbox.web_api.calls)
            mark = changes.mark()
            releases = await release_messages(system, args.releases)
            intents = [intent_id for intent_id, _ in releases]
            await settled(system, bot, intents)
            posting = calls_per_change("releases", calls, changes, mark)
            say(args.json, f"{len(releases)} releases posted and held by the soak")

            calls, mark = CallLog(sandbox.web_api.calls), changes.mark()
            votes = await cast_votes(system, releases, args.rounds, changes)
            await caught_up(system, bot, intents[0])
            voting = calls_per_change("votes", calls, changes, mark)
            say(args.json, f"{votes.votes} votes shown")

            calls = CallLog(sandbox.web_api.calls)
            idle = await idle_signals(system, bot, intents, args.signals, args.signal_rate, calls)
        finally:
            changes.close()
    return RefreshRun(len(releases), votes, [posting, voting], idle)


def _table(run: RefreshRun, rounds: int) -> list[str]:
    v, i = run.votes, run.idle
    lines = [
        f"(a) signal -> chat.update   {'votes':>5} {FIGURE_HEADS} (ms)",
        f"    {run.releases} releases, {rounds} rounds {v.votes:>5} {v.latency.cells()}  "
        f"before return={v.before_return} unseen={v.unseen}  "
        f"{common.verdict(v.ok, GOAL_UPDATE_P99_MS)}  load {v.load:.1f}",
        f"(b) Slack calls per visible change (goal <= {GOAL_CALLS_PER_CHANGE})",
        f"    {'phase':<9} {'postMessage':>11} {'update':>6} {'posts':>5} {'edits':>5} "
        f"{'text-only':>9} {'ratio':>6}",
    ]
    for p in run.per_change:
        lines.append(
            f"    {p.phase:<9} {p.posts_called:>11} {p.updates_called:>6} {p.posts_seen:>5} "
            f"{p.blocks_changed:>5} {p.text_only_changed:>9} {p.ratio:>6.3f}  "
            f"{'OK' if p.ok else 'OVER'}"
        )
    calls = ", ".join(f"{k} {n}" for k, n in sorted(i.slack_calls.items())) or "none"
    lines += [
        f"(c) signals that change nothing (goal {GOAL_IDLE_CALLS} Slack calls)",
        f"    {i.signals} {EVALUATE} at {i.rate_per_s:.0f}/s: handled {i.handled}, "
        f"refreshes {i.refreshes}, Slack calls: {calls}  {'OK' if i.ok else 'OVER'}  "
        f"load {i.load:.1f}",
    ]
    return lines


async def run(args: argparse.Namespace) -> bool:
    say(
        args.json,
        f"bot refresh: {args.releases} open releases, votes by {' and '.join(VOTERS)} over gRPC "
        f"({args.rounds} rounds), {args.signals} {EVALUATE} at {args.signal_rate:g}/s; "
        f"{args.mode} mode, {where(args.in_process)}; Slack rate limits off; "
        f"{os.cpu_count()} CPUs",
    )
    result = await measure(args)
    emit(
        args.json,
        _table(result, args.rounds),
        {
            "goals": {
                "update_p99_ms": GOAL_UPDATE_P99_MS,
                "calls_per_change": GOAL_CALLS_PER_CHANGE,
                "idle_calls": GOAL_IDLE_CALLS,
            },
            "mode": args.mode,
            "in_process": args.in_process,
            "releases": result.releases,
            "rounds": args.rounds,
            "votes": {**asdict(result.votes), "ok": result.votes.ok},
            "calls_per_change": [
                {**asdict(p), "calls": p.calls, "visible": p.visible, "ratio": p.ratio, "ok": p.ok}
                for p in result.per_change
            ],
            "idle": {**asdict(result.idle), "ok": result.idle.ok},
        },
    )
    return result.ok


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
    parser.add_argument(
        "--releases",
        type=positive(int),
        default=20,
        help="open releases, one message each (default 20)",
    )
    parser.add_argument(
        "--rounds",
        type=positive(int),
        default=2,
        help="vote rounds: approve, reject, approve... (default 2)",
    )
    parser.add_argument(
        "--signals",
        type=positive(int),
        default=500,
        help=f"{EVALUATE} messages to publish (default 500)",
    )
    parser.add_argument(
        "--signal-rate",
        type=positive(float),
        default=100.0,
        help="of those per second (default 100)",
    )
    parser.add_argument(
        "--mode",
        choices=("http", "socket"),
        default="socket",
        help="how Slack reaches the bot (default socket; no clicks here)",
    )
    add_in_process_argument(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON (progress goes to stderr)"
    )
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
