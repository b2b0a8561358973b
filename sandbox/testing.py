"""Helpers for tests that drive a bot through the sandbox (ours and other packages' e2e tests).

    async with Sandbox() as sb, serve_bolt(app) as url:
        sb.driver.use_http(url, secret)
        await sb.driver.click("bob", message=sb.workspace.last_message("deploys"), action_id=...)
        await eventually(lambda: sb.workspace.last_message("deploys").edit_count == 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from slack_bolt.async_app import AsyncApp


@contextlib.asynccontextmanager
async def serve_bolt(app: AsyncApp, *, path: str = "/slack/events",
                     host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve a Bolt AsyncApp with Bolt's aiohttp adapter on a free port; yields its URL."""
    runner = web.AppRunner(app.web_app(path=path), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until `check()` holds: a Bolt listener goes on after its ack()."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)
