"""A real forestd gRPC server on 127.0.0.1:0 with real NATS, on SQLite (and PostgreSQL): plain
(`forest_server`, `channel`, `db`, `world`) or with the coordinator and runner attached (`machine`,
`rpc`, `release_world`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from forest.v1 import policies_pb2_grpc, users_pb2_grpc
from forestd.config import ForestSettings
from forestd.runner import attach
from forestd.server import ForestServer
from forestd.uow import Database

from .factories import World, provision
from .releases_helpers import Stubs, configure_destinations

SERVICE_TOKEN = "test-service-token"


@pytest.fixture
def forest_settings(database_url: str, nats_url: str) -> ForestSettings:
    return ForestSettings(
        database_url=database_url,
        grpc_address="127.0.0.1:0",
        nats_url=nats_url,
        service_token=SERVICE_TOKEN,
        sweep_interval_seconds=0.5,
    )


@contextlib.asynccontextmanager
async def serving(settings: ForestSettings, *, with_runner: bool) -> AsyncIterator[ForestServer]:
    server = ForestServer(settings)
    if with_runner:
        attach(server)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


@pytest.fixture
async def forest_server(forest_settings: ForestSettings) -> AsyncIterator[ForestServer]:
    async with serving(forest_settings, with_runner=False) as server:
        yield server


@pytest.fixture
async def machine(forest_settings: ForestSettings) -> AsyncIterator[ForestServer]:
    """A real forestd (gRPC, NATS, SQLite/PostgreSQL) with the coordinator and runner."""
    async with serving(forest_settings, with_runner=True) as server:
        yield server


@pytest.fixture
async def rpc(machine: ForestServer) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(machine.address) as channel:
        assert machine.ctx is not None
        yield Stubs(channel, machine.ctx.db)


@pytest.fixture
async def channel(forest_server: ForestServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(forest_server.address) as ch:
        yield ch


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def as_service() -> Callable[[], tuple[tuple[str, str], ...]]:
    return lambda: bearer(SERVICE_TOKEN)


@pytest.fixture
def db(forest_server: ForestServer) -> Database:
    assert forest_server.ctx is not None
    return forest_server.ctx.db


@pytest.fixture
async def world(db: Database) -> World:
    """The standard organisation (admin alice, members bob and carol, project api)."""
    return await provision(db)


@pytest.fixture
async def release_world(machine: ForestServer) -> World:
    """The standard organisation on `machine`, with demo destinations for staging and production."""
    assert machine.ctx is not None
    world = await provision(machine.ctx.db)
    await configure_destinations(machine.ctx.db, world)
    return world


@pytest.fixture
def policies(channel: grpc.aio.Channel) -> policies_pb2_grpc.PolicyServiceStub:
    return policies_pb2_grpc.PolicyServiceStub(channel)


@pytest.fixture
def users(channel: grpc.aio.Channel) -> users_pb2_grpc.UsersServiceStub:
    return users_pb2_grpc.UsersServiceStub(channel)
