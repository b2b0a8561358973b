"""The bot under clicks: click -> ack latency at a steady rate, in HTTP mode and in Socket Mode.

The bot runs as in production, in its own process: `python -m bot.cli run` (forest-bot run),
configured only by environment variables (docs/bot.md), Bolt in Socket Mode or in HTTP mode with
signature verification. The rest runs in this process (`bot.devsystem.DevSystem` with
run_bot=False): forestd (SQLite, coordinator and runner) over real gRPC and the Slack sandbox
over real loopback HTTP; a private nats-server runs as its own process. (DevSystem has no way to
run forestd elsewhere, so it stays here.) With --in-process the bot runs in this process too,
as `forest-bot dev` and the end-to-end tests run it. Slack's rate limits are off in the sandbox
(Slack would allow chat.postEphemeral about 100 times a minute; the bot answers every click with
one).

bob releases a commit through Forest's pipeline; the soak before production is long, so the
release stays open with its Approve button. Then the sandbox's driver clicks Approve N times at
a steady rate (each click its own request, sent on schedule whether or not earlier ones were
answered), taking turns among the clickers: bob is told it is his own release, carol's vote is
cast again (it replaces her earlier one), and a clicker the workspace does not know joins it
with no Forest account linked (told to link one). Each click is timed from the driver building
and signing it to the driver holding the bot's ack. The bot's work after the ack (a fresh read
of the release from Forest, the vote, the ephemeral answer) runs in the bot's process, so the
acks are measured under that load too. The output says when the last answer arrived and how
much CPU a click cost the bot (its process's utime + stime, from /proc/<pid>/stat) and this
process (forestd, the sandbox and its driver); in process, the first figure is the whole
system's.

    .venv/bin/python bench/bot_ack.py                          # both modes, 500 clicks at 100/s
    .venv/bin/python bench/bot_ack.py --in-process             # the bot in this process too
    .venv/bin/python bench/bot_ack.py --mode socket --clicks 1000 --rate 50
    .venv/bin/python bench/bot_ack.py --json

Goal: p99 < 100 ms (Slack gives 3 s). Exits 1 when a p99 is over the goal or a click failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402

from blocks import ids  # noqa: E402
from bot.app import Bot  # noqa: E402
from bot.devsystem import SIGNING_SECRET, DevOptions, DevSystem  # noqa: E402
from bot.embedded_nats import EmbeddedNats  # noqa: E402
from sandbox.records import Message  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402
from sandbox.testing import eventually  # noqa: E402

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

Mode = Literal["http", "socket"]
MODES: tuple[Mode, ...] = ("http", "socket")
GOAL_ACK_P99_MS = 100.0
CHANNEL = "deploys"
LONG_SOAK_SECONDS = 24 * 3600  # the release stays open for the whole run
SETUP_WITHIN = 60.0  # seconds for a release message to appear, an answer backlog to drain
EVALUATE = "forest.intent.evaluate"  # Forest: "re-evaluate this intent" (payload: its id)
SIGNALS = "forest_bot_signals_total"  # the bot's count of the signals it handled, by source


# ---- shared with bot_refresh.py: the system, its messages, its Slack calls, figures ---------


class BotHandle(Protocol):
    """The bot under measurement, wherever it runs: its CPU time, its Prometheus metrics, and
    a nudge of its refresher."""

    where: str  # for the headline

    def cpu_seconds(self) -> float: ...

    async def sample(self, name: str, labels: dict[str, str] | None = None) -> float: ...

    async def nudge(self, organisation: str, project: str, intent_id: str) -> None:
        """Queue a refresh of this intent; on return it is queued (or already taken)."""


class InProcessBot:
    """The bot in this process (`DevSystem` runs it): its CPU time is the whole process's."""

    where = "the whole system in this process"

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    def cpu_seconds(self) -> float:
        return time.process_time()

    async def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self._bot.ctx.metrics.registry.get_sample_value(name, labels or {}) or 0.0

    async def nudge(self, organisation: str, project: str, intent_id: str) -> None:
        self._bot.ctx.refresher.nudge(organisation, project, intent_id)


