"""The Web API endpoint: `POST /api/{method}` answered the way Slack answers it.

This module is the HTTP plumbing shared by every method: it merges the arguments from the
query string, a form body or a JSON body (slack_sdk uses all three), checks the token
(`Authorization: Bearer` or a `token` argument), applies rate limits and injected faults, and
turns an `ApiError` into Slack's `{"ok": false, "error": ...}`. The methods themselves live in
`methods.py`; they receive a `Call` and return the fields of a successful answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.scopes import APP_TOKEN_SCOPES, METHOD_SCOPES, ConversationType, Grant, Needs
from sandbox.state import JsonDict, Workspace
from sandbox.throttle import Faults, RateLimits

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A Slack error answer: `{"ok": false, "error": code, **extra}`."""

    def __init__(self, code: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra


class Args:
    """A method's arguments, whatever way they were sent."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError("invalid_arguments", response_metadata=_messages(
                    [f"missing required field: {name}"]
                ))
            return None
        return value if isinstance(value, str) else str(value)

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_arguments", response_metadata=_messages(
                [f"{name} must be an integer"]
            )) from exc

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                code = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
                raise ApiError(code, response_metadata=_messages(
                    [f"{name} is not valid JSON: {exc.msg}"]
                )) from exc
        return value

    def has(self, name: str) -> bool:
        return name in self.values


def _messages(problems: list[str]) -> JsonDict:
    return {"messages": [f"[ERROR] {p}" for p in problems]}


@dataclass
class Call:
    """What a method implementation gets: the workspace, its arguments and who is calling."""

    ws: Workspace
    args: Args
    base_url: str
    token_type: str  # "bot" or "app"
    server: Any  # the Sandbox, for the few methods that need more than state
    grant: Grant  # the calling token's scopes
    needs: Needs  # the method's scope rule
    scope_checked: bool = False

    def require_scope(self, conversation: ConversationType) -> None:
        """Check the scope of a conversations.* call once its conversation type is known."""
        self.scope_checked = True
        missing = self.grant.missing(self.needs, conversation)
        if missing:
            raise missing_scope(missing, self.grant)


def missing_scope(needed: str, grant: Grant) -> ApiError:
    return ApiError("missing_scope", needed=needed, provided=grant.header)


Method = Callable[[Call], Awaitable[JsonDict]]
METHODS: dict[str, tuple[Method, str]] = {}


def method(name: str, *, token: str = "bot") -> Callable[[Method], Method]:
    """Register a Web API method; `token` is the kind of token it accepts ("bot" / "app")."""
    if name not in METHOD_SCOPES:
        raise LookupError(f"{name}: add the scope it needs to sandbox.scopes.METHOD_SCOPES")

    def register(func: Method) -> Method:
        METHODS[name] = (func, token)
        return func

    return register


async def read_args(request: web.Request) -> Args:
    values: dict[str, Any] = dict(request.query)
    content_type = request.content_type
    if request.can_read_body:
        if content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError as exc:
                raise ApiError("invalid_json") from exc
            if not isinstance(body, dict):
                raise ApiError("invalid_json")
            values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            await request.read()
    return Args(values)


def _token(request: web.Request, args: Args) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return args.text("token")


def json_response(data: JsonDict, *, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


class WebApi:
    """aiohttp handler for `/api/{method}`."""

    def __init__(self, server: Any, rate_limits: RateLimits, faults: Faults,
                 bot_scopes: Grant) -> None:
        self.server = server
        self.rate_limits = rate_limits
        self.faults = faults
        self.grants = {"bot": bot_scopes, "app": Grant.of(APP_TOKEN_SCOPES)}
        # The latest accepted calls (method, arguments), for tests and debugging.
        self.calls: deque[tuple[str, JsonDict]] = deque(maxlen=10_000)
        # Every call answered, refused ones too: (method, "ok" or the error).
        self.answers: deque[tuple[str, str]] = deque(maxlen=10_000)

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/{method}", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        # Filled in once the token is known: Slack sends them with every authenticated answer.
        scope_headers: dict[str, str] = {}
        try:
            args = await read_args(request)
            response = await self._answer(name, request, args, scope_headers)
        except ApiError as exc:
            response = json_response({"ok": False, "error": exc.code, **exc.extra},
                                     status=exc.status)
        except (ValueError, TypeError, AttributeError) as exc:
            # Malformed arguments the method did not anticipate (e.g. oldest="abc").
            log.info("%s: invalid arguments: %r", name, exc)
            response = json_response({"ok": False, "error": "invalid_arguments",
                                      "response_metadata": {"messages": [f"[ERROR] {exc}"]}})
        response.headers.update(scope_headers)
        self.answers.append((name, self._outcome(response)))
        return response

    @staticmethod
    def _outcome(response: web.Response) -> str:
        if response.status == 429:
            return "ratelimited"
        try:
            body = json.loads(response.text or "{}")
        except json.JSONDecodeError:
            return f"http_{response.status}"
        return "ok" if body.get("ok") else str(body.get("error"))

    async def _answer(self, name: str, request: web.Request, args: Args,
                      scope_headers: dict[str, str]) -> web.Response:
        if self.faults.latency > 0 and self.faults.applies_to(name):
            await asyncio.sleep(self.faults.latency)
        entry = METHODS.get(name)
        if entry is None:
            raise ApiError("unknown_method", req_method=name)
        func, token_type = entry
        app = self.server.workspace.app
        token = _token(request, args)
        if token is None:
            raise ApiError("not_authed")
        if token in app.revoked_tokens:
            raise ApiError("token_revoked")
        kind = {app.bot_token: "bot", app.app_token: "app"}.get(token)
        if kind is None:
            raise ApiError("invalid_auth")
        grant = self.grants[kind]
        needs = METHOD_SCOPES[name]
        scope_headers["x-oauth-scopes"] = grant.header
        scope_headers["x-accepted-oauth-scopes"] = ",".join(needs.accepted())
        if kind != token_type:
            raise ApiError("not_allowed_token_type")
        if not needs.per_conversation:  # the conversations.* methods check once they know
            missing = grant.missing(needs)
            if missing:
                raise missing_scope(missing, grant)
        fault = self.faults.draw(name)
        if fault == "ratelimited":
            return self._ratelimited(self.faults.retry_after)
        if fault == "error":
            return json_response(
                {"ok": False, "error": "fatal_error"}, status=self.faults.error_status
            )
        channel_ref = args.text("channel") or args.text("channel_id")
        if channel_ref:  # one window per channel, however the caller names it
            found = self.server.workspace.channel(channel_ref)
            channel_ref = found.id if found else channel_ref
        wait = self.rate_limits.check(name, channel_ref)
        if wait:
            return self._ratelimited(wait)
        call = Call(self.server.workspace, args, self.server.base_url, kind, self.server,
                    grant, needs)
        result = await func(call)
        if needs.per_conversation and not call.scope_checked:
            raise RuntimeError(f"{name} answered without checking its conversation's scope")
        self.calls.append((name, args.values))
        return json_response({"ok": True, **result})

    @staticmethod
    def _ratelimited(retry_after: int) -> web.Response:
        return json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
