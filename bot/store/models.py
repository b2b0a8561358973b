"""The bot's tables. Prefixed `bot_` so they can share a database with other applications.

The migration in bot/store/migrations must describe exactly these tables: a test compares them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forestd.db.types import BigIntPK, UTCDateTime

from .rows import AUDIT_ACTIONS, AUDIT_RESULTS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
TABLE_PREFIX = "bot_"

SlackId = String(32)  # team, channel and user ids (T…, C…, U…; Slack documents no bound)
SlackTs = String(32)  # message timestamps such as "1712345678.123456"
ForestId = String(64)  # Forest ids are UUIDs; headroom for other formats
Name = String(255)  # organisation, project, environment, username, thread-post keys


def _one_of(column: str, values: frozenset[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in sorted(values))})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Subscription(Base):
    """A channel follows a project (environment None: all of its environments)."""

    __tablename__ = "bot_subscriptions"
    __table_args__ = (Index("ix_bot_subscriptions_project", "organisation", "project"),)

    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    organisation: Mapped[str] = mapped_column(Name, primary_key=True)
    project: Mapped[str] = mapped_column(Name, primary_key=True)
    environment: Mapped[str | None] = mapped_column(Name)
    created_by: Mapped[str] = mapped_column(SlackId)
    created_at: Mapped[datetime]


class ReleaseMessage(Base):
    """The message that shows one release intent in one channel; the row is also the claim."""

    __tablename__ = "bot_release_messages"
    __table_args__ = (
        Index("ix_bot_release_messages_ts", "channel_id", "ts"),
        Index("ix_bot_release_messages_finished", "finished"),
    )

    intent_id: Mapped[str] = mapped_column(ForestId, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    organisation: Mapped[str] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name)
    ts: Mapped[str | None] = mapped_column(SlackTs)
    digest: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(BigInteger)
    finished: Mapped[bool] = mapped_column(Boolean)
    claimed_at: Mapped[datetime]


class ThreadPost(Base):
    """A reply in a release message's thread, posted at most once per key."""

    __tablename__ = "bot_thread_posts"

    intent_id: Mapped[str] = mapped_column(ForestId, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    key: Mapped[str] = mapped_column(Name, primary_key=True)
    ts: Mapped[str | None] = mapped_column(SlackTs)
    claimed_at: Mapped[datetime]


class UserLink(Base):
    """A Slack user's Forest account. The token is only ever stored encrypted."""

    __tablename__ = "bot_user_links"

    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    forest_user_id: Mapped[str] = mapped_column(ForestId, index=True)
    username: Mapped[str] = mapped_column(Name)
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    linked_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "bot_audit_log"
    __table_args__ = (
        CheckConstraint(_one_of("action", AUDIT_ACTIONS), name="action"),
        CheckConstraint(_one_of("result", AUDIT_RESULTS), name="result"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    team_id: Mapped[str] = mapped_column(SlackId)
    slack_user_id: Mapped[str] = mapped_column(SlackId)
    forest_user_id: Mapped[str] = mapped_column(ForestId)
    action: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name)
    intent_id: Mapped[str] = mapped_column(ForestId, index=True)
    environment: Mapped[str] = mapped_column(Name)
    stage_id: Mapped[str] = mapped_column(ForestId)
    comment: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)


class EventCursor(Base):
    """How far the bot has read an organisation's EventService durable subscription."""

    __tablename__ = "bot_event_cursors"

    organisation: Mapped[str] = mapped_column(Name, primary_key=True)
    subscription_name: Mapped[str] = mapped_column(Name, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class Lease(Base):
    """Who refreshes a project now: one replica at a time, until `expires_at` (then anyone)."""

    __tablename__ = "bot_leases"

    name: Mapped[str] = mapped_column(Name, primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class ShownState(Base):
    """The last Forest state of an intent that a message was brought to, and the outcome Forest
    signalled when the intent completed: what its message shows once Forest no longer lists it."""

    __tablename__ = "bot_shown_states"

    intent_id: Mapped[str] = mapped_column(ForestId, primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)  # a serialised ReleaseIntentState
    outcome: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime]
