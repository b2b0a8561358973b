"""Which Slack channels follow which Forest projects (Store's subscription methods)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, delete, select

from forestd.db.types import utcnow

from .database import StoreDatabase
from .models import ReleaseMessage, Subscription, ThreadPost
from .rows import SubscriptionRow

NAME_MAX = 255


def _subscriptions() -> Select[*tuple[Any, ...]]:
    return select(
        Subscription.team_id,
        Subscription.channel_id,
        Subscription.organisation,
        Subscription.project,
        Subscription.environment,
        Subscription.created_by,
        Subscription.created_at,
    ).order_by(
        Subscription.organisation,
        Subscription.project,
        Subscription.team_id,
        Subscription.channel_id,
    )


def _row(row: Row[*tuple[Any, ...]]) -> SubscriptionRow:
    return SubscriptionRow(**row._mapping)


class Subscriptions:
    _db: StoreDatabase

    async def subscribe(
        self,
        team_id: str,
        channel_id: str,
        organisation: str,
        project: str,
        environment: str | None = None,
        created_by: str = "",
    ) -> bool:
        """Follow a project in a channel; False when the channel already follows it.

        An existing subscription is left as it is (its environment included).
        """
        for what, name in (
            ("organisation", organisation),
            ("project", project),
            ("environment", environment or ""),
        ):
            if len(name) > NAME_MAX:
                raise ValueError(f"{what} name longer than {NAME_MAX} characters")
        statement = (
            self._db.insert(Subscription)
            .values(
                team_id=team_id,
                channel_id=channel_id,
                organisation=organisation,
                project=project,
                environment=environment,
                created_by=created_by,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
            .returning(Subscription.team_id)
        )
        async with self._db.write() as conn:
            return await conn.scalar(statement) is not None

    async def unsubscribe(
        self, team_id: str, channel_id: str, organisation: str, project: str
    ) -> bool:
        statement = delete(Subscription).where(
            Subscription.team_id == team_id,
            Subscription.channel_id == channel_id,
            Subscription.organisation == organisation,
            Subscription.project == project,
        )
        async with self._db.write() as conn:
            return (await conn.execute(statement)).rowcount > 0

    async def subscriptions_for_channel(
        self, team_id: str, channel_id: str
    ) -> list[SubscriptionRow]:
        statement = _subscriptions().where(
            Subscription.team_id == team_id, Subscription.channel_id == channel_id
        )
        async with self._db.read() as conn:
            return [_row(row) for row in await conn.execute(statement)]

    async def subscriptions_for_project(
        self, organisation: str, project: str
    ) -> list[SubscriptionRow]:
        statement = _subscriptions().where(
            Subscription.organisation == organisation, Subscription.project == project
        )
        async with self._db.read() as conn:
            return [_row(row) for row in await conn.execute(statement)]

    async def all_subscriptions(self) -> list[SubscriptionRow]:
        async with self._db.read() as conn:
            return [_row(row) for row in await conn.execute(_subscriptions())]

    async def remove_channel(self, team_id: str, channel_id: str) -> int:
        """Forget a channel the bot can no longer post to (archived, or the bot was removed).

        Drops its subscriptions and its release messages and thread posts, so that nothing
        keeps trying to update them; returns how many subscriptions it dropped.
        """
        in_channel = (ReleaseMessage.team_id == team_id, ReleaseMessage.channel_id == channel_id)
        async with self._db.write() as conn:
            await conn.execute(
                delete(ThreadPost).where(
                    ThreadPost.channel_id == channel_id,
                    ThreadPost.intent_id.in_(select(ReleaseMessage.intent_id).where(*in_channel)),
                )
            )
            await conn.execute(delete(ReleaseMessage).where(*in_channel))
            removed = await conn.execute(
                delete(Subscription).where(
                    Subscription.team_id == team_id, Subscription.channel_id == channel_id
                )
            )
            return removed.rowcount
