"""Async engine and sessions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

READ_ONLY = "forestd_read_only"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine with SQLite made transactional and safe for concurrent readers.

    sqlite3's legacy transaction handling does not BEGIN before SELECTs, which breaks
    read-then-write transactions; we take over BEGIN ourselves and enable WAL, foreign keys
    and a busy timeout.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"isolation_level": None}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front (no SQLITE_BUSY when a read upgrades to a
            # write); read-only sessions (READ_ONLY option) do not block writers.
            readonly = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
