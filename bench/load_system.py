"""The system bench/load.py measures, three processes plus this one on 2 CPUs:

- forestd in a child process (common.started_forestd: its own interpreter and event loop) on
  SQLite or PostgreSQL, WITHOUT its coordinator and runner: the 500 open intents are seeded
  straight into its database through its own models (provisioning + ORM rows, one
  transaction) and stay where they are (a deploy stage to production, gated by 5 approvals of
  which 4 voters can give 4), so the only visible changes are the benchmark's votes. Without
  the coordinator, the 200 `forest.intent.evaluate`/s the load publishes cost Forest nothing:
  what Forest serves is the bots' reads and the votes.
- the bot under measurement in a child process: the real one (`forest-bot run`, configured by
  its environment, Socket Mode) or the naive one (bench/naive_bot.py);
- a private nats-server process;
- this process: the Slack sandbox (real HTTP and Socket Mode; its workspace tells us every
  post and edit as it happens) and the load generator (NATS publisher, gRPC voters, Slack
  clicks through the sandbox's driver).

Forest lists at most 50 intents per project (GetReleaseIntentStates), so the 500 open messages
are spread over projects of 25 (`bench/api`, `bench/p01`...): a message whose intent is off that
page could not be kept up to date by either bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402

from bot.botprocess import BotProcess, free_port  # noqa: E402
from sandbox.records import Message  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402

Kind = Literal["real", "naive"]
ORGANISATION = "bench"
FIRST_PROJECT = "api"  # bench/vote_latency.py's votes go here (its Fixture names bench/api)
ENVIRONMENT = "production"
CHANNEL = "deploys"
VOTERS = 4
REQUIRED_APPROVALS = VOTERS + 1  # never met: an intent stays open whatever the votes
SETUP_WITHIN = 180.0  # seconds for start-up work (500 posts) before giving up


def project_names(count: int) -> list[str]:
    return [FIRST_PROJECT, *(f"p{k:02d}" for k in range(1, count))]


@dataclass(frozen=True)
class Voter:
    name: str
    user_id: str
    token: str


@dataclass(frozen=True)
class Seeded:
    """What the forestd child provisioned (sent over the pipe)."""

    address: str
    projects: dict[str, list[str]]  # project -> its open intent ids, oldest first
    voters: list[Voter]

    def project_of(self, intent_id: str) -> str:
        for project, intents in self.projects.items():
            if intent_id in intents:
                return project
        raise KeyError(intent_id)


# ---- forestd, seeded, in its own process ----------------------------------------------------


async def _seed(server: Any, projects: int, per_project: int) -> Seeded:
    from forestd.provisioning import add_member, create_organisation, create_token, create_user
    from forestd.seed import seed_gated_project

    voters: list[Voter] = []
    by_project: dict[str, list[str]] = {}
    async with server.ctx.db.transaction() as uow:
        org = await create_organisation(uow, ORGANISATION)
        for k in range(VOTERS):
            user = await create_user(uow, f"voter{k}")
            await add_member(uow, org, user, "admin" if k == 0 else "member")
            voters.append(Voter(user.username, user.id, (await create_token(uow, user))[1]))
        for name in project_names(projects):
            by_project[name] = await seed_gated_project(
                uow,
                org,
                name,
                environment=ENVIRONMENT,
                required_approvals=REQUIRED_APPROVALS,
                open_intents=per_project,
            )
    return Seeded(server.address, by_project, voters)


async def _serve_forestd(
    conn: Connection, database_url: str, nats_url: str, projects: int, per_project: int
) -> None:
    async with common.started_forestd(database_url, nats_url) as server:
        conn.send(await _seed(server, projects, per_project))
        await common.until_stopped(conn)


# ---- what the channel shows ---------------------------------------------------------------------


@dataclass
class Expectation:
    ts: str
    showing: str
    future: asyncio.Future[float]


@dataclass
class Channel:
    """Every post and edit of the bot's channel, as the sandbox makes them, and the waits for a
    message to show a text (resolved from inside the sandbox's chat.update handler: no polling
    delay is measured)."""

    sandbox: Sandbox
    channel_id: str
    posts: int = 0
    updates: int = 0  # chat.update calls the sandbox accepted
    visible_edits: int = 0  # ... whose blocks differ from the version they replaced
    _waits: dict[str, list[Expectation]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sandbox.workspace.listeners.append(self._on_change)

    def close(self) -> None:
        self.sandbox.workspace.listeners.remove(self._on_change)

    def counts(self) -> tuple[int, int, int]:
        return self.posts, self.updates, self.visible_edits

    def message(self, ts: str) -> Message:
        found = self.sandbox.workspace.message(self.channel_id, ts)
        assert found is not None, ts
        return found

    def shows(self, ts: str, text: str) -> bool:
        return text in json.dumps(self.message(ts).blocks or [])

    def top_level(self) -> list[Message]:
        return self.sandbox.workspace.top_level(self.channel_id)

    def _on_change(self, event: dict[str, Any]) -> None:
        if event.get("channel") != self.channel_id:
            return
        kind = event.get("kind")
        if kind == "message":
            self.posts += 1
            return
        if kind != "message_changed":
            return
        message = self.sandbox.workspace.message(self.channel_id, str(event.get("ts")))
        if message is None or not message.edits:
            return
        self.updates += 1
        if message.edits[-1].blocks != message.blocks:
            self.visible_edits += 1
        waits = self._waits.get(message.ts)
        if waits:
            shown = json.dumps(message.blocks or [])
            now = time.perf_counter()
            for wait in [w for w in waits if w.showing in shown]:
                waits.remove(wait)
                if not wait.future.done():
                    wait.future.set_result(now)

    async def wait_showing(self, ts: str, showing: str, within: float) -> float | None:
        """perf_counter when message ts first shows `showing` from now on (now if it already
        does); None if not within `within` seconds."""
        if self.shows(ts, showing):
            return time.perf_counter()
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        wait = Expectation(ts, showing, future)
        self._waits.setdefault(ts, []).append(wait)
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            return None
        finally:
            with contextlib.suppress(ValueError):
                self._waits.get(ts, []).remove(wait)


# ---- the bots ------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """VmRSS of the process, in MB (/proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def poll_until(
    read: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], within: float
) -> Any:
    """Poll read() every 50 ms until holds(value); the value (AssertionError after within)."""
    deadline = time.monotonic() + within
    while not holds(value := await read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within:.0f} s (last: {value})")
        await asyncio.sleep(0.05)
    return value


