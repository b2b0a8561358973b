"""`forest-bot dev` tried in headless Chromium, as a newcomer would.

1. The command itself, in a subprocess: `forest-bot dev --demo --json --port 0`, its JSON read
   from stdout, the sandbox opened as bob until #deploys shows the release; then Ctrl-C (SIGINT)
   and nothing it started is left running or listening.
2. The whole story clicked through in the browser (never the driver), on an in-process
   DevSystem: carol reads the plan in the thread and approves it (through Slack's confirm
   dialog), alice approves, carol approves, and the message ends as a succeeded release with no
   buttons.

Screenshots go to test-output/e2e/ (01-…, 02-…, in story order).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from blocks import ids
from bot.devsystem import DevSystem
from sandbox.testing import eventually
from tests.e2e.conftest import options
from tests.sandbox.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
VIEWPORT = {"width": 1400, "height": 1100}
# Generous: a release goes through staging, a plan and a soak before it needs people.
UI_TIMEOUT_MS = 60_000
READY_SECONDS = 90.0
EXIT_SECONDS = 30.0

ALICE, CAROL = "U0ALICE001", "U0CAROL001"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.skip(
            "no chromium binary on PATH (Debian: apt-get install chromium); "
            "scripts/test installs it when run as root"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Any, url: str, errors: list[str]) -> Any:
    page = await browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    return page


async def screenshot(page: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUTPUT / name))


def release_message(page: Any) -> Any:
    """The bot's release message for acme/api in the channel (not in the thread pane)."""
    return page.locator("#messages article.message", has=page.locator("h3", has_text="acme/api"))


# -- 1. the command, as a newcomer runs it ---------------------------------------------------


def forest_bot_command() -> list[str]:
    script = Path(sys.executable).with_name("forest-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


async def read_first_json(stream: asyncio.StreamReader) -> dict[str, Any]:
    """The first complete JSON object on `stream` (`--json` prints one, indented, once ready)."""
    decoder = json.JSONDecoder()
    text = ""
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"stdout ended before a complete JSON object: {text!r}")
        text += line.decode()
        start = text.find("{")
        if start < 0:
            continue
        with contextlib.suppress(json.JSONDecodeError):
            found, _ = decoder.raw_decode(text, start)
            assert isinstance(found, dict), text
            return found


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        return await asyncio.wait_for(process.wait(), EXIT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"forest-bot dev ignored SIGINT for {EXIT_SECONDS} s") from None


async def test_dev_demo_shows_the_release_and_ctrl_c_stops_everything(
    browser: Any, tmp_path: Path
) -> None:
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *forest_bot_command(),
            "dev",
            "--demo",
            "--json",
            "--port",
            "0",
            "--state-dir",
            str(tmp_path / "state"),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        assert process.stdout is not None
        try:
            info = await asyncio.wait_for(read_first_json(process.stdout), READY_SECONDS)
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(
                f"no JSON from forest-bot dev ({exc!r}); stderr:\n{stderr_path.read_text()}"
            ) from None
        assert info["project"] == "acme/api" and info["channel"] == "#deploys"
        assert info["demo_release"], info
        started = child_pids(process.pid)

        errors: list[str] = []
        page = await open_page(browser, f"{info['sandbox_url']}?user=bob", errors)
        message = release_message(page)
        await message.locator("h3", has_text="acme/api").wait_for()
        await page.locator("#channel-header", has_text="# deploys").wait_for()
        assert await page.locator("#user-picker").input_value() == info["users"]["bob"]["slack_id"]
        await message.locator(".author", has_text="forest").wait_for()
        await screenshot(page, "01-release-in-deploys.png")
        assert errors == []
        await page.close()
    finally:
        code = await stop(process)

    assert code == 0, stderr_path.read_text()
    sandbox = urlsplit(info["sandbox_url"])
    assert sandbox.hostname is not None and sandbox.port is not None
    assert refuses(sandbox.hostname, sandbox.port), "the sandbox still listens"
    forest_host, forest_port = info["forest_address"].rsplit(":", 1)
    assert refuses(forest_host, int(forest_port)), "forestd still listens"
    await eventually(lambda: all(process_gone(pid) for pid in started), within=EXIT_SECONDS)


