"""How the sandbox reaches the bot: signed HTTP requests, or Socket Mode envelopes.

Both encode a request exactly as Slack does (interactive payloads as the form field
`payload=<json>`, slash commands as plain form fields, events as a JSON body) and return an
`Ack`: what the bot answered within Slack's 3-second window, or why it did not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from sandbox.socket_mode import NoConnection, SocketModeHub
from sandbox.state import JsonDict

Kind = Literal["interactive", "slash_commands", "events_api"]
ACK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Retry:
    """An Events API redelivery: attempt number (1..3) and Slack's reason for it."""

    num: int
    reason: str  # "http_timeout", "http_error", "connection_failed"


@dataclass
class Ack:
    """The bot's answer to one request."""

    ok: bool
    body: JsonDict | None = None  # a JSON answer, or {"text": ...} for a plain-text one
    error: str | None = None  # "operation_timeout", "dispatch_failed", "http_401", ...
    status: int | None = None
    elapsed: float = 0.0


def encode(kind: Kind, payload: JsonDict) -> tuple[str, str]:
    """The raw body and content type Slack sends for this kind of request."""
    if kind == "interactive":
        return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    if kind == "slash_commands":
        return urlencode({k: str(v) for k, v in payload.items()}), (
            "application/x-www-form-urlencoded"
        )
    return json.dumps(payload), "application/json"


def signed_headers(
    signing_secret: str, body: str, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    """Slack's v0 signature headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # only None for a None secret
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def _parse_answer(status: int, content_type: str, text: str) -> Ack:
    if 200 < status < 300:
        return Ack(True, status=status)
    if status != 200:
        return Ack(False, error=f"http_{status}", status=status)
    if not text.strip():
        return Ack(True, status=status)
    if content_type.startswith("application/json"):
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            return Ack(False, error="invalid_json_response", status=status)
        return Ack(True, body=body if isinstance(body, dict) else None, status=status)
    return Ack(True, body={"text": text}, status=status)


class Delivery(Protocol):
    async def deliver(self, kind: Kind, payload: JsonDict, retry: Retry | None = None
                      ) -> Ack: ...

    async def close(self) -> None: ...


class HttpDelivery:
    """POSTs signed requests to the bot's request URL (e.g. http://127.0.0.1:3000/slack/events)."""

    def __init__(self, url: str, signing_secret: str, *, timeout: float = ACK_TIMEOUT_SECONDS
                 ) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def post(self, body: str, headers: dict[str, str]) -> Ack:
        """Send one raw request (tests use this to send tampered ones)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        started = time.monotonic()
        try:
            async with self._session.post(
                self.url, data=body.encode(), headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                text = await response.text()
                ack = _parse_answer(response.status, response.content_type, text)
        except TimeoutError:
            ack = Ack(False, error="operation_timeout")
        except aiohttp.ClientError as exc:
            ack = Ack(False, error=f"dispatch_failed: {type(exc).__name__}")
        ack.elapsed = time.monotonic() - started
        return ack

    async def deliver(self, kind: Kind, payload: JsonDict, retry: Retry | None = None) -> Ack:
        body, content_type = encode(kind, payload)
        headers = signed_headers(self.signing_secret, body, content_type=content_type)
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry.num)
            headers["X-Slack-Retry-Reason"] = retry.reason
        return await self.post(body, headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SocketModeDelivery:
    """Sends envelopes to a connected Socket Mode client through the hub."""

    def __init__(self, hub: SocketModeHub, *, timeout: float = ACK_TIMEOUT_SECONDS) -> None:
        self.hub = hub
        self.timeout = timeout

    async def deliver(self, kind: Kind, payload: JsonDict, retry: Retry | None = None) -> Ack:
        started = time.monotonic()
        try:
            body = await self.hub.send(
                kind, payload, accepts_response=kind != "events_api", ack_timeout=self.timeout,
                retry_attempt=retry.num if retry else 0, retry_reason=retry.reason if retry else "",
            )
            ack = Ack(True, body=body, status=200)
        except NoConnection:
            ack = Ack(False, error="dispatch_failed: no socket mode connection")
        except TimeoutError:
            ack = Ack(False, error="operation_timeout")
        ack.elapsed = time.monotonic() - started
        return ack

    async def close(self) -> None:
        return None
