"""The bot under clicks: click -> ack latency at a steady rate, in HTTP mode and in Socket Mode.

The whole system runs in this process, as `forest-bot dev` and the end-to-end tests run it
(`bot.devsystem.DevSystem`): forestd (SQLite, coordinator and runner) over real gRPC, the Slack
sandbox over real loopback HTTP, the bot (Bolt, Socket Mode or HTTP mode with signature
verification) and a private nats-server. Slack's rate limits are off in the sandbox (Slack would
allow chat.postEphemeral about 100 times a minute; the bot answers every click with one).

bob releases a commit through Forest's pipeline; the soak before production is long, so the
release stays open with its Approve button. Then the sandbox's driver clicks Approve N times at
a steady rate (each click its own request, sent on schedule whether or not earlier ones were
answered), taking turns among the clickers: bob is told it is his own release, carol's vote is
cast again (it replaces her earlier one), and a clicker the workspace does not know joins it
with no Forest account linked (told to link one). Each click is timed from the driver building
and signing it to the driver holding the bot's ack. The bot's work after the ack (a fresh read
of the release from Forest, the vote, the ephemeral answer) runs in the same process, so the
acks are measured under that load too; the output says how much CPU a click cost the whole
process and when the last answer arrived.

    .venv/bin/python bench/bot_ack.py                          # both modes, 500 clicks at 100/s
    .venv/bin/python bench/bot_ack.py --mode socket --clicks 1000 --rate 50
    .venv/bin/python bench/bot_ack.py --json

Goal: p99 < 100 ms (Slack gives 3 s). Exits 1 when a p99 is over the goal or a click failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402

from blocks import ids  # noqa: E402
from bot.devsystem import DevOptions, DevSystem  # noqa: E402
from bot.embedded_nats import EmbeddedNats  # noqa: E402
from sandbox.records import Message  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402
from sandbox.testing import eventually  # noqa: E402

Mode = Literal["http", "socket"]
MODES: tuple[Mode, ...] = ("http", "socket")
GOAL_ACK_P99_MS = 100.0
CHANNEL = "deploys"
LONG_SOAK_SECONDS = 24 * 3600  # the release stays open for the whole run
SETUP_WITHIN = 60.0  # seconds for a release message to appear, an answer backlog to drain


# ---- shared with bot_refresh.py: the system, its messages, its Slack calls, figures ---------


@asynccontextmanager
async def running_system(mode: Mode, *, soak_seconds: int) -> AsyncIterator[DevSystem]:
    """The whole system in this process, with fast deploys (the e2e tests' settings), Slack's
    rate limits off, in a scratch directory. Its nats-server is private: a shared one (such as
    one on :4222) would bring other runs' forest.* signals to this bot."""
    with (
        tempfile.TemporaryDirectory(prefix="forest-bench-") as tmp,
        EmbeddedNats(Path(tmp) / "nats") as nats,
    ):
        options = DevOptions(
            state_dir=Path(tmp) / "dev",
            sandbox_port=0,
            mode=mode,
            nats_url=nats.url,
            soak_seconds=soak_seconds,
            deploy_seconds=0.2,
            sweep_seconds=0.3,
            rate_limits=False,
        )
        async with DevSystem(options) as system:
            yield system


def sandbox_of(system: DevSystem) -> Sandbox:
    if system.sandbox is None:
        raise RuntimeError("the system is not started")
    return system.sandbox


def find_release_message(sandbox: Sandbox, intent_id: str) -> Message | None:
    """The top-level message in #deploys whose buttons point at this intent."""
    channel = sandbox.workspace.channel(CHANNEL)
    if channel is None:
        raise RuntimeError(f"the sandbox has no #{CHANNEL}")
    for message in sandbox.workspace.top_level(channel.id):
        if intent_id in json.dumps(message.blocks or []):
            return message
    return None


def has_button(message: Message | None, action_id: str) -> bool:
    """Whether the message shows a button (or other element) with this action id."""
    for block in (message.blocks or []) if message is not None else []:
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            elements = [*elements, accessory]
        if any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements):
            return True
    return False


async def release_messages(
    system: DevSystem, count: int, *, within: float = SETUP_WITHIN
) -> list[tuple[str, Message]]:
    """Release `count` commits as bob; (intent id, its message) once each message shows an
    Approve button."""
    sandbox = sandbox_of(system)
    intents = [await system.release("bob", title=f"Bench release {k + 1}") for k in range(count)]

    def all_shown() -> bool:
        return all(
            has_button(find_release_message(sandbox, i), ids.ACTION_APPROVE) for i in intents
        )

    await eventually(all_shown, within)
    found = [(i, find_release_message(sandbox, i)) for i in intents]
    return [(i, m) for i, m in found if m is not None]