class RealBot:
    """forest-bot run: its signals and refreshes from /metrics."""

    kind: Kind = "real"

    def __init__(self, process: BotProcess) -> None:
        self.process = process
        self.pid = process.pid

    async def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        key = (name, frozenset((labels or {}).items()))
        return (await self.process.metrics()).get(key, 0.0)

    async def signals(self) -> float:
        return await self.sample("forest_bot_signals_total", {"source": "nats"})

    async def caught_up(self, signals_at_least: float, within: float) -> None:
        """Every signal counted, then the refresh queue empty with no refresh finishing
        over three polls in a row (the refresher has nothing left to do)."""
        await poll_until(self.signals, lambda n: n >= signals_at_least, within)
        quiet, last = 0, -1.0
        deadline = time.monotonic() + within
        while quiet < 3:
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot's refresher still busy after {within:.0f} s")
            depth = await self.sample("forest_bot_refresh_queue_depth")
            done = await self.sample("forest_bot_refresh_seconds_count")
            quiet = quiet + 1 if depth == 0 and done == last else 0
            last = done
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        return await self.process.stop()


class NaiveBotProcess:
    """bench/naive_bot.py: its counts from /stats."""

    kind: Kind = "naive"

    def __init__(self, process: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        import aiohttp

        self.process = process
        self.pid = process.pid
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> NaiveBotProcess:
        port = free_port()
        log_path = cwd / "naive-bot.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "naive_bot.py"),
                cwd=cwd,
                env={**os.environ, **env, "NAIVE_HTTP_PORT": str(port)},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, port, log_path)

    async def stats(self) -> dict[str, Any]:
        import aiohttp

        if self.process.returncode is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"naive bot exited with {self.process.returncode}:\n{tail}")
        try:
            async with self._http.get(f"{self.base_url}/stats") as response:
                return dict(await response.json())
        except aiohttp.ClientConnectionError:
            return {}

    async def signals(self) -> float:
        return float((await self.stats()).get("signals", 0))

    async def caught_up(self, signals_at_least: float, within: float) -> None:
        def done(s: dict[str, Any]) -> bool:
            return (
                s.get("signals", 0) >= signals_at_least
                and s["handled"] + s["ignored"] >= s["signals"]
                and s["in_flight"] == 0
            )

        await poll_until(self.stats, done, within)

    async def stop(self) -> int:
        await self._http.close()
        if self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 30)
        return self.process.returncode or 0


