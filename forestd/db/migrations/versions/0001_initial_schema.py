"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("resource_types", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("projects", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused')", name=op.f("ck_event_subscriptions_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscriptions")),
        sa.UniqueConstraint("organisation", "name", name="uq_event_subscriptions_org_name"),
    )
    op.create_table(
        "org_events",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_org_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_org_events_event_id")),
    )
    with op.batch_alter_table("org_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_org_events_org_sequence", ["organisation", "sequence"], unique=False
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "destinations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('demo', 'script')", name=op.f("ck_destinations_kind")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_destinations_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destinations")),
        sa.UniqueConstraint("organisation_id", "name", name="uq_destinations_org_name"),
    )
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_destinations_environment"), ["environment"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_destinations_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "organisation_members",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'member')", name=op.f("ck_organisation_members_role")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_members_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_organisation_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "user_id", name=op.f("pk_organisation_members")),
    )
    with op.batch_alter_table("organisation_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_access_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_access_tokens_token_hash")),
    )
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_access_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("readme", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_projects_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("organisation_id", "name", name="uq_projects_org_name"),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_projects_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "user_emails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_emails_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_emails")),
        sa.UniqueConstraint("email", name=op.f("uq_user_emails_email")),
    )
    with op.batch_alter_table("user_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_emails_user_id"), ["user_id"], unique=False)

    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("branch", sa.String(length=300), nullable=True),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("source_user_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_artifacts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint("slug", name=op.f("uq_artifacts_slug")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_project_id"), ["project_id"], unique=False)

    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("policy_type", sa.Integer(), nullable=False),
        sa.Column("target_environment", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("project_id", "name", name="uq_policies_project_name"),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policies_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_policies_target_environment"), ["target_environment"], unique=False
        )

    op.create_table(
        "release_pipelines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_release_pipelines_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_pipelines")),
        sa.UniqueConstraint("project_id", "name", name="uq_release_pipelines_proj_name"),
    )
    with op.batch_alter_table("release_pipelines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_pipelines_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "release_intents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("artifact_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=300), nullable=True),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "actor_type IN ('user', 'app', 'service')", name=op.f("ck_release_intents_actor_type")
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_release_intents_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["release_pipelines.id"],
            name=op.f("fk_release_intents_pipeline_id_release_pipelines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_release_intents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_intents")),
    )
    with op.batch_alter_table("release_intents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_release_intents_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_release_intents_status"), ["status"], unique=False)

    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("release_intent_id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.Column("target_environment", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("bypass", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name=op.f("ck_approval_decisions_decision")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_approval_decisions_policy_id_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_intent_id"],
            ["release_intents.id"],
            name=op.f("fk_approval_decisions_release_intent_id_release_intents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint(
            "release_intent_id", "target_environment", "user_id", name="uq_approval_decisions_vote"
        ),
    )
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_decisions_release_intent_id"),
            ["release_intent_id"],
            unique=False,
        )

    op.create_table(
        "pipeline_stage_states",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("release_intent_id", sa.String(length=36), nullable=False),
        sa.Column("stage_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("stage_type", sa.String(length=10), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=True),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("auto_approve", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approval_status", sa.String(length=20), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("plan_decided_by", sa.String(length=36), nullable=True),
        sa.Column("plan_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("plan_decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "stage_type IN ('deploy', 'wait', 'plan')",
            name=op.f("ck_pipeline_stage_states_stage_type"),
        ),
        sa.ForeignKeyConstraint(
            ["release_intent_id"],
            ["release_intents.id"],
            name=op.f("fk_pipeline_stage_states_release_intent_id_release_intents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_stage_states")),
        sa.UniqueConstraint(
            "release_intent_id", "stage_id", name="uq_pipeline_stage_states_intent"
        ),
    )
    with op.batch_alter_table("pipeline_stage_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pipeline_stage_states_release_intent_id"),
            ["release_intent_id"],
            unique=False,
        )

    op.create_table(
        "release_states",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("release_intent_id", sa.String(length=36), nullable=False),
        sa.Column("stage_id", sa.String(length=200), nullable=True),
        sa.Column("destination_id", sa.String(length=36), nullable=False),
        sa.Column("destination_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("plan_output", sa.Text(), nullable=True),
        sa.Column("release_token_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint("mode IN ('deploy', 'plan')", name=op.f("ck_release_states_mode")),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["destinations.id"],
            name=op.f("fk_release_states_destination_id_destinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_intent_id"],
            ["release_intents.id"],
            name=op.f("fk_release_states_release_intent_id_release_intents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_states")),
        sa.UniqueConstraint(
            "release_token_hash", name=op.f("uq_release_states_release_token_hash")
        ),
    )
    with op.batch_alter_table("release_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_states_release_intent_id"), ["release_intent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_release_states_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("release_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_states_status"))
        batch_op.drop_index(batch_op.f("ix_release_states_release_intent_id"))

    op.drop_table("release_states")
    with op.batch_alter_table("pipeline_stage_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_stage_states_release_intent_id"))

    op.drop_table("pipeline_stage_states")
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_decisions_release_intent_id"))

    op.drop_table("approval_decisions")
    with op.batch_alter_table("release_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_intents_status"))
        batch_op.drop_index("ix_release_intents_project_created")

    op.drop_table("release_intents")
    with op.batch_alter_table("release_pipelines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_pipelines_project_id"))

    op.drop_table("release_pipelines")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policies_target_environment"))
        batch_op.drop_index(batch_op.f("ix_policies_project_id"))

    op.drop_table("policies")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_project_id"))

    op.drop_table("artifacts")
    with op.batch_alter_table("user_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_emails_user_id"))

    op.drop_table("user_emails")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_organisation_id"))

    op.drop_table("projects")
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_access_tokens_user_id"))

    op.drop_table("personal_access_tokens")
    with op.batch_alter_table("organisation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_members_user_id"))

    op.drop_table("organisation_members")
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destinations_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_destinations_environment"))

    op.drop_table("destinations")
    op.drop_table("users")
    op.drop_table("organisations")
    with op.batch_alter_table("org_events", schema=None) as batch_op:
        batch_op.drop_index("ix_org_events_org_sequence")

    op.drop_table("org_events")
    op.drop_table("event_subscriptions")