class ChildBot:
    """`forest-bot run` in its own process: metrics from its /metrics, CPU time from /proc,
    nudges as Forest sends them (`forest.intent.evaluate` over NATS)."""

    def __init__(self, process: common.BotProcess, nc: NatsClient) -> None:
        self.process = process
        self._nc = nc
        self.where = f"the bot in its own process (forest-bot run, pid {process.pid})"

    def cpu_seconds(self) -> float:
        return self.process.cpu_seconds()

    async def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        key = (name, frozenset((labels or {}).items()))
        return (await self.process.metrics()).get(key, 0.0)

    async def nudge(self, organisation: str, project: str, intent_id: str) -> None:
        # The bot queues the refresh in the same callback that counts the signal (it knows
        # which project the intent is in once it has read it), so a counted signal is queued.
        # A signal of Forest's own counted meanwhile would end the wait early.
        before = await self.sample(SIGNALS, {"source": "nats"})
        await self._nc.publish(EVALUATE, intent_id.encode())
        await self._nc.flush()
        await until(
            lambda: self.sample(SIGNALS, {"source": "nats"}), lambda n: n > before, SETUP_WITHIN
        )


async def until(
    read: Callable[[], Awaitable[float]], holds: Callable[[float], bool], within: float
) -> float:
    """Poll read() until holds(value); the value (AssertionError after `within` seconds)."""
    deadline = time.monotonic() + within
    while not holds(value := await read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last value {value})")
        await asyncio.sleep(0.05)
    return value


@asynccontextmanager
async def running_system(
    mode: Mode, *, soak_seconds: int, in_process: bool
) -> AsyncIterator[tuple[DevSystem, BotHandle]]:
    """The system with fast deploys (the e2e tests' settings), Slack's rate limits off, in a
    scratch directory: forestd, the sandbox and a private nats-server run in this process
    (`DevSystem`; nats-server is its own process), the bot too if in_process, else as
    `forest-bot run` in a child process. The nats-server is private: a shared one (such as
    one on :4222) would bring other runs' forest.* signals to this bot."""
    with (
        tempfile.TemporaryDirectory(prefix="forest-bench-") as tmp,
        EmbeddedNats(Path(tmp) / "nats") as nats,
    ):
        options = DevOptions(
            state_dir=Path(tmp) / "dev",
            sandbox_port=0,
            bot_http_port=0 if in_process else common.free_port(),
            mode=mode,
            nats_url=nats.url,
            soak_seconds=soak_seconds,
            deploy_seconds=0.2,
            sweep_seconds=0.3,
            rate_limits=False,
            run_bot=in_process,
        )
        async with DevSystem(options) as system:
            if in_process:
                assert system.bot is not None
                yield system, InProcessBot(system.bot)
            else:
                async with child_bot(system, Path(tmp)) as bot:
                    yield system, bot


@asynccontextmanager
async def child_bot(system: DevSystem, cwd: Path) -> AsyncIterator[ChildBot]:
    """`forest-bot run` against the running system, configured only by environment variables
    from system.bot_settings(); yielded once its /healthz answers 200 and Slack (the sandbox)
    reaches it. Stopped with SIGINT on exit: it must exit 0."""
    import nats

    sandbox = sandbox_of(system)
    process = await common.BotProcess.start(system.bot_settings(), cwd=cwd)
    try:
        if system.options.mode == "http":
            sandbox.driver.use_http(f"{process.base_url}/slack/events", SIGNING_SECRET)
        else:
            sandbox.driver.use_socket_mode()
        await process.wait_healthy(SETUP_WITHIN)
        if system.options.mode == "socket":
            await until(
                lambda: _connected(process, sandbox), lambda connected: connected > 0, SETUP_WITHIN
            )
        nc = await nats.connect(system.nats_url, name="bench-bot-nudge")
        try:
            yield ChildBot(process, nc)
        finally:
            await nc.close()
    except BaseException:
        with contextlib.suppress(Exception):
            await process.stop()
        raise
    code = await process.stop()
    if code != 0:
        raise RuntimeError(f"forest-bot exited with {code} on SIGINT:\n{process.log_tail()}")


