"""Helpers for tests that drive a bot through the sandbox (ours and other packages' e2e tests).

async with Sandbox() as sb, serve_bolt(app) as url:
    sb.driver.use_http(url, secret)
    await sb.driver.click("bob", message=sb.workspace.last_message("deploys"), action_id=...)
    await eventually(lambda: sb.workspace.last_message("deploys").edit_count == 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, overload

from aiohttp import web
from slack_bolt.async_app import AsyncApp


@contextlib.asynccontextmanager
async def serve_bolt(
    app: AsyncApp, *, path: str = "/slack/events", host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve a Bolt AsyncApp with Bolt's aiohttp adapter on a free port; yields its URL."""
    runner = web.AppRunner(app.web_app(path=path), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


T = TypeVar("T")

# A give-up bound for a hung test, not a speed assertion: generous so a slow CI machine passes.
EVENTUALLY_WITHIN = 30.0


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float = ..., *, what: str = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None], within: float = ..., *, what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any], within: float = EVENTUALLY_WITHIN, *, what: str = ""
) -> Any:
    """Wait until `check()` gives something truthy and return it (a Bolt listener goes on after
    its ack(); a server commits after it answers).

    `check` may be sync or async. An AssertionError it raises counts as "not yet", and the last
    one is reported if the wait gives up. `within` (seconds) is only a give-up bound so a hung
    test fails instead of hanging; it asserts nothing about speed (that belongs in bench/), so
    keep it generous. `what` names the condition in the failure message.
    """
    deadline = time.monotonic() + within
    last_failure: AssertionError | None = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except AssertionError as failure:
            last_failure = failure
        if time.monotonic() > deadline:
            message = f"{what or 'condition'} not met within {within} s"
            if last_failure is not None:
                message += f"; last check failed: {last_failure}"
            raise AssertionError(message) from last_failure
        await asyncio.sleep(0.02)