Bot = RealBot | NaiveBotProcess


# ---- the whole system ----------------------------------------------------------------------------


@dataclass
class LoadSystem:
    kind: Kind
    seeded: Seeded
    sandbox: Sandbox
    channel: Channel
    nats_url: str
    tmp: Path
    bot_database_url: str
    token_key: str
    bot: Bot
    messages: dict[str, str] = field(default_factory=dict)  # intent id -> ts
    startup_seconds: float = 0.0  # bot start to every message posted
    chat_updates_per_minute: int = 0  # the real bot's pace: 0 while Slack's limits are off

    @property
    def intents(self) -> list[str]:
        return [i for ids in self.seeded.projects.values() for i in ids]

    def slack_name(self, voter: Voter) -> str:
        return voter.name  # the sandbox user linked to this Forest voter

    async def stop_real_bot(self) -> None:
        assert isinstance(self.bot, RealBot)
        code = await self.bot.stop()
        if code != 0:
            raise RuntimeError(f"forest-bot exited with {code} on SIGINT")

    async def start_real_bot(self, chat_updates_per_minute: int) -> None:
        """Start the real bot (again) on the same store, paced at chat_updates_per_minute;
        returns once it is healthy and connected."""
        self.chat_updates_per_minute = chat_updates_per_minute
        self.bot = await _start_real(self)


def _bot_settings(system: LoadSystem) -> Any:
    from pydantic import SecretStr

    from bot.config import BotSettings

    app = system.sandbox.workspace.app
    return BotSettings(
        slack_bot_token=SecretStr(app.bot_token),
        slack_app_token=SecretStr(app.app_token),
        slack_signing_secret=SecretStr("load-signing-secret"),
        slack_api_url=system.sandbox.api_url,
        mode="socket",
        http_host="127.0.0.1",
        http_port=free_port(),
        forest_address=system.seeded.address,
        forest_service_token=SecretStr(common.SERVICE_TOKEN),
        nats_url=system.nats_url,
        database_url=system.bot_database_url,
        token_key=SecretStr(system.token_key),
        reconcile_seconds=3600.0,  # the start-up pass only: no periodic re-read mid-run
    )


async def _start_real(system: LoadSystem) -> RealBot:
    """forest-bot run with its chat.update pace (FOREST_BOT_CHAT_UPDATES_PER_MINUTE): 0 while the
    sandbox has no rate limits, Slack's 50 once it has them (system.chat_updates_per_minute)."""
    settings = _bot_settings(system).model_copy(
        update={"chat_updates_per_minute": system.chat_updates_per_minute}
    )
    # LOAD_PROFILE_BOT=<file>: run the bot under pyinstrument (not a project dependency:
    # `.venv/bin/pip install pyinstrument`), its profile written there when it stops
    profile = os.environ.get("LOAD_PROFILE_BOT")
    profiler = ["-m", "pyinstrument", "-r", "text", "-o", profile] if profile else []
    process = await BotProcess.start(settings, cwd=system.tmp, python_args=profiler)
    try:
        system.sandbox.driver.use_socket_mode()
        await process.wait_healthy(SETUP_WITHIN)
        await poll_until(lambda: _socket_connected(process, system.sandbox), bool, SETUP_WITHIN)
    except BaseException:
        with contextlib.suppress(Exception):
            await process.stop()
        raise
    return RealBot(process)


async def _socket_connected(process: BotProcess, sandbox: Sandbox) -> bool:
    await process.healthy()  # raises if the child has exited
    return sandbox.socket_mode.connected.is_set()


