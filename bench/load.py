"""Load benchmarks (issue 11): the real bot and a naive baseline bot (bench/naive_bot.py) under
the same load, one after the other in one run, every figure beside the naive bot's.

Each bot gets a fresh system (bench/load_system.py): forestd in its own process, seeded with
500 open release intents over 20 projects of 25 (no coordinator: intents stay put, the votes
are the only visible changes), the bot in its own process, a private nats-server, and the
Slack sandbox plus the load generator in this process. Every bot posts its 500 messages at
start (timed). Then, in order:

1. latency: `forest.intent.evaluate` at --signal-rate/s (200) spread over the 500 intents, for
   --duration s, with approvals over gRPC at --vote-rate/s (each raises a message's count);
   each vote timed from its RPC's return to its message showing the new count (the sandbox
   reports edits from inside its chat.update handler). Slack rate limits off. Meanwhile
   bench/vote_latency.py's own measurement (its code) votes on bench/api at --vote-rpc-pace:
   the vote RPC p99 while the bot refreshes.
2. idle: the same signals alone: every Slack call is one for nothing a person can see.
3. soak: --soak s of --soak-signal-rate signals/s and --soak-vote-rate votes/s: Slack calls
   per visible change over a longer run.
4. convergence: 30% of chat.update/chat.postMessage answered 429 with Retry-After 1 s; a burst
   of --burst approvals (4 in flight); share of their messages at their final state, and the
   time from the last vote until all were.
5. restart (real bot only): --tracked message rows in the bot's store (the 500 open ones plus
   finished ones seeded through the bot's model); time from start to the start-up
   reconciliation done (every project refreshed, nothing queued), and VmRSS.
6. clicked: Slack's real limits on (chat.update Tier 3: 50/min); --backlog approvals leave that
   many messages waiting for an update; then --clicks clicks on Approve, one a second, on
   messages among them; each timed from the click to its message showing the click's vote.
   The naive bot answers no clicks: for it the same vote is cast over gRPC.
Then click -> ack (bench/bot_ack.py's measurement, the real bot only) in HTTP and Socket Mode.
On each further database of --databases (PostgreSQL) the real bot runs phase 1 only, for the
vote RPC figure.

    .venv/bin/python bench/load.py --quick          # a few minutes
    .venv/bin/python bench/load.py                  # the figures in bench/README.md
    .venv/bin/python bench/load.py --bots real --databases sqlite --skip-ack

Exits 1 when one of the real bot's figures misses its goal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402
from load_phases import (  # noqa: E402
    ClickedRun,
    ConvergenceRun,
    LatencyRun,
    RestartRun,
    VoteBook,
    Voting,
    clicked_phase,
    convergence_phase,
    figures,
    latency_phase,
    restart_phase,
)
from load_system import Kind, load_system, rss_mb  # noqa: E402

from bot.embedded_nats import EmbeddedNats  # noqa: E402

GOALS = {
    "update_p99_ms": 300.0,
    "calls_per_change": 1.05,
    "idle_calls": 0,
    "clicked_p99_ms": 1000.0,
    "ack_p99_ms": 100.0,
    "converged_share": 1.0,
    "rss_mb": 200.0,
    "vote_rpc_p99_ms": 20.0,
}


@dataclass
class BotRun:
    kind: Kind
    database: str
    startup_s: float = 0.0
    latency: LatencyRun | None = None
    idle: LatencyRun | None = None
    soak: LatencyRun | None = None
    convergence: ConvergenceRun | None = None
    restart: RestartRun | None = None
    clicked: ClickedRun | None = None
    rss_mb: float = 0.0  # at the end of its run
    cpu_note: str = ""
    errors: list[str] = field(default_factory=list)


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


async def run_bot(kind: Kind, database: str, url: str, args: argparse.Namespace) -> BotRun:
    result = BotRun(kind, database)
    full = database == "sqlite" and not args.latency_only
    with EmbeddedNats(Path(args.tmp) / f"nats-{kind}-{database}") as nats:
        async with load_system(kind, url, nats.url, args.projects, args.per_project) as system:
            result.startup_s = system.startup_seconds
            say(
                f"{kind} bot on {database}: {len(system.messages)} messages posted in "
                f"{system.startup_seconds:.1f} s (pid {system.bot.pid})"
            )
            book, voting = VoteBook(system), Voting(system)
            try:
                result.latency = await latency_phase(
                    system,
                    book,
                    voting,
                    duration=args.duration,
                    signal_rate=args.signal_rate,
                    vote_rate=args.vote_rate,
                    vote_rpc_pace_ms=args.vote_rpc_pace,
                    within=args.within,
                    drain_within=args.drain_within,
                )
                say(f"{kind}: latency phase done ({_brief(result.latency)})")
                if not full:
                    return result
                result.idle = await latency_phase(
                    system,
                    book,
                    voting,
                    duration=args.idle,
                    signal_rate=args.signal_rate,
                    vote_rate=0,
                    vote_rpc_pace_ms=0,
                    within=args.within,
                    drain_within=args.drain_within,
                )
                say(f"{kind}: idle phase done ({_brief(result.idle)})")
                result.soak = await latency_phase(
                    system,
                    book,
                    voting,
                    duration=args.soak,
                    signal_rate=args.soak_signal_rate,
                    vote_rate=args.soak_vote_rate,
                    vote_rpc_pace_ms=0,
                    within=args.within,
                    drain_within=args.drain_within,
                )
                say(f"{kind}: soak done ({_brief(result.soak)})")
                result.convergence = await convergence_phase(
                    system,
                    book,
                    voting,
                    burst=args.burst,
                    fraction=0.3,
                    retry_after=1,
                    within=args.converge_within,
                )
                say(f"{kind}: convergence done ({result.convergence})")
                await system.bot.caught_up(0, args.drain_within)
                if kind == "real":
                    # Slack's real budget from here on: the clicked phase turns the limits on
                    result.restart = await restart_phase(system, args.tracked, 50)
                    say(f"{kind}: restart done ({result.restart})")
                result.clicked = await clicked_phase(
                    system,
                    book,
                    voting,
                    backlog=args.backlog,
                    clicks=args.clicks,
                    within=args.click_within,
                )
                say(f"{kind}: clicked done ({figures(result.clicked.latencies_ms)})")
                result.rss_mb = rss_mb(system.bot.pid)
            except Exception as exc:  # report what was measured, and this
                result.errors.append(f"{type(exc).__name__}: {exc}")
                say(f"{kind} on {database}: {type(exc).__name__}: {exc}")
            finally:
                await voting.close()
    return result


def _brief(run: LatencyRun) -> str:
    f = figures(run.latencies_ms)
    return (
        f"{run.signals} signals, {run.votes} votes, p50 {_ms(f['p50'])} p99 {_ms(f['p99'])}, "
        f"unseen {run.unseen}, calls {run.calls}, caught up "
        f"{'never' if run.caught_up_s is None else f'{run.caught_up_s:.1f} s'}; "
        f"CPUs used: {run.cpu_share}"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


# ---- click -> ack: bench/bot_ack.py's measurement -------------------------------------------


async def ack_runs(args: argparse.Namespace) -> list[Any]:
    import bot_ack

    options = argparse.Namespace(
        in_process=False,
        warmup=10,
        clicks=args.ack_clicks,
        rate=100.0,
        json=False,
        drain_within=120.0,
    )
    return [await bot_ack.measure_clicks(mode, options, ["bob", "carol"]) for mode in bot_ack.MODES]


# ---- the table --------------------------------------------------------------------------------


def ratio(naive: float | None, real: float | None) -> str:
    if naive is None or real is None or not math.isfinite(naive) or not math.isfinite(real):
        return "-"
    if real == 0:
        return "inf" if naive > 0 else "1"
    return f"{naive / real:.1f}x"


def table(runs: list[BotRun], acks: list[Any], args: argparse.Namespace) -> tuple[list[str], bool]:
    real = next((r for r in runs if r.kind == "real" and r.database == "sqlite"), None)
    naive = next((r for r in runs if r.kind == "naive"), None)
    rows: list[tuple[str, str, str, str, str, bool | None]] = []

    def add(name: str, goal: str, ours: Any, theirs: Any, ok: bool | None, fmt: str) -> None:
        def show(value: Any) -> str:
            return "-" if value is None else format(value, fmt)

        rows.append(
            (
                name,
                goal,
                show(ours),
                show(theirs),
                ratio(theirs, ours),
                None if ours is None else ok,
            )
        )

    def lat(run: BotRun | None, key: str) -> float | None:
        return (
            None if run is None or run.latency is None else figures(run.latency.latencies_ms)[key]
        )

    p99 = lat(real, "p99")
    add("signal->update p50 (ms)", "-", lat(real, "p50"), lat(naive, "p50"), None, ".1f")
    add(
        "signal->update p99 (ms)",
        "< 300",
        p99,
        lat(naive, "p99"),
        p99 is not None
        and p99 < 300
        and real is not None
        and real.latency is not None
        and real.latency.unseen == 0,
        ".1f",
    )
    add(
        "votes not shown within --within",
        "0",
        real.latency.unseen if real and real.latency else None,
        naive.latency.unseen if naive and naive.latency else None,
        None,
        "",
    )
    for phase in ("latency", "soak"):
        ours = getattr(real, phase) if real else None
        theirs = getattr(naive, phase) if naive else None
        value = ours.calls.per_change if ours else None
        add(
            f"calls / visible change ({phase})",
            "<= 1.05",
            value,
            theirs.calls.per_change if theirs else None,
            value is not None and value <= 1.05,
            ".3f",
        )
    ours_idle = real.idle if real else None
    theirs_idle = naive.idle if naive else None
    idle_calls = None if ours_idle is None else ours_idle.calls.posts + ours_idle.calls.updates
    add(
        "Slack calls for signals that change nothing",
        "0",
        idle_calls,
        None if theirs_idle is None else theirs_idle.calls.posts + theirs_idle.calls.updates,
        idle_calls == 0 if idle_calls is not None else None,
        "",
    )
    clicked = figures(real.clicked.latencies_ms) if real and real.clicked else None
    clicked_naive = figures(naive.clicked.latencies_ms) if naive and naive.clicked else None
    add(
        "clicked msg visibly updated p99 (ms), limits on",
        "< 1000",
        clicked and clicked["p99"],
        clicked_naive and clicked_naive["p99"],
        clicked is not None
        and clicked["p99"] is not None
        and clicked["p99"] < 1000
        and real is not None
        and real.clicked is not None
        and real.clicked.unseen == 0,
        ".1f",
    )
    add(
        "clicked msgs not shown within the bound",
        "0",
        real.clicked.unseen if real and real.clicked else None,
        naive.clicked.unseen if naive and naive.clicked else None,
        None,
        "",
    )
    conv = real.convergence if real else None
    conv_naive = naive.convergence if naive else None
    add(
        "converged share, 30% 429",
        "100%",
        None if conv is None else 100 * conv.share,
        None if conv_naive is None else 100 * conv_naive.share,
        conv is not None and conv.share >= 1.0,
        ".1f",
    )
    add(
        "time to converge (s)",
        "-",
        None if conv is None else conv.converge_s,
        None if conv_naive is None else conv_naive.converge_s,
        None,
        ".1f",
    )
    restart = real.restart if real else None
    add(
        f"RSS with {restart.tracked if restart else '-'} tracked msgs (MB)",
        "< 200",
        None if restart is None else restart.rss_mb,
        None,
        restart is not None and restart.rss_mb < 200,
        ".1f",
    )
    add(
        "start-up reconciliation (s)",
        "-",
        None if restart is None else restart.reconciled_s,
        None,
        None,
        ".1f",
    )
    add(
        f"start-up: {args.projects * args.per_project} messages posted (s)",
        "-",
        real.startup_s if real else None,
        naive.startup_s if naive else None,
        None,
        ".1f",
    )
    add(
        "RSS at the end of the run (MB)",
        "-",
        real.rss_mb if real else None,
        naive.rss_mb if naive else None,
        None,
        ".1f",
    )
    for run in runs:
        if run.latency is None or not run.latency.vote_rpc_ms:
            continue
        if run.kind != "real":
            continue
        v = figures(run.latency.vote_rpc_ms)
        other = next(
            (r for r in runs if r.kind == "naive" and r.database == run.database and r.latency),
            None,
        )
        o = figures(other.latency.vote_rpc_ms) if other and other.latency else None
        add(
            f"vote RPC p99 under load, {run.database} (ms)",
            "< 20",
            v["p99"],
            o and o["p99"],
            v["p99"] is not None and v["p99"] < 20,
            ".1f",
        )
    for ack in acks:
        add(
            f"click->ack p99, {ack.mode} (ms), 100/s",
            "< 100",
            ack.ack.p99,
            None,
            ack.ok,
            ".1f",
        )
    width = max(len(r[0]) for r in rows)
    lines = [
        f"{'figure':<{width}}  {'goal':>8}  {'real bot':>9}  {'naive bot':>9}  "
        f"{'naive/real':>10}  verdict"
    ]
    for name, goal, ours, theirs, rat, ok in rows:
        verdict = "" if ok is None else ("OK" if ok else "MISSED")
        lines.append(f"{name:<{width}}  {goal:>8}  {ours:>9}  {theirs:>9}  {rat:>10}  {verdict}")
    for run in runs:
        for error in run.errors:
            lines.append(f"{run.kind} bot on {run.database}: {error}")
    return lines, all(r[5] is not False for r in rows)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


async def run(args: argparse.Namespace) -> bool:
    kinds: list[Kind] = [k for k in ("real", "naive") if k in args.bots.split(",")]  # type: ignore[misc]
    say(
        f"load bench: {args.projects * args.per_project} open messages "
        f"({args.projects} projects x {args.per_project}), {args.signal_rate:g} signals/s "
        f"for {args.duration:g} s, votes {args.vote_rate:g}/s; bots: {', '.join(kinds)}; "
        f"{os.cpu_count()} CPUs, {common.load()}"
    )
    runs: list[BotRun] = []
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    for database in databases:
        for kind in kinds:
            if database != "sqlite" and kind == "naive":
                continue
            if database == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(args.tmp) / f'forest-{kind}.db'}"
                runs.append(await run_bot(kind, database, url, args))
                continue
            made = await asyncio.to_thread(common.pg_database, args.pg_url)
            if made is None:
                continue
            try:
                runs.append(await run_bot(kind, database, made[0], args))
            finally:
                await asyncio.to_thread(common.drop_pg_database, args.pg_url, made[1])
    acks = [] if args.skip_ack else await ack_runs(args)
    lines, ok = table(runs, acks, args)
    print("\n".join(lines), flush=True)
    say(f"done, {common.load()}")
    if args.json:
        await asyncio.to_thread(
            Path(args.json).write_text,
            json.dumps(
                _jsonable(
                    {
                        "goals": GOALS,
                        "args": {k: v for k, v in vars(args).items() if k != "tmp"},
                        "runs": [asdict(r) for r in runs],
                        "acks": [asdict(a) for a in acks],
                        "table": lines,
                    }
                ),
                indent=1,
            ),
        )
    return ok


QUICK = {
    "duration": 10.0,
    "idle": 5.0,
    "soak": 20.0,
    "burst": 100,
    "backlog": 100,
    "clicks": 5,
    "ack_clicks": 200,
    "click_within": 30.0,
    "converge_within": 60.0,
    "drain_within": 180.0,
}


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = common.bench_parser(__doc__)
    p.add_argument("--quick", action="store_true", help="short phases (a few minutes)")
    p.add_argument("--bots", default="real,naive", help="real, naive or both (default)")
    p.add_argument("--databases", default="sqlite,postgres")
    p.add_argument("--pg-url", default=os.environ.get("FOREST_BENCH_PG_URL", common.DEFAULT_PG_URL))
    p.add_argument("--projects", type=int, default=20)
    p.add_argument("--per-project", type=int, default=25, help="at most 50 (Forest's page)")
    p.add_argument("--duration", type=float, default=30.0, help="latency phase, s")
    p.add_argument("--signal-rate", type=float, default=200.0)
    p.add_argument("--vote-rate", type=float, default=5.0)
    p.add_argument("--vote-rpc-pace", type=float, default=50.0, help="ms between RPC votes")
    p.add_argument("--idle", type=float, default=10.0, help="idle phase, s")
    p.add_argument("--soak", type=float, default=120.0, help="soak phase, s")
    p.add_argument("--soak-signal-rate", type=float, default=20.0)
    p.add_argument("--soak-vote-rate", type=float, default=1.0)
    p.add_argument("--burst", type=int, default=475, help="approvals in the 429 burst")
    p.add_argument("--backlog", type=int, default=475, help="approvals before the clicks")
    p.add_argument("--clicks", type=int, default=10)
    p.add_argument("--tracked", type=int, default=10_000)
    p.add_argument("--ack-clicks", type=int, default=500)
    p.add_argument("--skip-ack", action="store_true")
    p.add_argument("--latency-only", action="store_true", help="phase 1 only, every database")
    p.add_argument("--within", type=float, default=60.0, help="s for a vote to show")
    p.add_argument("--click-within", type=float, default=60.0)
    p.add_argument("--converge-within", type=float, default=400.0)
    p.add_argument("--drain-within", type=float, default=300.0)
    p.add_argument("--json", default="", help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():  # what the command line sets wins
            if getattr(args, key) == p.get_default(key):
                setattr(args, key, value)
    with tempfile.TemporaryDirectory(prefix="forest-load-") as tmp:
        args.tmp = tmp
        return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
