"""The whole system on one machine: NATS, forestd (seeded), the Slack sandbox and the bot.

`forest-bot dev` runs it for people; the end-to-end tests run the very same composition. Every
part is real (a nats-server process, gRPC over a socket, SQLite files, signed Slack requests over
HTTP or Socket Mode); nothing is mocked. `DevSystem` undoes a partial start.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import grpc
from pydantic import SecretStr

from bot.app import Bot, StartupError
from bot.config import BotSettings
from bot.embedded_nats import EmbeddedNats
from bot.store import Store, TokenCipher
from forest.v1 import releases_pb2, releases_pb2_grpc
from forestd.cli import build_server
from forestd.config import ForestSettings
from forestd.seed import DemoSeed, seed_demo
from forestd.server import ForestServer
from sandbox.server import Sandbox
from sandbox.throttle import SLACK_TIERS, RateLimits

SIGNING_SECRET = "dev-signing-secret"
DEMO_USERS = ("alice", "bob", "carol")


def nats_listening(host: str = "127.0.0.1", port: int = 4222) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    return False


@dataclass
class DevOptions:
    state_dir: Path
    sandbox_port: int = 3300
    forest_port: int = 0
    bot_http_port: int = 0
    mode: Literal["socket", "http"] = "socket"
    compat: Literal["intended", "forest"] = "intended"
    nats_url: str | None = None  # None: the one on 127.0.0.1:4222, else a private nats-server
    bot_database_url: str | None = None
    soak_seconds: int = 60
    plan_lines: int = 60
    deploy_seconds: float = 2.0
    sweep_seconds: float = 1.0
    reconcile_seconds: float = 60.0
    rate_limits: bool = True
    subscribe: bool = True  # #deploys follows acme/api from the start
    run_bot: bool = True  # False: the caller runs the bot elsewhere (e.g. `forest-bot run`)


@dataclass
class DemoUser:
    username: str
    slack_id: str
    forest_user_id: str
    token: str


@dataclass
class DevSystem:
    options: DevOptions
    nats: EmbeddedNats | None = None
    nats_url: str = ""
    forest: ForestServer | None = None
    sandbox: Sandbox | None = None
    bot: Bot | None = None
    seed: DemoSeed | None = None
    service_token: str = field(default_factory=lambda: secrets.token_hex(16))
    users: dict[str, DemoUser] = field(default_factory=dict)
    _serving: asyncio.Task[None] | None = None
    _forest_address: str = ""

    async def __aenter__(self) -> DevSystem:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- parts -------------------------------------------------------------------------------

    async def start(self) -> None:
        o = self.options
        o.state_dir.mkdir(parents=True, exist_ok=True)
        self._start_nats()
        await self._start_forest()
        await self._start_sandbox()
        if o.run_bot:
            await self.start_bot()
        await self._link_and_subscribe()

    def _start_nats(self) -> None:
        if self.options.nats_url:
            self.nats_url = self.options.nats_url
        elif nats_listening():
            self.nats_url = "nats://127.0.0.1:4222"
        else:
            self.nats = EmbeddedNats(self.options.state_dir / "nats")
            self.nats_url = self.nats.start()

    async def stop_forest(self) -> None:
        if self.forest is not None:
            self._forest_address = self.forest.address
            await self.forest.stop(grace=0.5)
            self.forest = None

    async def start_forest(self) -> None:
        """Start forestd again on the same address and database (after stop_forest)."""
        self.forest = build_server(self._forest_settings(self._forest_address))
        await self.forest.start()

    def _forest_settings(self, address: str) -> ForestSettings:
        o = self.options
        return ForestSettings(
            database_url=f"sqlite+aiosqlite:///{o.state_dir / 'forestd.db'}",
            grpc_address=address,
            nats_url=self.nats_url,
            service_token=self.service_token,
            sweep_interval_seconds=o.sweep_seconds,
            compat=o.compat,
        )

    async def _start_forest(self) -> None:
        o = self.options
        settings = self._forest_settings(f"127.0.0.1:{o.forest_port}")
        self.forest = build_server(settings)
        try:
            await self.forest.start()
        except RuntimeError as exc:
            raise StartupError(f"forestd cannot serve on {settings.grpc_address}: {exc}") from None
        assert self.forest.ctx is not None
        self.seed = await seed_demo(
            self.forest.ctx.db,
            soak_seconds=o.soak_seconds,
            destination_config={
                "deploy_seconds": o.deploy_seconds,
                "plan_seconds": 0.5,
                "plan_lines": o.plan_lines,
            },
        )

    async def _start_sandbox(self) -> None:
        o = self.options
        self.sandbox = Sandbox(
            port=o.sandbox_port,
            state_file=o.state_dir / "slack.json",
            rate_limits=RateLimits.slack() if o.rate_limits else None,
        )
        try:
            await self.sandbox.start()
        except OSError as exc:
            self.sandbox = None
            raise StartupError(
                f"the Slack sandbox cannot listen on port {o.sandbox_port}: "
                f"{exc.strerror or exc} (choose another with --port)"
            ) from None

    def bot_settings(self) -> BotSettings:
        o = self.options
        assert self.sandbox is not None and self.forest is not None
        app = self.sandbox.workspace.app
        key_file = o.state_dir / "token.key"
        if not key_file.exists():
            key_file.write_text(TokenCipher.generate_key())
            key_file.chmod(0o600)
        return BotSettings(
            slack_bot_token=SecretStr(app.bot_token),
            slack_app_token=SecretStr(app.app_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=self.sandbox.api_url,
            mode=o.mode,
            http_host="127.0.0.1",
            http_port=o.bot_http_port,
            forest_address=self.forest.address,
            forest_service_token=SecretStr(self.service_token),
            nats_url=self.nats_url,
            database_url=o.bot_database_url
            or f"sqlite+aiosqlite:///{o.state_dir / 'forest-bot.db'}",
            token_key=SecretStr(key_file.read_text().strip()),
            reconcile_seconds=o.reconcile_seconds,
            # the bot paces chat.update to the workspace's budget: the sandbox's, when it has one
            chat_updates_per_minute=SLACK_TIERS["chat.update"].calls if o.rate_limits else 0,
        )

    async def start_bot(self) -> None:
        """Start (or restart) the bot against the running parts."""
        assert self.sandbox is not None
        self.bot = Bot(self.bot_settings())
        await self.bot.start()
        self._serving = asyncio.create_task(self.bot.serve(), name="bot-serve")
        listening = asyncio.create_task(self.bot.listening.wait())
        await asyncio.wait({self._serving, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if self._serving.done():
            self._serving.result()
        if self.options.mode == "http":
            self.sandbox.driver.use_http(
                f"http://127.0.0.1:{self.bot.http_port}/slack/events", SIGNING_SECRET
            )
        else:
            self.sandbox.driver.use_socket_mode()
            await self.sandbox.socket_mode.connected.wait()

    async def stop_bot(self) -> None:
        if self._serving is not None:
            self._serving.cancel()
            await asyncio.gather(self._serving, return_exceptions=True)
            self._serving = None
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None

    async def _link_and_subscribe(self) -> None:
        """The demo users linked and #deploys following acme/api, in the bot's database."""
        assert self.sandbox is not None and self.seed is not None
        settings = self.bot_settings()
        own = self.bot is None
        store = (
            await Store.open(
                settings.database_url, TokenCipher(settings.token_key.get_secret_value())
            )
            if own
            else self.bot.ctx.store  # type: ignore[union-attr]
        )
        try:
            await self._link_users(store)
            if self.options.subscribe:
                await self._subscribe(store)
        finally:
            if own:
                await store.close()

    async def _link_users(self, store: Store) -> None:
        assert self.sandbox is not None and self.seed is not None
        ws = self.sandbox.workspace
        for name in DEMO_USERS:
            user = ws.user(name)
            assert user is not None
            self.users[name] = DemoUser(
                name, user.id, self.seed.user_ids[name], self.seed.tokens[name]
            )
            await store.link_user(
                ws.app.team_id, user.id, self.seed.user_ids[name], name, self.seed.tokens[name]
            )

    async def _subscribe(self, store: Store) -> None:
        assert self.sandbox is not None and self.seed is not None
        ws = self.sandbox.workspace
        deploys = ws.channel("deploys")
        assert deploys is not None
        await store.subscribe(
            ws.app.team_id,
            deploys.id,
            self.seed.organisation,
            self.seed.project,
            created_by="forest-bot dev",
        )
        if self.bot is not None:  # a bot elsewhere finds it at start-up
            self.bot.ctx.refresher.nudge(self.seed.organisation, self.seed.project)
            await self.bot.ctx.events.sync_organisations()

    async def stop(self) -> None:
        await self.stop_bot()
        if self.sandbox is not None:
            await self.sandbox.stop()
            self.sandbox = None
        if self.forest is not None:
            await self.forest.stop(grace=0.5)
            self.forest = None
        if self.nats is not None:
            self.nats.stop()
            self.nats = None

    # -- acting as Forest's own clients ------------------------------------------------------

    async def release(
        self,
        username: str = "bob",
        *,
        branch: str = "main",
        title: str = "Add rate limiting",
        environments: tuple[str, ...] = (),
    ) -> str:
        """Annotate a commit and release it as `username`, like Forest's CLI does: through the
        pipeline, or straight to `environments` when given; returns the release intent id."""
        assert self.forest is not None and self.seed is not None
        token = self.seed.tokens[username]
        metadata = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(self.forest.address) as channel:
            stub = releases_pb2_grpc.ReleaseServiceStub(channel)
            annotated = await stub.AnnotateRelease(
                releases_pb2.AnnotateReleaseRequest(
                    project=releases_pb2.Project(
                        organisation=self.seed.organisation, project=self.seed.project
                    ),
                    ref=releases_pb2.Ref(
                        commit_sha=secrets.token_hex(20), branch=branch, commit_message=title
                    ),
                    context=releases_pb2.ArtifactContext(title=title),
                    source=releases_pb2.Source(user=username, source_type="forest-bot dev"),
                ),
                metadata=metadata,
                timeout=10,
            )
            response = await stub.Release(
                releases_pb2.ReleaseRequest(
                    artifact_id=annotated.artifact.id,
                    environments=list(environments),
                    use_pipeline=not environments,
                ),
                metadata=metadata,
                timeout=10,
            )
        return response.intents[0].release_intent_id

    def describe(self) -> dict[str, Any]:
        assert self.sandbox is not None and self.forest is not None and self.seed is not None
        return {
            "sandbox_url": self.sandbox.base_url,
            "slack_api_url": self.sandbox.api_url,
            "forest_address": self.forest.address,
            "forest_service_token": self.service_token,
            "nats_url": self.nats_url,
            "bot_mode": self.options.mode,
            "state_dir": str(self.options.state_dir),
            "channel": "#deploys",
            "project": f"{self.seed.organisation}/{self.seed.project}",
            "users": {
                name: {
                    "slack_id": u.slack_id,
                    "forest_user_id": u.forest_user_id,
                    "forest_username": u.username,
                    "token": u.token,
                }
                for name, u in self.users.items()
            },
        }