async def _start_naive(system: LoadSystem) -> NaiveBotProcess:
    env = {
        "NAIVE_SLACK_API_URL": system.sandbox.api_url,
        "NAIVE_SLACK_BOT_TOKEN": system.sandbox.workspace.app.bot_token,
        "NAIVE_CHANNEL": system.channel.channel_id,
        "NAIVE_FOREST_ADDRESS": system.seeded.address,
        "NAIVE_FOREST_TOKEN": common.SERVICE_TOKEN,
        "NAIVE_NATS_URL": system.nats_url,
        "NAIVE_PROJECTS": ",".join(f"{ORGANISATION}/{p}" for p in system.seeded.projects),
        "NAIVE_DATABASE_URL": system.bot_database_url,
        "NAIVE_TOKEN_KEY": system.token_key,
        "PYTHONPATH": str(HERE.parent),
    }
    return await NaiveBotProcess.start(env, system.tmp)


async def _seed_bot_store(system: LoadSystem, subscribe: bool) -> None:
    """The voters linked (as the real bot's users would be) and, for the real bot, the
    channel subscribed to every project."""
    from bot.store import Store, TokenCipher

    ws = system.sandbox.workspace
    store = await Store.open(system.bot_database_url, TokenCipher(system.token_key))
    try:
        for voter in system.seeded.voters:
            user = ws.user(voter.name)
            assert user is not None
            await store.link_user(ws.app.team_id, user.id, voter.user_id, voter.name, voter.token)
        if subscribe:
            for project in system.seeded.projects:
                await store.subscribe(
                    ws.app.team_id,
                    system.channel.channel_id,
                    ORGANISATION,
                    project,
                    created_by="bench/load.py",
                )
    finally:
        await store.close()


def _map_messages(system: LoadSystem) -> dict[str, str]:
    """intent id -> ts of its message, found by the intent id in the message's buttons."""
    found: dict[str, str] = {}
    wanted = set(system.intents)
    for message in system.channel.top_level():
        text = json.dumps(message.blocks or [])
        for intent_id in wanted - found.keys():
            if intent_id in text:
                found[intent_id] = message.ts
                break
    return found


@asynccontextmanager
async def load_system(
    kind: Kind, database_url: str, nats_url: str, projects: int, per_project: int
) -> AsyncIterator[LoadSystem]:
    """Seeded forestd (child), the sandbox (here) and the bot (child), every message posted."""
    from bot.store import TokenCipher

    with (
        common.server_process(
            _serve_forestd, database_url, nats_url, projects, per_project
        ) as seeded,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(stack.enter_context(_tempdir()))
        sandbox = Sandbox(port=0)
        await sandbox.start()
        try:
            ws = sandbox.workspace
            deploys = ws.channel(CHANNEL)
            assert deploys is not None
            for voter in seeded.voters:
                deploys.members.append(ws.add_user(voter.name).id)
            channel = Channel(sandbox, deploys.id)
            system = LoadSystem(
                kind=kind,
                seeded=seeded,
                sandbox=sandbox,
                channel=channel,
                nats_url=nats_url,
                tmp=tmp,
                bot_database_url=f"sqlite+aiosqlite:///{tmp / f'{kind}-bot.db'}",
                token_key=TokenCipher.generate_key(),
                bot=None,  # type: ignore[arg-type]  # set just below
            )
            await _seed_bot_store(system, subscribe=kind == "real")
            started = time.perf_counter()
            system.bot = await (_start_real(system) if kind == "real" else _start_naive(system))
            total = len(system.intents)
            await poll_until(lambda: _posted(channel), lambda n: n >= total, SETUP_WITHIN)
            system.startup_seconds = time.perf_counter() - started
            await system.bot.caught_up(0, SETUP_WITHIN)
            system.messages = _map_messages(system)
            if len(system.messages) != total:
                raise RuntimeError(f"{len(system.messages)} of {total} messages found")
            try:
                yield system
            finally:
                channel.close()
                code = await system.bot.stop()
                if code != 0:
                    print(f"{kind} bot exited with {code}", flush=True)
        finally:
            await sandbox.stop()


async def _posted(channel: Channel) -> int:
    return channel.posts


@contextlib.contextmanager
def _tempdir() -> Any:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="forest-load-") as tmp:
        yield tmp
