"""Assemble and run the Forest-compatible gRPC server (`forest-bot forest serve`)."""

from __future__ import annotations

import logging
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .auth import AuthInterceptor, TokenResolver
from .bus import Bus
from .config import ForestSettings
from .context import ServiceContext
from .db.engine import make_engine
from .db.migrate import upgrade_head
from .services import register_all
from .uow import Database

log = logging.getLogger(__name__)


class Component(Protocol):
    """A background part of the service (coordinator, runner...) started after the server."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ForestServer:
    def __init__(self, settings: ForestSettings):
        self.settings = settings
        self.ctx: ServiceContext | None = None
        self.port: int | None = None
        self.components: list[Component] = []
        self._started: list[Component] = []
        self._server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None

    @property
    def address(self) -> str:
        host = self.settings.grpc_address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> int:
        """Migrate, connect, serve, start the components; on any failure undo what was done."""
        settings = self.settings
        engine = make_engine(settings.database_url)
        bus = Bus()
        self.ctx = ServiceContext(settings=settings, db=Database(engine, bus), bus=bus)
        try:
            await self._start(self.ctx)
        except BaseException:
            await self.stop(grace=0)
            raise
        assert self.port is not None
        return self.port

    async def _start(self, ctx: ServiceContext) -> None:
        settings = self.settings
        if settings.run_migrations:
            await upgrade_head(ctx.db.engine)
        if settings.nats_url:
            await ctx.bus.connect(settings.nats_url)
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]
        server = grpc.aio.server(
            interceptors=[AuthInterceptor(TokenResolver(ctx.db, settings.service_token))],
            options=options,
        )
        names = register_all(server, ctx)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        self.port = server.add_insecure_port(settings.grpc_address)
        await server.start()
        self._server = server
        for name in ["", *names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        for component in self.components:
            await component.start()
            self._started.append(component)
        log.info("forestd serving %s on %s", ", ".join(names) or "nothing", self.address)

    async def stop(self, grace: float = 5.0) -> None:
        while self._started:
            await self._started.pop().stop()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(grace)
        if self.ctx is not None:
            await self.ctx.bus.close()
            await self.ctx.db.engine.dispose()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
