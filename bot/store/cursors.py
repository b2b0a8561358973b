"""Durable EventService cursors: how far each organisation's subscription has been read."""

from __future__ import annotations

from sqlalchemy import select

from forestd.db.types import utcnow

from .database import StoreDatabase
from .models import EventCursor


class Cursors:
    _db: StoreDatabase

    async def event_cursor(self, organisation: str, subscription_name: str) -> int:
        """The last sequence processed (0 when none)."""
        statement = select(EventCursor.sequence).where(
            EventCursor.organisation == organisation,
            EventCursor.subscription_name == subscription_name,
        )
        async with self._db.read() as conn:
            return int(await conn.scalar(statement) or 0)

    async def save_event_cursor(
        self, organisation: str, subscription_name: str, sequence: int
    ) -> None:
        """Advance the cursor; a sequence at or below the stored one changes nothing."""
        statement = self._db.insert(EventCursor).values(
            organisation=organisation,
            subscription_name=subscription_name,
            sequence=sequence,
            updated_at=utcnow(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=["organisation", "subscription_name"],
            set_={
                "sequence": statement.excluded.sequence,
                "updated_at": statement.excluded.updated_at,
            },
            where=EventCursor.sequence < statement.excluded.sequence,
        )
        async with self._db.write() as conn:
            await conn.execute(statement)
