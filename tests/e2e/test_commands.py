"""`/forest` commands and the App Home tab, as a person sees their answers; a long plan arrives
in the thread as a file."""

from __future__ import annotations

from pathlib import Path

from blocks import ids
from bot.devsystem import DevSystem
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, last_ephemeral, release_message, thread_text
from .test_story import WAIT


async def test_commands_and_home(tmp_path: Path, nats_url: str) -> None:
    async with DevSystem(options(tmp_path, nats_url)) as system:
        assert system.sandbox is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver

        await driver.command("bob", "help")
        await eventually(lambda: "/forest subscribe" in last_ephemeral(ws, "bob"), WAIT)
        await driver.command("bob", "list")
        await eventually(lambda: "acme/api" in last_ephemeral(ws, "bob"), WAIT)
        await driver.command("bob", "subscribe nonsense")
        await eventually(lambda: "didn't understand" in last_ephemeral(ws, "bob"), WAIT)
        await driver.command("bob", "subscribe acme/nope")
        await eventually(lambda: "no project" in last_ephemeral(ws, "bob"), WAIT)
        await driver.command("bob", "frobnicate")
        await eventually(lambda: "frobnicate" in last_ephemeral(ws, "bob"), WAIT)

        await system.release("bob")
        await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(release_message(ws)), WAIT)
        await driver.command("carol", "pending")
        await eventually(lambda: "plan" in last_ephemeral(ws, "carol").lower(), WAIT)
        assert "production" in last_ephemeral(ws, "carol")

        carol = ws.user("carol")
        assert carol is not None
        await driver.open_home("carol")
        await eventually(lambda: ws.home_view(carol.id) is not None, WAIT)
        home = str(ws.home_view(carol.id).body)  # type: ignore[union-attr]
        assert "carol" in home and "acme/api" in home

        await driver.command("alice", "unsubscribe acme/api")
        await eventually(lambda: "no longer follows" in last_ephemeral(ws, "alice"), WAIT)
        await driver.command("alice", "list")
        await eventually(lambda: "acme/api" not in last_ephemeral(ws, "alice"), WAIT)


async def test_a_long_plan_arrives_as_a_file_in_the_thread(tmp_path: Path, nats_url: str) -> None:
    async with DevSystem(options(tmp_path, nats_url, plan_lines=20_000)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        await system.release("bob")
        await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(release_message(ws)), WAIT)
        message = release_message(ws)
        assert message is not None
        await eventually(
            lambda: any(r.files for r in ws.replies(message.channel, message.ts)), WAIT
        )
        assert "to add" in thread_text(ws, message)
        files = [f for r in ws.replies(message.channel, message.ts) for f in r.files]
        assert files
