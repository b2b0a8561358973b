"""Shown states: what a release message last showed of its intent, and how the intent ended.

Forest lists only a project's newest 50 intents and its live ones, with no read by id: once an
intent ends off that page, the last state a message was brought to plus the outcome Forest
signalled on completion is all any replica can show. Kept in the database so the replica that
receives the completion signal need not be the one that last read the intent.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select, update

from forestd.db.types import utcnow

from .database import StoreDatabase
from .models import ShownState


class ShownStates:
    _db: StoreDatabase

    async def remember_shown_state(self, intent_id: str, state: bytes) -> None:
        insert = self._db.insert(ShownState).values(
            intent_id=intent_id, state=state, outcome=None, updated_at=utcnow()
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["intent_id"],
            set_={"state": insert.excluded.state, "updated_at": insert.excluded.updated_at},
        )
        async with self._db.write() as conn:
            await conn.execute(upsert)

    async def settle_shown_state(self, intent_id: str, outcome: str) -> bool:
        """Record how the intent ended; False when no message showed it (nothing kept)."""
        statement = (
            update(ShownState)
            .where(ShownState.intent_id == intent_id)
            .values(outcome=outcome, updated_at=utcnow())
            .returning(ShownState.intent_id)
        )
        async with self._db.write() as conn:
            return await conn.scalar(statement) is not None

    async def ended_states(self, intent_ids: Collection[str]) -> dict[str, tuple[bytes, str]]:
        """The last shown state and outcome of those of these intents that ended."""
        if not intent_ids:
            return {}
        statement = select(ShownState.intent_id, ShownState.state, ShownState.outcome).where(
            ShownState.intent_id.in_(sorted(intent_ids)), ShownState.outcome.is_not(None)
        )
        async with self._db.read() as conn:
            return {r[0]: (bytes(r[1]), str(r[2])) for r in await conn.execute(statement)}

    async def forget_shown_state(self, intent_id: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(ShownState).where(ShownState.intent_id == intent_id))