class CallLog:
    """The sandbox's record of accepted Web API calls from a mark on (it keeps the latest
    10,000: a run that overflows it says so instead of miscounting)."""

    def __init__(self, calls: deque[tuple[str, dict[str, Any]]]) -> None:
        self._calls = calls
        self._start = len(calls)
        self._check()

    def _check(self) -> None:
        if self._calls.maxlen is not None and len(self._calls) >= self._calls.maxlen:
            raise RuntimeError("the sandbox's call record is full: run fewer clicks or signals")

    def since(self) -> list[tuple[str, dict[str, Any]]]:
        self._check()
        return list(self._calls)[self._start :]

    def count(self, *methods: str) -> int:
        return sum(1 for name, _ in self.since() if name in methods)


@dataclass(frozen=True)
class Figures:
    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, latencies_ms: Sequence[float]) -> Figures:
        ordered = sorted(latencies_ms)
        if not ordered:
            return cls(0, *(float("nan"),) * 5)
        p50, p90, p99 = (common.percentile(ordered, f) for f in (0.50, 0.90, 0.99))
        return cls(len(ordered), p50, p90, p99, ordered[-1], statistics.fmean(ordered))

    def cells(self) -> str:
        return " ".join(f"{v:7.1f}" for v in (self.p50, self.p90, self.p99, self.max))


FIGURE_HEADS = f"{'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def emit(as_json: bool, table: list[str], data: dict[str, Any]) -> None:
    """The table, or with --json only the figures as JSON (stdout stays machine-readable)."""
    if as_json:
        print(json.dumps(_finite(data), indent=2, allow_nan=False))
    else:
        print("\n".join(table), flush=True)


