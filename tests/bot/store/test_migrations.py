"""The bot's migrations create exactly the tables its models describe, next to anyone else's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.store import Store, TokenCipher
from bot.store.migrate import VERSION_TABLE, current_revision, upgrade_head
from bot.store.models import TABLE_PREFIX, Base
from forestd.db.engine import make_engine

from .conftest import run_sql


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
    )
    return compare_metadata(context, Base.metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade_head(engine)
        await upgrade_head(engine)  # idempotent: a second start-up changes nothing
        assert await current_revision(engine) == "0003"
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(_tables)
        assert diff == [], f"migrations and models disagree: {diff}"
        assert VERSION_TABLE in tables
        assert "alembic_version" not in tables  # Forest's own migrations keep theirs
        assert {t for t in tables if t != VERSION_TABLE} == set(Base.metadata.tables)
        assert all(t.startswith(TABLE_PREFIX) for t in Base.metadata.tables)
    finally:
        await engine.dispose()


async def test_shares_a_database_with_other_tables(database_url: str, cipher: TokenCipher) -> None:
    await run_sql(database_url, "CREATE TABLE alembic_version (version_num VARCHAR(32))")
    await run_sql(database_url, "INSERT INTO alembic_version VALUES ('forest-0002')")
    async with await Store.open(database_url, cipher) as store:
        assert await store.subscribe("T1", "C1", "acme", "api")
    assert await run_sql(database_url, "SELECT version_num FROM alembic_version") == [
        ("forest-0002",)
    ]


async def test_replicas_starting_together_on_a_fresh_database(
    database_url: str, cipher: TokenCipher
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share PostgreSQL; SQLite is one process's database (README)")
    stores = await asyncio.gather(*(Store.open(database_url, cipher) for _ in range(8)))
    try:
        subscribed = await asyncio.gather(*(s.subscribe("T1", "C1", "acme", "api") for s in stores))
        assert subscribed.count(True) == 1
        assert await stores[0].count_messages() == 0
    finally:
        await asyncio.gather(*(s.close() for s in stores))
