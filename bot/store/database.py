"""The engine, short transactions, and the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from forestd.db.engine import READ_ONLY

Upsert = postgresql.Insert | sqlite.Insert
IN_CHUNK = 500  # values per `IN (...)`: well inside SQLite's and PostgreSQL's parameter limits


def in_chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """The distinct values, sorted, in lists of at most IN_CHUNK: one query each."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


class StoreDatabase:
    """`async with db.write() as conn` / `db.read()`: one short transaction on a Core connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"the bot's database must be SQLite or PostgreSQL, not {self.dialect}")
        # SQLite has one writer: queue this process's writers in FIFO order rather than leave them
        # to the busy handler's back-off (see forestd.uow). Other processes sharing the file still
        # meet the busy handler; PostgreSQL needs no queue.
        self._writer: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (on SQLite it takes the write lock up front). Not reentrant."""
        async with self._writer, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (on SQLite it does not block writers)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield conn

    def insert(self, table: Any) -> Upsert:
        """INSERT with this dialect's ON CONFLICT clauses (the same API on both)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
