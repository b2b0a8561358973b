"""Fixtures: a real sandbox server on 127.0.0.1:0, and a Bolt app served on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox

SIGNING_SECRET = "sandbox-test-signing-secret"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> AsyncWebClient:
    return sandbox.client()


def bolt_app(sandbox: Sandbox, **kwargs: object) -> AsyncApp:
    """A Bolt AsyncApp talking to the sandbox, verifying signatures with SIGNING_SECRET."""
    return AsyncApp(client=sandbox.client(), signing_secret=SIGNING_SECRET, **kwargs)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serve_bolt(app: AsyncApp) -> AsyncIterator[str]:
    """Serve `app` with Bolt's aiohttp adapter on a free port; yields its request URL."""
    runner = web.AppRunner(app.web_app(path="/slack/events"), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until `check()` holds (a Bolt listener goes on after its ack)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
