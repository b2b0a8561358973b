"""The bot SIGKILLed mid-burst (`forest-bot run` in its own process, no clean-up at all) and
started again: every message converges on what Forest holds, one message per release, no vote
lost or doubled, and a click acked before the kill is answered or visibly not recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from blocks import ids
from bot.botprocess import BotProcess, free_port
from bot.devsystem import DevSystem
from bot.embedded_nats import EmbeddedNats
from sandbox.delivery import Ack
from sandbox.records import Message
from sandbox.state import Workspace
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, shown
from .test_resilience import vote_over_grpc
from .test_story import approval_state

RELEASES = 30
KILL_AFTER_CLICKS = 8  # alice's acked clicks before the SIGKILL
VOTERS = ("alice", "carol")  # bob releases; his id shows as the author
WITHIN = 60.0  # give-up bound for a hung test, not a speed figure


async def start_bot_child(system: DevSystem, cwd: Path) -> BotProcess:
    """`forest-bot run` against the system; returned once healthy and connected to Slack."""
    assert system.sandbox is not None
    sandbox = system.sandbox
    process = await BotProcess.start(system.bot_settings(), cwd=cwd)
    sandbox.driver.use_socket_mode()

    async def connected() -> bool:
        return await process.healthy() and sandbox.socket_mode.connected.is_set()

    try:
        await eventually(connected, WITHIN, what="the bot's health and Socket Mode connection")
    except BaseException:
        await process.kill()
        raise
    return process


@asynccontextmanager
async def child_system(tmp_path: Path, **overrides: object) -> AsyncIterator[DevSystem]:
    """The whole system with its own nats-server and no bot (the test runs it as a child)."""
    with EmbeddedNats(tmp_path / "nats") as nats:
        opts = options(
            tmp_path,
            nats.url,
            run_bot=False,
            bot_http_port=free_port(),
            soak_seconds=1,
            plan_lines=5,
            **overrides,
        )
        async with DevSystem(opts) as system:
            yield system


def message_of(ws: Workspace, channel_id: str, intent_id: str) -> Message | None:
    """The top-level message whose blocks point at this intent (its buttons carry the id)."""
    found = [m for m in ws.top_level(channel_id) if intent_id in json.dumps(m.blocks or [])]
    return found[-1] if found else None


async def matches_forest(system: DevSystem, ws: Workspace, channel_id: str, intent: str) -> bool:
    """The message shows Forest's count and exactly the voters Forest holds."""
    message = message_of(ws, channel_id, intent)
    if message is None:
        return False
    state = await approval_state(system, intent)
    text = shown(message)
    if f"approvals {state.current_approvals}/{state.required_approvals}" not in text:
        return False
    voters = {d.username for d in state.decisions}
    return all((system.users[name].slack_id in text) == (name in voters) for name in VOTERS)


async def all_match(system: DevSystem, ws: Workspace, channel_id: str, intents: list[str]) -> bool:
    for intent in intents:
        if not await matches_forest(system, ws, channel_id, intent):
            return False
    return True


async def votable(ws: Workspace, channel_id: str, intent_id: str) -> Message:
    """The release's message once it offers Approve."""

    def found() -> Message | None:
        message = message_of(ws, channel_id, intent_id)
        return message if message is not None and ids.ACTION_APPROVE in buttons(message) else None

    return await eventually(found, WITHIN, what=f"an Approve button for {intent_id}")


def recorded_answers(ws: Workspace, user_id: str) -> int:
    return sum("is recorded" in e.text for e in ws.ephemerals_for(user_id))


async def test_sigkill_mid_burst_then_restart_converges(tmp_path: Path) -> None:
    async with child_system(tmp_path) as system:
        assert system.sandbox is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        deploys = ws.channel("deploys")
        assert deploys is not None
        alice = system.users["alice"]
        bot = await start_bot_child(system, tmp_path)
        try:
            intents: list[str] = []
            carol_votes: list[asyncio.Task[None]] = []

            async def burst() -> None:
                for n in range(RELEASES):
                    intent = await system.release("bob", title=f"burst {n}")
                    intents.append(intent)
                    carol_votes.append(asyncio.create_task(vote_over_grpc(system, "carol", intent)))

            releasing = asyncio.create_task(burst())
            acked: list[str] = []  # intents whose Approve click the bot acked
            clicked: list[str] = []  # every click Slack delivered, acked in time or not
            while len(acked) < KILL_AFTER_CLICKS:
                await eventually(lambda: len(intents) > len(clicked), WITHIN)
                intent = intents[len(clicked)]
                message = await votable(ws, deploys.id, intent)
                ack: Ack = await driver.click(
                    "alice", message=message, action_id=ids.ACTION_APPROVE
                )
                clicked.append(intent)
                # On a loaded machine an ack can miss Slack's 3 s: Slack shows alice an error,
                # and the bot may still handle the click; the invariants below hold either way.
                if ack.ok:
                    acked.append(intent)

            assert await bot.kill() == -9  # mid-burst: answers and refreshes still in flight
            answered_before_kill = recorded_answers(ws, alice.slack_id)
            hub = system.sandbox.socket_mode
            await eventually(lambda: not hub.connected.is_set(), WITHIN)
            # A click while no bot runs: Slack shows the person the failure, nothing is recorded.
            # (the next release's message if the burst has posted it yet, else the last clicked)
            target = intents[len(clicked)] if len(intents) > len(clicked) else clicked[-1]
            down = message_of(ws, deploys.id, target)
            if down is not None and ids.ACTION_APPROVE in buttons(down):
                refused = await driver.click("alice", message=down, action_id=ids.ACTION_APPROVE)
                assert not refused.ok and refused.error
            await releasing  # the rest of the burst lands while the bot is down
            await asyncio.gather(*carol_votes)

            bot = await start_bot_child(system, tmp_path)
            await eventually(lambda: all_match(system, ws, deploys.id, intents), WITHIN)

            # No false "recorded": every answer alice got is a vote Forest holds.
            alice_votes = [
                i
                for i in intents
                if any(d.username == "alice" for d in (await approval_state(system, i)).decisions)
            ]
            assert set(alice_votes) <= set(clicked)
            assert answered_before_kill <= recorded_answers(ws, alice.slack_id) <= len(alice_votes)
            # An acked click with no vote in Forest is visibly not recorded: the message still
            # offers alice the button and does not name her (checked by all_match above).
            for intent in set(acked) - set(alice_votes):
                unrecorded = message_of(ws, deploys.id, intent)
                assert unrecorded is not None and ids.ACTION_APPROVE in buttons(unrecorded)

            # alice approves whatever she has not yet; everything reaches its final state.
            for intent in intents:
                if intent in alice_votes:
                    continue
                message = await votable(ws, deploys.id, intent)
                ack = await driver.click("alice", message=message, action_id=ids.ACTION_APPROVE)
                assert ack.ok, ack.error
            await eventually(lambda: all_match(system, ws, deploys.id, intents), WITHIN)

            for intent in intents:
                state = await approval_state(system, intent)
                assert state.current_approvals == 2
                assert sorted(d.username for d in state.decisions) == ["alice", "carol"]
                final = message_of(ws, deploys.id, intent)
                assert final is not None and "approvals 2/2" in shown(final)
                assert ids.ACTION_APPROVE not in buttons(final)
            top_level = ws.top_level(deploys.id)
            assert len(top_level) == RELEASES  # exactly one message per release
            assert all(sum(i in json.dumps(m.blocks) for m in top_level) == 1 for i in intents)
        finally:
            with suppress(Exception):
                await bot.stop()
