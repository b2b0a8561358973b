"""The bot's Alembic migrations, run programmatically inside the running event loop."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "forest_bot_alembic_version"
# Replicas starting together on a fresh PostgreSQL would race to create the same tables: the
# first holds this transaction-scoped advisory lock while it migrates, the others then find the
# schema at head. (On SQLite, BEGIN IMMEDIATE does the same.) Taking the lock before Alembic
# starts also matters within one process: Alembic's `context` is a process-global proxy, which two
# upgrades interleaved on one event loop would clobber. An arbitrary constant.
_PG_MIGRATION_LOCK = 0x0F0E57B07


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_head(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (idempotent, safe from concurrent replicas)."""

    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)
