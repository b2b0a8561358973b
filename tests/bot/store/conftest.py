"""A Store on SQLite and on PostgreSQL (skipped, saying why, when no server answers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Executable, text

from bot.store import Store, TokenCipher
from forestd.db.engine import make_engine


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(TokenCipher.generate_key())


@pytest.fixture
async def store(database_url: str, cipher: TokenCipher) -> AsyncIterator[Store]:
    async with await Store.open(database_url, cipher) as opened:
        yield opened


async def run_sql(url: str, statement: str | Executable, **params: Any) -> list[Any]:
    """Run SQL on the database behind a store from the outside (another process, as it were)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            sql = text(statement) if isinstance(statement, str) else statement
            result = await conn.execute(sql, params)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()
