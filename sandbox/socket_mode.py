"""Socket Mode: apps.connections.open hands out a websocket URL; envelopes go out, acks come in.

Like Slack: a `hello` on connect, up to 10 connections per app, each envelope delivered to
exactly one connection (round-robin), and an ack `{"envelope_id": ..., "payload": {...}}`
expected within 3 seconds. `send()` returns the ack's payload (or None).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import uuid
from collections.abc import Callable

from aiohttp import WSMsgType, web

from sandbox.state import JsonDict

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 10


class NoConnection(Exception):
    """No Socket Mode client is connected."""


class SocketModeHub:
    def __init__(
        self, base_url_getter: Callable[[], str], app_id_getter: Callable[[], str]
    ) -> None:
        self._base_url = base_url_getter
        self._app_id = app_id_getter
        self._tickets: set[str] = set()
        self._connections: list[web.WebSocketResponse] = []
        self._pending: dict[str, asyncio.Future[JsonDict]] = {}
        self._round_robin = itertools.count()
        self.connected = asyncio.Event()
        self.on_change: Callable[[], None] = lambda: None  # e.g. tell the UI

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def open_url(self) -> str | None:
        if len(self._connections) + len(self._tickets) >= MAX_CONNECTIONS:
            return None
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        ws_base = self._base_url().replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{ws_base}_sandbox/socket-mode?ticket={ticket}"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/_sandbox/socket-mode", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self._connections.append(ws)
        self.connected.set()
        self.on_change()
        await ws.send_json({
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self._app_id()},
        })
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.remove(ws)
            if not self._connections:
                self.connected.clear()
            self.on_change()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            log.warning("socket mode: ignoring a non-JSON frame")
            return
        future = self._pending.get(str(message.get("envelope_id")))
        if future is not None and not future.done():
            future.set_result(message)

    async def send(self, envelope_type: str, payload: JsonDict, *, accepts_response: bool,
                   ack_timeout: float = 3.0, retry_attempt: int = 0, retry_reason: str = ""
                   ) -> JsonDict | None:
        """Deliver one envelope and wait for its ack. Raises NoConnection, TimeoutError."""
        if not self._connections:
            raise NoConnection
        ws = self._connections[next(self._round_robin) % len(self._connections)]
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        try:
            await ws.send_json({
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": accepts_response,
                "retry_attempt": retry_attempt,
                "retry_reason": retry_reason,
            })
            ack = await asyncio.wait_for(future, ack_timeout)
        finally:
            self._pending.pop(envelope_id, None)
        body = ack.get("payload")
        return body if isinstance(body, dict) else None

    async def request_refresh(self) -> int:
        """Ask every client to reconnect, as Slack does from time to time
        (`{"type": "disconnect", "reason": "refresh_requested"}`). Returns how many were asked."""
        asked = 0
        for ws in list(self._connections):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json({"type": "disconnect", "reason": "refresh_requested",
                                    "debug_info": {"host": "sandbox"}})
                asked += 1
        return asked

    async def close_all(self) -> None:
        for ws in list(self._connections):
            with contextlib.suppress(Exception):
                await ws.close()
