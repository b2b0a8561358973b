"""Slack refusing the bot for good: a channel archived or the bot removed from it (the channel's
subscriptions are dropped with one log line), and a revoked token (health fails, the bot stops
calling Slack and keeps running, so no restart loop; only a human fixing SLACK_BOT_TOKEN and
restarting the bot brings it back). A deleted message is tests/e2e/test_slack_trouble.py's."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from blocks import ids
from bot.botprocess import BotProcess
from bot.devsystem import DevSystem
from sandbox.records import Channel
from sandbox.state import Workspace
from sandbox.testing import eventually

from .conftest import options
from .story import last_ephemeral, shown
from .test_kill import WITHIN, child_system, message_of, start_bot_child, votable
from .test_resilience import vote_over_grpc
from .test_story import approval_state


def gone_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]


async def answered(system: DevSystem, user: str, command: str, channel: str) -> str:
    """What `user` is answered (an ephemeral) to `/forest <command>` in `channel`."""
    assert system.sandbox is not None
    ws = system.sandbox.workspace
    person = system.users[user].slack_id
    before = len(ws.ephemerals_for(person))
    await system.sandbox.driver.command(user, command, channel=channel)
    await eventually(lambda: len(ws.ephemerals_for(person)) > before, WITHIN, what=command)
    return last_ephemeral(ws, user)


async def subscribe(system: DevSystem, channel: str) -> None:
    """alice runs `/forest subscribe acme/api` in `channel`."""
    assert "now follows" in await answered(system, "alice", "subscribe acme/api", channel)


async def subscribed_release(system: DevSystem, channel: str) -> tuple[Channel, str]:
    """alice subscribes `channel` to acme/api; bob releases; its message is there."""
    assert system.sandbox is not None
    ws = system.sandbox.workspace
    await subscribe(system, channel)
    found = ws.channel(channel)
    assert found is not None
    intent = await system.release("bob", title=f"release in #{channel}")
    await eventually(lambda: message_of(ws, found.id, intent), WITHIN)
    return found, intent


def private_ops(ws: Workspace) -> Channel:
    humans = [u.id for u in ws.users.values() if not u.is_bot]
    return ws.add_channel("ops", members=[*humans, ws.app.bot_user_id], is_private=True)


async def test_an_archived_channel_is_dropped_with_one_log_line(
    tmp_path: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with DevSystem(options(tmp_path, nats_url, subscribe=False)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        ops = private_ops(ws)  # a second follower of acme/api, to see the votes land
        await subscribe(system, "ops")
        _, intent = await subscribed_release(system, "deploys")
        await eventually(lambda: message_of(ws, ops.id, intent), WITHIN)
        ws.archive_channel("deploys")

        with caplog.at_level(logging.INFO):
            await vote_over_grpc(system, "carol", intent)  # #deploys' update: is_inactive
            await eventually(lambda: gone_lines(caplog), WITHIN, what="the channel dropped")
            assert "acme/api" not in await answered(system, "alice", "list", "deploys")
            await vote_over_grpc(system, "alice", intent)
            await eventually(lambda: "2/2" in shown(message_of(ws, ops.id, intent)), WITHIN)
        assert len(gone_lines(caplog)) == 1 and "is_inactive" in gone_lines(caplog)[0]
        # Once dropped, the archived channel is left alone: one refused call, no more.
        assert [a for a in system.sandbox.web_api.answers if a[1] == "is_inactive"] == [
            ("chat.update", "is_inactive")
        ]


async def test_a_private_channel_the_bot_left_is_dropped_with_one_log_line(
    tmp_path: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with DevSystem(options(tmp_path, nats_url, subscribe=False)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        private_ops(ws)
        _, intent = await subscribed_release(system, "ops")
        ws.remove_member("ops", ws.app.bot_user_id)

        with caplog.at_level(logging.INFO):
            await vote_over_grpc(system, "carol", intent)  # the update: channel_not_found
            await eventually(lambda: gone_lines(caplog), WITHIN, what="the channel dropped")
            assert "acme/api" not in await answered(system, "alice", "list", "ops")
        assert len(gone_lines(caplog)) == 1 and "channel_not_found" in gone_lines(caplog)[0]


async def test_whoever_subscribed_a_gone_channel_is_told_by_dm(
    tmp_path: Path, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with DevSystem(options(tmp_path, nats_url, subscribe=False)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        deploys, intent = await subscribed_release(system, "deploys")
        ws.archive_channel("deploys")
        with caplog.at_level(logging.INFO):
            await vote_over_grpc(system, "carol", intent)
            await eventually(lambda: gone_lines(caplog), WITHIN, what="the channel dropped")
        # drop_gone_channel sends the DM before its log line: no wait needed.
        dm = ws.im_with(system.users["alice"].slack_id)
        [notice] = ws.top_level(dm.id)
        assert f"<#{deploys.id}>" in notice.text and "acme/api" in notice.text


async def healthz(bot: BotProcess) -> tuple[int, str]:
    """The bot's /healthz as its supervisor reads it: status and body."""
    async with aiohttp.ClientSession() as session, session.get(f"{bot.base_url}/healthz") as got:
        return got.status, await got.text()


