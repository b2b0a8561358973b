"""The bot's database: one object, short transactions, safe across tasks and replicas."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from forestd.db.engine import make_engine

from .audit import Audit
from .crypto import TokenCipher
from .cursors import Cursors
from .database import StoreDatabase
from .leases import Leases
from .messages import Messages
from .migrate import upgrade_head
from .shown_states import ShownStates
from .subscriptions import Subscriptions
from .thread_posts import ThreadPosts
from .users import Users


class Store(Subscriptions, Messages, ThreadPosts, Users, Audit, Cursors, Leases, ShownStates):
    """`store = await Store.open(url, cipher)` … `await store.close()` (or `async with`).

    Every method is one short transaction: call them from any number of tasks, and from several
    processes sharing one PostgreSQL (or one SQLite file).
    """

    def __init__(self, engine: AsyncEngine, cipher: TokenCipher) -> None:
        self._db = StoreDatabase(engine)
        self._cipher = cipher

    @classmethod
    async def open(cls, url: str, cipher: TokenCipher) -> Store:
        """Connect, bring the schema to the newest migration, and return a ready store."""
        engine = make_engine(url)
        try:
            store = cls(engine, cipher)
            await upgrade_head(engine)
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def close(self) -> None:
        await self._db.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