async def _connected(process: common.BotProcess, sandbox: Sandbox) -> float:
    """1.0 once the sandbox holds a Socket Mode connection (the child still running)."""
    await process.healthy()  # raises if the child has exited
    return 1.0 if sandbox.socket_mode.connected.is_set() else 0.0


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
    in_process: bool  # the bot in this process (the old way) or in its own
    # CPU per click from the first click to the last answer: the bot's (its process's
    # utime + stime; in process, this whole process's), and this process's when the bot is
    # elsewhere (forestd, the sandbox and its driver; None in process)
    cpu_ms_per_click: float
    rest_cpu_ms_per_click: float | None
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
    running = running_system(mode, soak_seconds=LONG_SOAK_SECONDS, in_process=args.in_process)
    async with running as (system, bot):

        def cpu() -> tuple[float, float]:
            return bot.cpu_seconds(), time.process_time()

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
        say(
            args.json,
            f"{mode}: {bot.where}; release message up, {args.warmup} warm-up clicks answered",
        )
        bot_cpu, rest_cpu = cpu()
        acks, failures, sent = await _click_at_rate(
            sandbox, message, clickers, args.clicks, args.rate
        )
        done_sending = time.perf_counter()
        last_answer, (bot_then, rest_then) = await _last_answer(
            answered, args.warmup + args.clicks, args.drain_within, cpu
        )
        return ClickRun(
            mode=mode,
            clicks=len(acks),
            rate_per_s=(len(acks) - 1) / sent if sent > 0 else float("inf"),
            ack=Figures.of(acks),
            failures=failures,
            answered=answered() - args.warmup,
            last_answer_s=max(0.0, last_answer - done_sending),
            in_process=args.in_process,
            cpu_ms_per_click=(bot_then - bot_cpu) * 1000 / len(acks),
            rest_cpu_ms_per_click=(
                None if args.in_process else (rest_then - rest_cpu) * 1000 / len(acks)
            ),
            load=load_average(),
        )


async def _last_answer(
    answered: Callable[[], int],
    expected: int,
    within: float,
    cpu: Callable[[], tuple[float, float]],
) -> tuple[float, tuple[float, float]]:
    """Wait up to `within` seconds for `expected` answers; (perf_counter, cpu()) when the
    last answer seen came. A backlog or a missing answer is reported, not raised."""
    deadline = time.monotonic() + within
    seen, at, used = answered(), time.perf_counter(), cpu()
    while seen < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        if (now := answered()) != seen:
            seen, at, used = now, time.perf_counter(), cpu()
    return at, used


def _table(runs: list[ClickRun]) -> list[str]:
    lines = [
        f"{'mode':<7} {'clicks':>6} {'rate/s':>7} {FIGURE_HEADS} (ms) {'failed':>6} "
        f"{'answered':>8} {'last answer':>11} {'bot CPU/click':>13} {'rest CPU/click':>14}  "
        "verdict"
    ]
    for run in runs:
        last = f"{run.last_answer_s:.2f} s"
        rest = "-" if run.rest_cpu_ms_per_click is None else f"{run.rest_cpu_ms_per_click:.1f} ms"
        lines.append(
            f"{run.mode:<7} {run.clicks:>6} {run.rate_per_s:>7.1f} {run.ack.cells()}      "
            f"{len(run.failures):>6} {run.answered:>8} {last:>11} "
            f"{run.cpu_ms_per_click:>10.1f} ms {rest:>14}  "
            f"{common.verdict(run.ok, GOAL_ACK_P99_MS)}  load {run.load:.1f}"
        )
    if runs and runs[0].in_process:
        lines.append("(in process, the bot's CPU is the whole system's: forestd, the sandbox too)")
    else:
        lines.append("(rest: this process, forestd, the sandbox and its driver)")
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
        f"{', '.join(names)} in turn; {where(args.in_process)}; Slack rate limits off; "
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


def where(in_process: bool) -> str:
    """Where the parts run, for a headline."""
    if in_process:
        return (
            "the whole system in this process (forestd on SQLite, the sandbox, the bot; "
            "a private nats-server)"
        )
    return (
        "the bot in its own process (forest-bot run, configured by its environment); forestd "
        "on SQLite and the sandbox in this one; a private nats-server"
    )


def positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def add_in_process_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the bot in this process too (the old way: its CPU then includes forestd's\n"
        "and the sandbox's); default: `forest-bot run` in a child process",
    )


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
    add_in_process_argument(parser)
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