@pytest.mark.parametrize("refusal", ["token_revoked", "invalid_auth"])
async def test_a_revoked_token_fails_health_stops_slack_calls_and_keeps_running(
    tmp_path: Path, refusal: str
) -> None:
    """token_revoked: an admin revoked it (or uninstalled the app); invalid_auth: the token the
    bot holds is no longer known (rotated)."""
    async with child_system(tmp_path) as system:
        assert system.sandbox is not None
        ws, driver, web_api = (
            system.sandbox.workspace,
            system.sandbox.driver,
            system.sandbox.web_api,
        )
        deploys = ws.channel("deploys")
        assert deploys is not None
        bot = await start_bot_child(system, tmp_path)
        try:
            intent = await system.release("bob", title="before the token is revoked")
            message = await votable(ws, deploys.id, intent)
            pid = bot.pid

            ws.revoke_bot_token() if refusal == "token_revoked" else ws.rotate_bot_token()
            await vote_over_grpc(system, "carol", intent)  # its refresh is refused
            await eventually(lambda: _is_503(bot), WITHIN, what="/healthz failing")
            answered = len(web_api.answers)

            # Slack still delivers a click (Socket Mode uses the app token). Bolt authorizes
            # the request with auth.test, which Slack refuses: nothing is done, so nothing is
            # recorded in Forest and nothing is claimed; the person sees no answer (none can be
            # posted with a revoked token). That refused auth.test is the one call left.
            ack = await driver.click("alice", message=message, action_id=ids.ACTION_APPROVE)
            assert ack.ok, ack.error
            await eventually(
                lambda: ("auth.test", refusal) in list(web_api.answers)[answered:], WITHIN
            )
            signals = await signals_handled(bot)
            await vote_over_grpc(system, "alice", intent)  # a signal: the refresher stays idle
            await eventually(lambda: _settled_after(bot, signals), WITHIN, what="signal handled")
            assert [d.username for d in (await approval_state(system, intent)).decisions] == [
                "carol",
                "alice",
            ]
            assert set(list(web_api.answers)[answered:]) == {("auth.test", refusal)}
            # Still the same process, still connected once: no exit, no restart loop.
            assert bot.process.returncode is None and bot.pid == pid
            assert system.sandbox.socket_mode.connection_count == 1
            assert list(web_api.answers).count(("auth.test", "ok")) == 1  # one start-up
        finally:
            code = await bot.stop()
        assert code == 0  # stops cleanly on SIGINT, revoked or not


async def signals_handled(bot: BotProcess) -> float:
    """Signals (NATS, Forest's event stream) the bot has handled so far, from its /metrics."""
    metrics = await bot.metrics()
    return sum(v for (name, _), v in metrics.items() if name == "forest_bot_signals_total")


async def _settled_after(bot: BotProcess, signals: float) -> bool:
    """A new signal was handled and no refresh is waiting."""
    metrics = await bot.metrics()
    depth = metrics.get(("forest_bot_refresh_queue_depth", frozenset()), 0.0)
    return await signals_handled(bot) > signals and depth == 0


async def _is_503(bot: BotProcess) -> bool:
    status, body = await healthz(bot)
    return status == 503 and "slack token revoked" in body


async def test_a_bot_started_with_a_refused_token_stays_up_unhealthy_instead_of_looping(
    tmp_path: Path,
) -> None:
    """A supervisor restarting a bot whose token Slack refuses would restart it for ever: it
    says so in one line, answers /healthz 503 with the reason, calls Slack no more, and stops
    when told to."""
    async with child_system(tmp_path) as system:
        assert system.sandbox is not None
        ws, web_api = system.sandbox.workspace, system.sandbox.web_api
        ws.revoke_bot_token()
        bot = await BotProcess.start(system.bot_settings(), cwd=tmp_path)
        try:

            async def unhealthy() -> bool:
                try:
                    status, body = await healthz(bot)
                except aiohttp.ClientConnectionError:
                    return False  # not listening yet
                return status == 503 and "Slack refused SLACK_BOT_TOKEN (token_revoked)" in body

            await eventually(unhealthy, WITHIN, what="/healthz saying why")
            await eventually(unhealthy, WITHIN)  # asked again: still up
            assert bot.process.returncode is None
            assert list(web_api.answers) == [("auth.test", "token_revoked")]  # one call, ever
        finally:
            code = await bot.stop()
        assert code == 1
        said = [line for line in bot.log_tail(50).splitlines() if "SLACK_BOT_TOKEN" in line]
        assert said == ["forest-bot: Slack refused SLACK_BOT_TOKEN (token_revoked)"]
