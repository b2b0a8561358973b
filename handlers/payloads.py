"""Payloads Bolt itself cannot read: refused with a warning instead of a 500 and a traceback.

Bolt reads the payload before any code of ours runs, trusting its shape: building the request's
context (`body["user"]["id"]`, `body["team"]["id"]`, ...), injecting a middleware's arguments
(`body["actions"][0]`) and matching listeners (`body["view"]["callback_id"]`). Slack never sends
such payloads, but a wrong-typed field raised out of Bolt (a 500 and an ERROR, or, from the
error handler's own argument injection, out of `async_dispatch` altogether). Three guards: the
bot's error handler answers 400 with a warning when `unreadable(body)` explains the error;
`answer_unreadable` (an aiohttp middleware around HTTP mode's /slack/events) answers 400 for
what Bolt raises before, or instead of, calling the error handler; and in Socket Mode,
`SocketModeHandler` acks both (Bolt acks nothing but a 200 there, and what raised escaped into
slack_sdk's listener loop, so Slack showed the user an error or redelivered the event, to fail
the same way again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

log = logging.getLogger(__name__)
MALFORMED = "malformed Slack payload"  # the 400's body


def unreadable(body: Any) -> str | None:
    """Why Bolt's routing cannot read `body`, or None when it can."""
    if not isinstance(body, dict):
        return "the payload is not an object"
    if "event" in body:
        event = body["event"]
        if not isinstance(event, dict) or not isinstance(event.get("type", ""), str):
            return "an event that is not an object with a type"
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            return "actions that are not a list of objects"
        if body.get("type") == "block_actions" and "action_id" not in actions[0]:
            return "an action without an action_id"
    if "view" in body:
        view = body["view"]
        if not isinstance(view, dict) or not isinstance(view.get("type", ""), str):
            return "a view that is not an object with a type"
    return None


def bad_timestamp(headers: Mapping[str, Sequence[str]]) -> bool:
    """slack_sdk's signature check raises (instead of refusing) on a timestamp that is not a
    number; Bolt then reports it as an unhandled error."""
    values = headers.get("x-slack-request-timestamp") or []
    return bool(values) and not values[0].strip().lstrip("-").isdigit()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer_unreadable(signing_secret: str | None) -> Middleware:
    """Bolt parses the body before it checks the signature: an unsigned request it cannot parse
    still gets Bolt's 401, a signed one 400."""
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            # Raised by Bolt while reading the request, before (or instead of) our listeners.
            body = await request.text()
            headers = request.headers
            timestamp = headers.get("X-Slack-Request-Timestamp", "")
            if verifier is not None and (
                not timestamp.strip().lstrip("-").isdigit()
                or not verifier.is_valid(body, timestamp, headers.get("X-Slack-Signature", ""))
            ):
                return web.Response(status=401, text="invalid request")
            _refused(exc)
            return web.Response(status=400, text=MALFORMED)

    return middleware


def _refused(exc: Exception) -> None:
    log.warning("refused a Slack request Bolt cannot read: %s: %.200s", type(exc).__name__, exc)


class SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, acking (empty) the payloads it cannot read."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        try:
            response: BoltResponse = await run_async_bolt_app(self.app, req)
        except Exception as exc:  # raised by Bolt reading the payload, before our listeners
            _refused(exc)
            response = BoltResponse(status=400, body=MALFORMED)
        if response.status == 400:  # refused as unreadable: a redelivery would fail the same
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        else:
            await send_async_response(client, req, response, started)
