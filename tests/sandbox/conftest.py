"""Fixtures: a real sandbox server on 127.0.0.1:0, and a Bolt app served on a real port.

The `sandbox` fixture grants the bot its manifest's scopes plus READBACK_SCOPES: the bot never
reads channels or files back, but these tests do, to check what it wrote.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.scopes import manifest_bot_scopes
from sandbox.server import Sandbox
from sandbox.testing import eventually, serve_bolt

__all__ = ["SIGNING_SECRET", "TEST_SCOPES", "bolt_app", "eventually", "serve_bolt"]

SIGNING_SECRET = "sandbox-test-signing-secret"
READBACK_SCOPES = ("channels:read", "channels:history", "groups:read", "groups:history",
                   "im:read", "im:history", "files:read")
TEST_SCOPES = (*manifest_bot_scopes(), *READBACK_SCOPES)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(scopes=TEST_SCOPES) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> AsyncWebClient:
    return sandbox.client()


def bolt_app(sandbox: Sandbox, **kwargs: object) -> AsyncApp:
    """A Bolt AsyncApp talking to the sandbox, verifying signatures with SIGNING_SECRET."""
    return AsyncApp(client=sandbox.client(), signing_secret=SIGNING_SECRET, **kwargs)  # type: ignore[arg-type]
