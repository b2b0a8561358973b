"""Assemble and run the Forest-compatible gRPC server (`forest-bot forest serve`)."""

from __future__ import annotations

import errno
import logging
import socket
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


class AddressInUse(RuntimeError):
    """Something (often another forestd) already listens on the gRPC address."""


def refuse_taken_address(address: str) -> None:
    """Raise AddressInUse when `host:port` is already served.

    gRPC binds with SO_REUSEPORT by default, so a second forestd on a taken port would bind it
    too, share its connections and claim to be listening. The server also turns SO_REUSEPORT
    off; this probe comes first so the refusal is one clear error rather than gRPC's log line.
    Port 0 (any free port) is never taken.
    """
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return
    try:
        candidates = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror:
        return  # gRPC reports an unresolvable host itself
    for family, kind, proto, _, where in candidates:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC does: a port left in TIME_WAIT is free, one someone listens on is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(where)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise AddressInUse(f"{address} is already in use (another forestd?)") from None
                # anything else (an address this host lacks...): gRPC reports it when it binds


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
        refuse_taken_address(settings.grpc_address)
        if settings.run_migrations:
            await upgrade_head(ctx.db.engine)
        if settings.nats_url:
            await ctx.bus.connect(settings.nats_url)
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),  # a taken port is an error, never shared
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