def _finite(value: Any) -> Any:
    """value with NaN and infinities (figures of nothing measured) as null: valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def say(as_json: bool, line: str) -> None:
    """Progress: stdout with the table, stderr under --json."""
    print(line, file=sys.stderr if as_json else sys.stdout, flush=True)


# ---- clicks ----------------------------------------------------------------------------------


@dataclass
class ClickRun:
    mode: Mode
    clicks: int
    rate_per_s: float  # achieved: clicks sent / time from the first to the last
    ack: Figures
    failures: list[str]  # clicks the bot did not ack (or acked with an error)
    answered: int  # ephemeral answers the clickers received for the timed clicks
    last_answer_s: float  # when the last of them came, after the last click was sent
    cpu_ms_per_click: float  # this process's CPU (the whole system), first click to last answer
    load: float

    @property
    def ok(self) -> bool:
        return self.ack.p99 < GOAL_ACK_P99_MS and not self.failures


def clickers_in(sandbox: Sandbox, names: Sequence[str]) -> list[str]:
    """The clickers; a name the workspace does not know joins it, and #deploys, as a person
    with no Forest account linked (the bot answers them "link your account first")."""
    ws = sandbox.workspace
    channel = ws.channel(CHANNEL)
    assert channel is not None
    for name in names:
        if ws.user(name) is None:
            channel.members.append(ws.add_user(name).id)
    return list(names)


async def _click_at_rate(
    sandbox: Sandbox, message: Message, clickers: Sequence[str], count: int, rate: float
) -> tuple[list[float], list[str], float]:
    """(ack ms, failures, seconds from the first click to the last) for `count` clicks sent
    on a steady schedule, each as its own task."""
    driver = sandbox.driver
    acks: list[float] = []
    failures: list[str] = []

    async def click(k: int) -> None:
        started = time.perf_counter()
        ack = await driver.click(
            clickers[k % len(clickers)], message=message, action_id=ids.ACTION_APPROVE
        )
        acks.append((time.perf_counter() - started) * 1000)
        if not ack.ok:
            failures.append(ack.error or f"http_{ack.status}")

    tasks: list[asyncio.Task[None]] = []
    first = time.perf_counter()
    for k in range(count):
        delay = first + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(click(k)))
    sent = time.perf_counter() - first
    await asyncio.gather(*tasks)
    return acks, failures, sent


async def measure_clicks(mode: Mode, args: argparse.Namespace, names: Sequence[str]) -> ClickRun:
    async with running_system(mode, soak_seconds=LONG_SOAK_SECONDS) as system:
        sandbox = sandbox_of(system)
        clickers = clickers_in(sandbox, names)
        [(_, message)] = await release_messages(system, 1)
        answers = CallLog(sandbox.web_api.calls)

        def answered() -> int:
            return answers.count("chat.postEphemeral")

        for k in range(args.warmup):  # untimed, one at a time: connections, caches, first vote
            await sandbox.driver.click(
                clickers[k % len(clickers)], message=message, action_id=ids.ACTION_APPROVE
            )
        await eventually(lambda: answered() >= args.warmup, SETUP_WITHIN)
        say(args.json, f"{mode}: release message up, {args.warmup} warm-up clicks answered")
        cpu = time.process_time()
        acks, failures, sent = await _click_at_rate(
            sandbox, message, clickers, args.clicks, args.rate
        )
        done_sending = time.perf_counter()
        last_answer, cpu_then = await _last_answer(
            answered, args.warmup + args.clicks, args.drain_within
        )
        return ClickRun(
            mode=mode,
            clicks=len(acks),
            rate_per_s=(len(acks) - 1) / sent if sent > 0 else float("inf"),
            ack=Figures.of(acks),
            failures=failures,
            answered=answered() - args.warmup,
            last_answer_s=max(0.0, last_answer - done_sending),
            cpu_ms_per_click=(cpu_then - cpu) * 1000 / len(acks),
            load=load_average(),
        )


async def _last_answer(
    answered: Callable[[], int], expected: int, within: float
) -> tuple[float, float]:
    """Wait up to `within` seconds for `expected` answers; (perf_counter, process CPU time)
    when the last answer seen came. A backlog or a missing answer is reported, not raised."""
    deadline = time.monotonic() + within
    seen, at, cpu = answered(), time.perf_counter(), time.process_time()
    while seen < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        if (now := answered()) != seen:
            seen, at, cpu = now, time.perf_counter(), time.process_time()
    return at, cpu


def _table(runs: list[ClickRun]) -> list[str]:
    lines = [
        f"{'mode':<7} {'clicks':>6} {'rate/s':>7} {FIGURE_HEADS} (ms) {'failed':>6} "
        f"{'answered':>8} {'last answer':>11} {'CPU/click':>9}  verdict"
    ]
    for run in runs:
        last = f"{run.last_answer_s:.2f} s"
        lines.append(
            f"{run.mode:<7} {run.clicks:>6} {run.rate_per_s:>7.1f} {run.ack.cells()}      "
            f"{len(run.failures):>6} {run.answered:>8} {last:>11} "
            f"{run.cpu_ms_per_click:>6.1f} ms  {common.verdict(run.ok, GOAL_ACK_P99_MS)}  "
            f"load {run.load:.1f}"
        )
    for run in runs:
        for failure in sorted(set(run.failures)):
            lines.append(f"{run.mode}: {run.failures.count(failure)} x {failure}")
        if run.answered < run.clicks:
            lines.append(
                f"{run.mode}: {run.clicks - run.answered} acked clicks got no answer "
                f"(the bot's log says why)"
            )
    return lines


async def run(args: argparse.Namespace) -> bool:
    modes: list[Mode] = list(MODES) if args.mode == "both" else [args.mode]
    names = [c.strip() for c in args.clickers.split(",") if c.strip()]
    say(
        args.json,
        f"bot click -> ack: {args.clicks} Approve clicks at {args.rate:g}/s by "
        f"{', '.join(names)} in turn; the whole system in this process (forestd on SQLite, "
        f"the sandbox, the bot, a private nats-server); Slack rate limits off; "
        f"{os.cpu_count()} CPUs",
    )
    runs = [await measure_clicks(mode, args, names) for mode in modes]
    emit(
        args.json,
        _table(runs),
        {
            "goal_p99_ms": GOAL_ACK_P99_MS,
            "clickers": names,
            "target_rate_per_s": args.rate,
            "runs": [{**asdict(r), "ok": r.ok} for r in runs],
        },
    )
    return all(r.ok for r in runs)


def positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
    parser.add_argument(
        "--mode",
        choices=("http", "socket", "both"),
        default="both",
        help="how Slack reaches the bot (default: both, one after the other)",
    )
    parser.add_argument(
        "--clicks", type=positive(int), default=500, help="clicks to time per mode (default 500)"
    )
    parser.add_argument(
        "--rate", type=positive(float), default=100.0, help="clicks sent per second (default 100)"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed clicks first, one at a time (default 10)"
    )
    parser.add_argument(
        "--clickers",
        default="bob,carol",
        help="who clicks, in turn (default bob,carol: bob is the author, carol votes);\n"
        "a name the sandbox does not know joins it unlinked from Forest",
    )
    parser.add_argument(
        "--drain-within",
        type=positive(float),
        default=120.0,
        help="seconds to wait for the last answer after the last click (default 120)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON (progress goes to stderr)"
    )
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
