"""Assemble the bot: the Bolt app with its handlers, the refresher and the signal sources.

`Bot.start()` checks every dependency once (Slack auth.test, Forest health, NATS) and fails
with `StartupError`, one line naming what is wrong. `serve()` then runs Socket Mode or HTTP mode
until cancelled; both modes also serve /healthz and /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import BotSettings
from bot.context import BotContext
from bot.decisions import Decisions
from bot.forest_client import ForestClient, ForestError
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.plan_poster import PlanPoster
from bot.refresher import Refresher
from bot.release_reader import ReleaseReader
from bot.signals import EventStream, NatsSignals, reconcile_forever
from bot.slack_budget import SlackBudget, chat_update_pace
from bot.slack_errors import AuthRevoked, SlackCallFailed
from bot.slack_gateway import SlackGateway, make_client
from bot.store import Store, TokenCipher
from handlers.actions import ActionHandlers
from handlers.commands import CommandHandlers
from handlers.home import HomeHandlers
from handlers.payloads import (
    MALFORMED,
    SocketModeHandler,
    answer_unreadable,
    bad_timestamp,
    unreadable,
)
from handlers.views import ViewHandlers

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A dependency is missing or refuses the bot; the message is one line saying which.

    `lasting`: no restart can fix it (Slack refuses the token): a person must act."""

    def __init__(self, message: str, *, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


class Bot:
    def __init__(self, settings: BotSettings, *, client: AsyncWebClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._ctx: BotContext | None = None
        self._app: AsyncApp | None = None
        self._nats: NatsSignals | None = None
        self._events: EventStream | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._socket: SocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.listening = asyncio.Event()  # set once serve() accepts requests

    @property
    def ctx(self) -> BotContext:
        if self._ctx is None:
            raise RuntimeError("the bot is not started")
        return self._ctx

    @property
    def app(self) -> AsyncApp:
        if self._app is None:
            raise RuntimeError("the bot is not started")
        return self._app

    # -- start / stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the database, check Slack, Forest and NATS, start refreshing. Undone on failure."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        metrics = Metrics()
        try:
            cipher = TokenCipher(s.token_key.get_secret_value())
        except ValueError as exc:
            raise StartupError(f"FOREST_BOT_TOKEN_KEY is invalid: {exc}") from None
        client = self._client or make_client(s.slack_bot_token.get_secret_value(), s.slack_api_url)
        pace = chat_update_pace(s.chat_updates_per_minute)
        slack = SlackGateway(client, metrics, SlackBudget({"chat.update": pace} if pace else None))
        try:
            identity = await slack.auth_test()
        except SlackCallFailed as exc:
            if exc.error == "unreachable":
                where = s.slack_api_url or "https://slack.com/api/"
                raise StartupError(
                    f"Slack at {where} is unreachable (SLACK_API_URL; checking SLACK_BOT_TOKEN)"
                ) from None
            raise StartupError(
                f"Slack refused SLACK_BOT_TOKEN ({exc.error})", lasting=isinstance(exc, AuthRevoked)
            ) from None
        forest = ForestClient(s.forest_address, s.forest_service_token.get_secret_value())
        try:
            await forest.check_health()
        except ForestError as exc:
            await forest.close()
            raise StartupError(
                f"Forest at {s.forest_address} (FOREST_ADDRESS) is not serving: {exc}"
            ) from None
        try:
            store = await Store.open(s.database_url, cipher)
        except Exception as exc:
            await forest.close()
            raise StartupError(
                f"cannot open FOREST_BOT_DATABASE_URL: {type(exc).__name__}: {exc}"
            ) from None
        reader = ReleaseReader(forest, store)
        plans = PlanPoster(store=store, forest=forest, reader=reader, slack=slack)
        refresher = Refresher(
            store=store,
            reader=reader,
            plans=plans,
            slack=slack,
            metrics=metrics,
            holder=s.replica_name or f"{socket.gethostname()}-{os.getpid()}",
            workers=s.refresh_workers,
        )
        events = EventStream(forest, store, refresher, metrics, s.event_subscription)
        self._ctx = BotContext(
            settings=s,
            store=store,
            forest=forest,
            reader=reader,
            slack=slack,
            refresher=refresher,
            events=events,
            metrics=metrics,
            inflight=InFlight(),
        )
        self._app = self._build_app(client, plans)
        if s.nats_url:
            self._nats = NatsSignals(s.nats_url, refresher, metrics, events)
            try:
                await self._nats.start()
            except Exception as exc:
                self._nats = None
                raise StartupError(
                    f"NATS at {s.nats_url} (FOREST_BOT_NATS_URL) is unreachable: "
                    f"{type(exc).__name__} {exc}".rstrip()
                ) from None
        self._events = events
        await refresher.start()
        self._tasks.append(
            asyncio.create_task(
                reconcile_forever(refresher, self._events, s.reconcile_seconds), name="reconcile"
            )
        )
        log.info(
            "forest-bot started as %s in team %s (Forest %s, NATS %s)",
            identity.get("user_id"),
            identity.get("team_id"),
            s.forest_address,
            s.nats_url or "off",
        )

    async def stop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._ctx is not None:
            await self._ctx.inflight.drain(within=10.0)  # acked clicks finish their work
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._events is not None:
            await self._events.stop()
        if self._nats is not None:
            await self._nats.stop()
        if self._ctx is not None:
            await self._ctx.refresher.stop()
            await self._ctx.forest.close()
            await self._ctx.store.close()
            self._ctx = None

    # -- Slack side --------------------------------------------------------------------------

    def _build_app(self, client: AsyncWebClient, plans: PlanPoster) -> AsyncApp:
        ctx = self.ctx
        http = self.settings.mode == "http"
        secret = self.settings.slack_signing_secret
        app = AsyncApp(
            client=client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=http,
            process_before_response=False,
        )
        decisions = Decisions(
            store=ctx.store,
            forest=ctx.forest,
            reader=ctx.reader,
            refresher=ctx.refresher,
            slack=ctx.slack,
            metrics=ctx.metrics,
        )
        ActionHandlers(ctx, decisions, plans).register(app)
        ViewHandlers(ctx, decisions).register(app)
        CommandHandlers(ctx).register(app)
        HomeHandlers(ctx).register(app)
        app.middleware(self._time_ack)
        app.error(self._on_error)
        return app

    async def _time_ack(self, body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            return await next()
        finally:
            kind = str(body.get("type") or ("command" if "command" in body else "other"))
            self.ctx.metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)

    async def _on_error(
        self,
        error: Exception,
        body: dict[str, Any],
        request: AsyncBoltRequest | None = None,
        response: BoltResponse | None = None,
    ) -> None:
        if request is not None and response is not None and bad_timestamp(request.headers):
            log.warning("refused a request whose X-Slack-Request-Timestamp is not a number")
            response.status, response.body = 401, "invalid request"
            return
        malformed = unreadable(body)
        if malformed is not None:  # Bolt tripped on a payload Slack would never send
            log.warning("refused a malformed Slack payload (%s): %r", malformed, error)
            if response is not None:
                response.status, response.body = 400, MALFORMED
            return
        reference = uuid.uuid4().hex[:12]
        user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
        log.error(
            "unhandled error [%s] for %s: %s",
            reference,
            user or body.get("user_id"),
            error,
            exc_info=error,
            extra={"user": user},
        )

    def web_app(self) -> web.Application:
        """HTTP mode's /slack/events, plus /healthz and /metrics (both modes)."""
        app = (
            self.app.web_app(path="/slack/events")
            if self.settings.mode == "http"
            else (web.Application())
        )
        secret = self.settings.slack_signing_secret
        app.middlewares.append(answer_unreadable(secret.get_secret_value() if secret else None))
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = []
        if self.ctx.slack.revoked:
            problems.append("slack token revoked")
        if self._nats is not None and not self._nats.connected:
            problems.append("nats disconnected")
        if problems:
            return web.json_response({"ok": False, "problems": problems}, status=503)
        return web.json_response({"ok": True})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.ctx.metrics.render(), content_type="text/plain", charset="utf-8"
        )

    async def serve(self) -> None:
        """Listen (HTTP server, and the Socket Mode connection in socket mode) until cancelled."""
        s = self.settings
        self._runner = web.AppRunner(self.web_app(), handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, s.http_host, s.http_port).start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {s.http_host}:{s.http_port} (FOREST_BOT_HTTP_PORT): "
                f"{exc.strerror or exc}"
            ) from None
        self.http_port = self._runner.addresses[0][1] if self._runner.addresses else s.http_port
        if s.mode == "socket":
            assert s.slack_app_token is not None
            self._socket = SocketModeHandler(self.app, s.slack_app_token.get_secret_value())
            try:
                await self._socket.connect_async()
            except Exception as exc:
                raise StartupError(
                    f"Slack refused the Socket Mode connection (SLACK_APP_TOKEN): {exc}"
                ) from None
        self.listening.set()
        log.info(
            "serving %s; health and metrics on http://%s:%s",
            "Socket Mode" if s.mode == "socket" else "HTTP at /slack/events",
            s.http_host,
            self.http_port,
        )
        await asyncio.Event().wait()
