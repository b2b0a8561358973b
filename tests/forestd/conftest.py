"""A real forestd gRPC server on 127.0.0.1:0 with real NATS, on SQLite (and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest

from forestd.config import ForestSettings
from forestd.server import ForestServer
from forestd.uow import Database

from .factories import World, provision

SERVICE_TOKEN = "test-service-token"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'forest.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def forest_settings(database_url: str, nats_url: str) -> ForestSettings:
    return ForestSettings(
        database_url=database_url,
        grpc_address="127.0.0.1:0",
        nats_url=nats_url,
        service_token=SERVICE_TOKEN,
        sweep_interval_seconds=0.5,
    )


@pytest.fixture
async def forest_server(forest_settings: ForestSettings) -> AsyncIterator[ForestServer]:
    server = ForestServer(forest_settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


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
