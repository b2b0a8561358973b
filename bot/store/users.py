"""Slack users linked to their Forest accounts; tokens are encrypted before they reach the DB."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select, delete, select

from forestd.db.types import utcnow

from .crypto import TokenCipher
from .database import StoreDatabase, in_chunks
from .models import UserLink
from .rows import LinkedUser

# Keeps an IN (...) list well under SQLite's and asyncpg's bound-parameter limits.


def _links() -> Select[*tuple[Any, ...]]:
    return select(
        UserLink.team_id,
        UserLink.slack_user_id,
        UserLink.forest_user_id,
        UserLink.username,
        UserLink.token_encrypted,
        UserLink.linked_at,
    ).order_by(UserLink.team_id, UserLink.slack_user_id)


class Users:
    _db: StoreDatabase
    _cipher: TokenCipher

    def _linked(self, row: Row[*tuple[Any, ...]]) -> LinkedUser:
        """Raises InvalidKey when the token was encrypted with another key."""
        return LinkedUser(
            team_id=row.team_id,
            slack_user_id=row.slack_user_id,
            forest_user_id=row.forest_user_id,
            username=row.username,
            token=self._cipher.decrypt(row.token_encrypted),
            linked_at=row.linked_at,
        )

    async def link_user(
        self, team_id: str, slack_user_id: str, forest_user_id: str, username: str, token: str
    ) -> None:
        """Link (or re-link) a Slack user to a Forest account and its token."""
        statement = self._db.insert(UserLink).values(
            team_id=team_id,
            slack_user_id=slack_user_id,
            forest_user_id=forest_user_id,
            username=username,
            token_encrypted=self._cipher.encrypt(token),
            linked_at=utcnow(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=["team_id", "slack_user_id"],
            set_={
                "forest_user_id": statement.excluded.forest_user_id,
                "username": statement.excluded.username,
                "token_encrypted": statement.excluded.token_encrypted,
                "linked_at": statement.excluded.linked_at,
            },
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def user_link(self, team_id: str, slack_user_id: str) -> LinkedUser | None:
        statement = _links().where(
            UserLink.team_id == team_id, UserLink.slack_user_id == slack_user_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else self._linked(row)

    async def unlink_user(self, team_id: str, slack_user_id: str) -> bool:
        statement = delete(UserLink).where(
            UserLink.team_id == team_id, UserLink.slack_user_id == slack_user_id
        )
        async with self._db.write() as conn:
            return (await conn.execute(statement)).rowcount > 0

    async def slack_ids_for(self, team_id: str, forest_user_ids: Iterable[str]) -> dict[str, str]:
        """Forest user id -> Slack user id, for the given users linked in this team.

        A Forest account linked from two Slack accounts maps to the one linked last.
        """
        found: dict[str, str] = {}
        async with self._db.read() as conn:
            for chunk in in_chunks(forest_user_ids):
                statement = (
                    select(UserLink.forest_user_id, UserLink.slack_user_id)
                    .where(
                        UserLink.team_id == team_id,
                        UserLink.forest_user_id.in_(chunk),
                    )
                    .order_by(UserLink.linked_at, UserLink.slack_user_id)
                )
                found.update({forest: slack for forest, slack in await conn.execute(statement)})
        return found

    async def links_for_forest_user(self, forest_user_id: str) -> list[LinkedUser]:
        """Every Slack account (in any team) linked to this Forest user."""
        statement = _links().where(UserLink.forest_user_id == forest_user_id)
        async with self._db.read() as conn:
            rows = list(await conn.execute(statement))
        return [self._linked(row) for row in rows]