# -- 2. the story, clicked in the browser ----------------------------------------------------


async def switch_user(page: Any, slack_id: str, *, shown: Any) -> None:
    """Sign in as someone else with the page's own picker; `shown` appears once the page has
    re-read the workspace as them."""
    await page.locator("#user-picker").select_option(slack_id)
    await shown.wait_for()


async def test_plan_and_approvals_clicked_through_in_the_browser(
    browser: Any, tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, soak_seconds=1)) as system:
        assert system.sandbox is not None
        await system.release("bob")
        errors: list[str] = []
        page = await open_page(browser, f"{system.sandbox.base_url}?user=carol", errors)
        message = release_message(page)
        plan_approve = message.locator(f'button[data-action-id="{ids.ACTION_PLAN_APPROVE}"]')
        approve = message.locator(f'button[data-action-id="{ids.ACTION_APPROVE}"]')

        # The plan for production waits for a decision; it is posted in the thread.
        await plan_approve.wait_for()
        await message.get_by_text("awaiting approval").first.wait_for()
        await message.locator(".replies:not(.quiet)").click()
        thread = page.locator("#thread")
        await thread.locator("article.message", has_text="to add").first.wait_for()
        await thread.locator("pre").first.wait_for()
        await screenshot(page, "02-plan-in-thread.png")

        # Approve plan: Slack's confirm dialog first
        await plan_approve.click()
        dialog = page.locator(".dialog.confirm", has_text="Approve this plan?")
        await dialog.wait_for()
        await dialog.get_by_text("A plan decision is final.").wait_for()
        await screenshot(page, "03-confirm-approve-plan.png")
        await dialog.locator(".confirm-ok", has_text="Approve plan").click()
        await dialog.wait_for(state="detached")
        await message.get_by_text("plan production · approved by").wait_for()
        await plan_approve.wait_for(state="detached")
        mine = page.locator("#messages article.message.ephemeral")
        await mine.get_by_text("You approved the plan for production").wait_for()
        # everyone else learns who decided from a notice in the thread
        await message.locator(".replies", has_text="2 replies").wait_for()
        notice = thread.locator("article.message", has_text="approved the plan for production")
        await notice.locator(".mention", has_text="@carol").wait_for()
        await notice.scroll_into_view_if_needed()
        await screenshot(page, "04-plan-approved.png")

        # alice approves the production gate (carol's ephemeral answer is not hers to see)
        await switch_user(page, ALICE, shown=page.locator("#messages:not(:has(.ephemeral))"))
        await approve.click()
        await message.get_by_text("approvals 1/2").first.wait_for()
        await message.locator(".mention", has_text="@alice").wait_for()
        await mine.get_by_text("Your approval for production is recorded").wait_for()
        await screenshot(page, "05-alice-approved.png")

        # carol's approval is the second: the release goes to production and succeeds
        await switch_user(page, CAROL, shown=mine.get_by_text("You approved the plan"))
        await approve.click()
        await message.get_by_text("Release succeeded").wait_for()
        await message.locator("h3", has_text="✅").wait_for()
        await message.get_by_text("deploy production · deployed").wait_for()
        await message.get_by_text("approvals 2/2").first.wait_for()
        # carol twice: who approved the plan, and her vote in the gate's history
        await message.locator(".mention", has_text="@carol").nth(1).wait_for()
        assert await message.locator("button[data-action-id]").count() == 0
        assert await message.locator(".block-actions").count() == 0
        await screenshot(page, "06-release-succeeded.png")

        assert await page.locator("#toast.error:visible").count() == 0
        assert errors == []
