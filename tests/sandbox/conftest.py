"""Fixtures: a real sandbox server on 127.0.0.1:0, and a Bolt app served on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox
from sandbox.testing import eventually, serve_bolt

__all__ = ["SIGNING_SECRET", "bolt_app", "eventually", "serve_bolt"]

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
