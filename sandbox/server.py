"""`Sandbox`: the whole local Slack in one aiohttp server.

    async with Sandbox(signing_secret="s3cret") as sandbox:
        client = sandbox.client()                     # AsyncWebClient(base_url=sandbox.api_url)
        sandbox.driver.use_http("http://127.0.0.1:3000/slack/events", "s3cret")
        await sandbox.driver.click("bob", message=..., action_id="forest.approve.v1")

Routes: `/api/{method}` (Web API), `/_sandbox/...` (uploads, response_urls, Socket Mode,
the UI's JSON API and live events), and `/` (the browser UI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

import sandbox.methods  # noqa: F401  (registers the Web API methods)
from sandbox.driver import Driver
from sandbox.respond import ResponseUrls
from sandbox.scopes import DEFAULT_MANIFEST, Grant, manifest_bot_scopes
from sandbox.socket_mode import SocketModeHub
from sandbox.state import App, Workspace
from sandbox.throttle import Faults, RateLimits
from sandbox.ui_api import UiApi
from sandbox.uploads import Uploads
from sandbox.webapi import WebApi

log = logging.getLogger(__name__)


class Sandbox:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app: App | None = None,
        workspace: Workspace | None = None,
        state_file: str | Path | None = None,
        rate_limits: RateLimits | None = None,
        faults: Faults | None = None,
        public_url: str | None = None,
        scopes: Iterable[str] | None = None,
        manifest: str | Path = DEFAULT_MANIFEST,
    ) -> None:
        """`scopes` are the bot token's; by default those the app `manifest` requests."""
        self.host = host
        self.port = port
        self.state_file = Path(state_file) if state_file else None
        if workspace is None and self.state_file and self.state_file.exists():
            workspace = Workspace.load(self.state_file)
        self.workspace = workspace or Workspace(app)
        self.rate_limits = rate_limits or RateLimits()
        self.faults = faults or Faults()
        self.scopes = Grant.of(manifest_bot_scopes(manifest) if scopes is None else scopes)
        self._public_url = public_url
        self.socket_mode = SocketModeHub(lambda: self.base_url, lambda: self.workspace.app.app_id)
        self.socket_mode.on_change = lambda: self.workspace.changed("socket_mode")
        self.driver = Driver(lambda: self.workspace, lambda: self.base_url, self.socket_mode)
        self.uploads = Uploads(lambda: self.workspace)
        self.web_api = WebApi(self, self.rate_limits, self.faults, self.scopes)
        self.ui = UiApi(self)
        self._runner: web.AppRunner | None = None
        self._save_task: asyncio.Task[None] | None = None
        if self.state_file:
            self.workspace.listeners.append(self._schedule_save)

    # -- addresses ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's root URL, with a trailing slash."""
        if self._public_url:
            return self._public_url.rstrip("/") + "/"
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """What to pass as slack_sdk's `base_url`."""
        return self.base_url + "api/"

    def client(self, **kwargs: Any) -> AsyncWebClient:
        """An AsyncWebClient for the bot's token, pointed at this sandbox."""
        kwargs.setdefault("token", self.workspace.app.bot_token)
        return AsyncWebClient(base_url=self.api_url, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.web_api.routes())
        app.add_routes(self.uploads.routes())
        app.add_routes(ResponseUrls(lambda: self.workspace).routes())
        app.add_routes(self.socket_mode.routes())
        app.add_routes(self.ui.routes())
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:  # the port is taken: leave nothing running behind the error
            await self._runner.cleanup()
            self._runner = None
            raise
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        self.workspace.base_url = self.base_url
        log.info("sandbox listening on %s", self.base_url)

    async def stop(self) -> None:
        await self.ui.close()
        await self.socket_mode.close_all()
        await self.driver.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._save_task is not None:
            self._save_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._save_task
        self.save()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # -- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        if self.state_file:
            self.workspace.save(self.state_file)

    def _schedule_save(self, _event: dict[str, Any]) -> None:
        """Save at most twice a second, after a change (immediately outside an event loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        if self._save_task is None or self._save_task.done():
            self._save_task = loop.create_task(self._save_soon())

    async def _save_soon(self) -> None:
        await asyncio.sleep(0.5)
        self.save()
