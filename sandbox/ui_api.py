"""The browser UI's side of the server: static files, a JSON view of the workspace for one
user, live change events (SSE), and the actions a person takes (which go through the driver).

Also `/_sandbox/control`: read or change the fault knobs and rate limits of a running sandbox.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.delivery import Ack, HttpDelivery, SocketModeDelivery
from sandbox.driver import DriverError, ViewInputError
from sandbox.state import Ephemeral, JsonDict, Message, User, Workspace
from sandbox.throttle import SLACK_TIERS, Limit
from sandbox.webapi import json_response

if TYPE_CHECKING:
    from sandbox.server import Sandbox

STATIC_FILES = {"app.js": "text/javascript", "mrkdwn.js": "text/javascript",
                "style.css": "text/css", "index.html": "text/html"}
HEARTBEAT_SECONDS = 15.0
# Defence in depth for the page: only our own scripts, styles and connections; no inline code.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# The page shows the latest messages of a channel; older ones are a `?limit=` away.
DEFAULT_MESSAGE_LIMIT = 200


def _static(name: str) -> str:
    return resources.files("sandbox.ui").joinpath(name).read_text(encoding="utf-8")


def _ack_json(ack: Ack | None) -> JsonDict:
    if ack is None:
        return {"ok": True}
    return {"ok": ack.ok, "error": ack.error, "elapsed_ms": round(ack.elapsed * 1000, 1)}


class UiApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._queues: set[asyncio.Queue[JsonDict | None]] = set()
        self._listening: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        ws = self.sandbox.workspace
        if self._listening is not ws:
            ws.listeners.append(self._broadcast)
            self._listening = ws
        return ws

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/archives/{tail:.*}", self.index),
            web.get("/_sandbox/ui/{name}", self.static),
            web.get("/_sandbox/state", self.state),
            web.get("/_sandbox/thread", self.thread),
            web.get("/_sandbox/events", self.events),
            web.post("/_sandbox/action", self.action),
            web.post("/_sandbox/submit", self.submit),
            web.post("/_sandbox/close", self.close_view),
            web.post("/_sandbox/command", self.command),
            web.post("/_sandbox/message", self.message),
            web.post("/_sandbox/home", self.home),
            web.get("/_sandbox/control", self.control),
            web.post("/_sandbox/control", self.control),
        ]

    # -- static -------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=_static("index.html"), content_type="text/html",
                            headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP,
                                     "X-Content-Type-Options": "nosniff"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(text=_static(name), content_type=STATIC_FILES[name],
                            headers={"Cache-Control": "no-store"})

    # -- reading --------------------------------------------------------------------------------

    def _viewer(self, request: web.Request) -> User:
        user = self.ws.user(request.query.get("user", "alice"))
        if user is None or user.is_bot:
            raise web.HTTPNotFound(text="no such user")
        return user

    def _ui_message(self, item: Message | Ephemeral) -> JsonDict:
        ws = self.ws
        base = self.sandbox.base_url
        if isinstance(item, Ephemeral):
            return {"ts": item.ts, "user": ws.app.bot_user_id, "bot": True, "ephemeral": True,
                    "text": item.text, "blocks": item.blocks, "thread_ts": item.thread_ts}
        api = ws.message_to_api(item)
        return {
            "ts": item.ts,
            "user": item.user,
            "bot": item.bot_id is not None,
            "ephemeral": False,
            "text": item.text,
            "blocks": item.blocks,
            "thread_ts": item.thread_ts,
            "edited": item.edited_ts is not None,
            "deleted": item.deleted,
            "edits": item.edit_count,
            "reply_count": api.get("reply_count", 0),
            "files": [self._ui_file(f, base) for f in item.files],
        }

    def _ui_file(self, file_id: str, base: str) -> JsonDict:
        file = self.ws.files[file_id]
        preview = None
        if file.content is not None and (file.snippet_type or file.name.endswith(
                (".txt", ".diff", ".log", ".md", ".json"))):
            preview = file.content[:4000].decode("utf-8", "replace")
        return {"id": file.id, "name": file.name, "title": file.title, "size": file.length,
                "url": f"{base}_sandbox/files/{file.id}/{file.name}", "preview": preview}

    def _view(self, view_id: str) -> JsonDict:
        view = self.ws.views[view_id]
        return {**self.ws.view_to_api(view), "errors": view.errors}

    async def state(self, request: web.Request) -> web.Response:
        ws = self.ws
        viewer = self._viewer(request)
        visible = [c for c in ws.channels.values()
                   if (not c.is_private and not c.is_im) or viewer.id in c.members]
        channel = ws.channel(request.query.get("channel", "deploys")) or visible[0]
        items: list[Message | Ephemeral] = list(ws.top_level(channel.id))
        items += [e for e in ws.ephemerals_for(viewer.id, channel.id) if not e.thread_ts]
        items.sort(key=lambda m: float(m.ts))
        try:
            limit = max(1, int(request.query.get("limit", DEFAULT_MESSAGE_LIMIT)))
        except ValueError as exc:
            raise web.HTTPBadRequest(text="limit must be an integer") from exc
        older = max(0, len(items) - limit)
        items = items[older:]
        return json_response({
            "version": ws.version,
            "team": {"id": ws.app.team_id, "name": ws.app.team_name},
            "bot": {"id": ws.app.bot_user_id, "name": ws.app.bot_name},
            "me": viewer.id,
            "users": [{"id": u.id, "name": u.name, "real_name": u.real_name,
                       "display_name": u.display_name, "is_admin": u.is_admin,
                       "is_bot": u.is_bot} for u in ws.users.values()],
            "channels": [{"id": c.id, "name": c.name if not c.is_im else f"@{ws.app.bot_name}",
                          "is_im": c.is_im} for c in visible],
            "channel": {"id": channel.id, "name": channel.name},
            "messages": [self._ui_message(m) for m in items],
            "older": older,
            "views": [self._view(v.id) for v in ws.view_stack(viewer.id)],
            "home": self._view(ws.home_views[viewer.id]) if viewer.id in ws.home_views else None,
            "delivery": self._delivery(),
        })

    def _delivery(self) -> str:
        """Where a click goes, in words for the sidebar."""
        delivery = self.sandbox.driver.delivery
        if isinstance(delivery, HttpDelivery):
            return f"bot: HTTP → {delivery.url}"
        if isinstance(delivery, SocketModeDelivery):
            count = self.sandbox.socket_mode.connection_count
            return f"bot: Socket Mode, {count} connection{'s' if count != 1 else ''}"
        return "bot: not connected"

    async def thread(self, request: web.Request) -> web.Response:
        ws = self.ws
        viewer = self._viewer(request)
        channel = ws.channel(request.query.get("channel", ""))
        root = ws.message(channel.id, request.query.get("ts", "")) if channel else None
        if channel is None or root is None:
            return json_response({"ok": False, "error": "thread_not_found"}, status=404)
        items: list[Message | Ephemeral] = list(ws.replies(channel.id, root.ts))
        items += [e for e in ws.ephemerals_for(viewer.id, channel.id) if e.thread_ts == root.ts]
        items.sort(key=lambda m: float(m.ts))
        return json_response({"ok": True, "root": self._ui_message(root),
                              "replies": [self._ui_message(m) for m in items]})

    # -- live events ----------------------------------------------------------------------------

    def _broadcast(self, event: JsonDict) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)

    async def events(self, request: web.Request) -> web.StreamResponse:
        _ = self.ws  # make sure we listen to the current workspace
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        queue: asyncio.Queue[JsonDict | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            await response.write(b"retry: 1000\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if event is None:
                    break
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._queues.discard(queue)
        return response

    async def close(self) -> None:
        for queue in list(self._queues):
            queue.put_nowait(None)
        await asyncio.sleep(0)

    # -- a person's actions ---------------------------------------------------------------------

    async def _body(self, request: web.Request) -> JsonDict:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise web.HTTPBadRequest(text="JSON body expected") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="JSON object expected")
        return body

    async def action(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            ack = await self.sandbox.driver.click(
                body.get("user", ""), action_id=str(body.get("action_id")),
                channel=body.get("channel"), ts=body.get("ts"), view_id=body.get("view_id"),
                block_id=body.get("block_id"), value=body.get("value"),
            )
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response(_ack_json(ack))

    async def submit(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            result = await self.sandbox.driver.submit_view(
                body.get("user", ""), body.get("view_id"), body.get("values") or {})
        except ViewInputError as exc:
            return json_response({"ok": False, "error": "missing_inputs", "errors": exc.errors})
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response({**_ack_json(result.ack), "response_action": result.response_action,
                              "errors": result.errors, "closed": result.closed})

    async def close_view(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            ack = await self.sandbox.driver.close_view(body.get("user", ""), body.get("view_id"))
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response(_ack_json(ack))

    async def command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            ack = await self.sandbox.driver.command(
                body.get("user", ""), str(body.get("text", "")),
                command=str(body.get("command", "/forest")),
                channel=str(body.get("channel", "deploys")))
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response(_ack_json(ack))

    async def message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        text = str(body.get("text", "")).strip()
        if not text:
            return json_response({"ok": False, "error": "no_text"}, status=400)
        try:
            posted = self.sandbox.driver.say(body.get("user", ""), text,
                                             channel=str(body.get("channel", "deploys")),
                                             thread_ts=body.get("thread_ts"))
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response({"ok": True, "ts": posted.ts})

    async def home(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            ack = await self.sandbox.driver.open_home(body.get("user", ""))
        except DriverError as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response(_ack_json(ack))

    # -- control --------------------------------------------------------------------------------

    async def control(self, request: web.Request) -> web.Response:
        """GET: current knobs. POST {"faults": {...}, "rate_limits": "slack" | "off" |
        {"method": [calls, per_seconds]}}: change them."""
        sandbox = self.sandbox
        if request.method == "POST":
            body = await self._body(request)
            try:
                sandbox.faults.configure(body.get("faults") or {})
            except (KeyError, TypeError, ValueError) as exc:
                return json_response({"ok": False, "error": f"bad fault setting: {exc}"},
                                     status=400)
            limits = body.get("rate_limits")
            try:
                new_limits = _rate_limits(limits, sandbox.rate_limits.limits)
            except (TypeError, ValueError) as exc:
                return json_response({"ok": False, "error": f"bad rate_limits: {exc}"},
                                     status=400)
            if new_limits is not None:
                sandbox.rate_limits.limits = new_limits
            sandbox.rate_limits.reset()
        return json_response({
            "ok": True,
            "faults": sandbox.faults.to_json(),
            "rate_limits": {m: [lim.calls, lim.per_seconds] + (["per_channel"] if lim.per_channel
                                                               else [])
                            for m, lim in sandbox.rate_limits.limits.items()},
        })

    def stats(self) -> dict[str, Any]:
        return {"sse_clients": len(self._queues)}


def _rate_limits(value: Any, current: dict[str, Limit]) -> dict[str, Limit] | None:
    """The limits a control request asks for (None: leave them), or ValueError saying why.

    "slack" | "off" | {"method": [calls, per_seconds] or [calls, per_seconds, "per_channel"]};
    a method given without "per_channel" keeps the per-channel keying it had.
    """
    if value is None:
        return None
    if value == "slack":
        return dict(SLACK_TIERS)
    if value == "off":
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'expected "slack", "off" or {{method: [calls, per_seconds]}}, '
                         f"got {value!r}")
    merged = dict(current)
    for method, spec in value.items():
        if not isinstance(spec, list) or len(spec) not in (2, 3):
            raise ValueError(f"{method}: expected [calls, per_seconds], got {spec!r}")
        if len(spec) == 3 and spec[2] != "per_channel":
            raise ValueError(f'{method}: the third item can only be "per_channel"')
        calls, per_seconds = int(spec[0]), float(spec[1])
        if calls < 1 or per_seconds <= 0:
            raise ValueError(f"{method}: calls must be >= 1 and per_seconds > 0")
        was = current.get(method)
        per_channel = len(spec) == 3 or (was is not None and was.per_channel)
        merged[method] = Limit(calls, per_seconds, per_channel)
    return merged
