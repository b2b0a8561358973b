"""initial schema: subscriptions, release messages, thread posts, user links, audit, cursors

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bot_subscriptions",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "channel_id", "organisation", "project", name=op.f("pk_bot_subscriptions")
        ),
    )
    op.create_index(
        "ix_bot_subscriptions_project", "bot_subscriptions", ["organisation", "project"]
    )

    op.create_table(
        "bot_release_messages",
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("intent_id", "channel_id", name=op.f("pk_bot_release_messages")),
    )
    op.create_index("ix_bot_release_messages_ts", "bot_release_messages", ["channel_id", "ts"])
    op.create_index("ix_bot_release_messages_finished", "bot_release_messages", ["finished"])

    op.create_table(
        "bot_thread_posts",
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("intent_id", "channel_id", "key", name=op.f("pk_bot_thread_posts")),
    )

    op.create_table(
        "bot_user_links",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("forest_user_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("linked_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "slack_user_id", name=op.f("pk_bot_user_links")),
    )
    op.create_index(op.f("ix_bot_user_links_forest_user_id"), "bot_user_links", ["forest_user_id"])

    op.create_table(
        "bot_audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("forest_user_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "action IN ('approve', 'bypass', 'plan_approve', 'plan_reject', 'reject')",
            name=op.f("ck_bot_audit_log_action"),
        ),
        sa.CheckConstraint(
            "result IN ('error', 'recorded', 'refused', 'unreachable')",
            name=op.f("ck_bot_audit_log_result"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_audit_log")),
    )
    op.create_index(op.f("ix_bot_audit_log_intent_id"), "bot_audit_log", ["intent_id"])

    op.create_table(
        "bot_event_cursors",
        sa.Column("organisation", sa.String(length=255), nullable=False),
        sa.Column("subscription_name", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint(
            "organisation", "subscription_name", name=op.f("pk_bot_event_cursors")
        ),
    )


def downgrade() -> None:
    op.drop_table("bot_event_cursors")
    op.drop_index(op.f("ix_bot_audit_log_intent_id"), table_name="bot_audit_log")
    op.drop_table("bot_audit_log")
    op.drop_index(op.f("ix_bot_user_links_forest_user_id"), table_name="bot_user_links")
    op.drop_table("bot_user_links")
    op.drop_table("bot_thread_posts")
    op.drop_index("ix_bot_release_messages_finished", table_name="bot_release_messages")
    op.drop_index("ix_bot_release_messages_ts", table_name="bot_release_messages")
    op.drop_table("bot_release_messages")
    op.drop_index("ix_bot_subscriptions_project", table_name="bot_subscriptions")
    op.drop_table("bot_subscriptions")
