"""Migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from forestd.db.engine import make_engine
from forestd.db.migrate import current_revision, upgrade_head
from forestd.db.models import Base


def _diff(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def _check(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_head(engine)
        await upgrade_head(engine)  # idempotent: a second start-up changes nothing
        assert await current_revision(engine) is not None
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == [], f"migrations and models disagree: {diff}"
    finally:
        await engine.dispose()


async def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'forest.db'}")


@pytest.mark.postgres
async def test_postgres_migrations_match_models(pg_url: str) -> None:
    await _check(pg_url)
