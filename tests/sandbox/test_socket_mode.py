"""Socket Mode: Bolt's AsyncSocketModeHandler connects to the sandbox and answers envelopes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox
from tests.sandbox.conftest import eventually
from tests.sandbox.test_driver_http import REJECT_MODAL


@contextlib.asynccontextmanager
async def socket_mode_bot(sandbox: Sandbox, app: AsyncApp) -> AsyncIterator[None]:
    handler = AsyncSocketModeHandler(app, sandbox.workspace.app.app_token)
    await handler.connect_async()
    try:
        await asyncio.wait_for(sandbox.socket_mode.connected.wait(), 5)
        yield
    finally:
        await handler.close_async()


async def test_socket_mode_round_trip_with_bolt(sandbox: Sandbox) -> None:
    # No signing secret in Socket Mode: the websocket is the authentication.
    app = AsyncApp(client=sandbox.client())
    seen: list[dict[str, Any]] = []

    @app.command("/forest")
    async def forest(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append(body)
        if body["text"] == "reject":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=REJECT_MODAL)
        else:
            await ack(text=f"You said {body['text']}")

    @app.view("forest.reject.v1")
    async def submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        await ack(response_action="errors", errors={"comment": "Not via socket"})

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "home"}}]})

    sandbox.driver.use_socket_mode()
    async with socket_mode_bot(sandbox, app):
        assert sandbox.socket_mode.connection_count == 1
        ws = sandbox.workspace

        ack = await sandbox.driver.command("bob", "hello")
        assert ack.ok and ack.body == {"text": "You said hello"}
        [eph] = ws.ephemerals_for("U0BOB00001")
        assert eph.text == "You said hello"

        await sandbox.driver.command("bob", "reject")
        await eventually(lambda: ws.top_view("U0BOB00001") is not None)
        result = await sandbox.driver.submit_view("bob", values={"text": "a reason"})
        assert result.response_action == "errors"
        assert result.errors == {"comment": "Not via socket"}

        assert (await sandbox.driver.open_home("alice")).ok
        await eventually(lambda: ws.home_view("U0ALICE001") is not None)
    assert seen[0]["command"] == "/forest" and seen[0]["user_id"] == "U0BOB00001"
    await eventually(lambda: sandbox.socket_mode.connection_count == 0)


async def test_no_socket_connection_is_a_dispatch_failure(sandbox: Sandbox) -> None:
    sandbox.driver.use_socket_mode()
    ack = await sandbox.driver.command("bob", "help")
    assert not ack.ok and ack.error is not None and ack.error.startswith("dispatch_failed")


async def test_connections_open_needs_the_app_token(sandbox: Sandbox) -> None:
    with pytest.raises(SlackApiError) as exc:
        await sandbox.client().apps_connections_open(app_token=sandbox.workspace.app.bot_token)
    assert exc.value.response["error"] == "not_allowed_token_type"
    opened = await sandbox.client().apps_connections_open(
        app_token=sandbox.workspace.app.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")


async def test_refresh_requested_reconnects_and_delivery_goes_on(sandbox: Sandbox) -> None:
    app = AsyncApp(client=sandbox.client())

    @app.command("/forest")
    async def forest(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack(text=f"ok {body['text']}")

    sandbox.driver.use_socket_mode()
    async with socket_mode_bot(sandbox, app):
        assert await sandbox.socket_mode.request_refresh() == 1
        opened = len([c for c in sandbox.web_api.calls if c[0] == "apps.connections.open"])
        await eventually(lambda: len([c for c in sandbox.web_api.calls
                                      if c[0] == "apps.connections.open"]) > opened)
        await eventually(lambda: sandbox.socket_mode.connection_count == 1)
        ack = await sandbox.driver.command("carol", "after refresh")
        assert ack.ok and ack.body == {"text": "ok after refresh"}
