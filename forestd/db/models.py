"""The Forest-compatible service's tables (SQLAlchemy 2, typed ORM).

Ids are UUID strings (portable across SQLite and PostgreSQL); times are UTC-aware. The
migration in forestd/db/migrations must describe exactly these tables: a test compares them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import BigIntPK, UTCDateTime, new_id, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = String(36)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# ---- identity ---------------------------------------------------------------------------


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserEmail(Base):
    __tablename__ = "user_emails"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class OrganisationMember(Base):
    __tablename__ = "organisation_members"
    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role"),)

    organisation_id: Mapped[str] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalAccessToken(Base):
    """Only the SHA-256 of a token is stored; the raw token is shown once at creation."""

    __tablename__ = "personal_access_tokens"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- projects, destinations, pipelines, policies ----------------------------------------


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_projects_org_name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    readme: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    project_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Destination(Base):
    """Where a release runs. `kind` is `demo` (built-in) or `script` (runs a command)."""

    __tablename__ = "destinations"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", name="uq_destinations_org_name"),
        CheckConstraint("kind IN ('demo', 'script')", name="kind"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="demo")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleasePipeline(Base):
    """`stages` holds forest.v1 PipelineStage as JSON: {id, depends_on, deploy|wait|plan}."""

    __tablename__ = "release_pipelines"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_release_pipelines_proj_name"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        Id, ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    stages: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Policy(Base):
    """`policy_type` is the forest.v1 PolicyType number; `config` the matching config as JSON."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_policies_project_name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        Id, ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    policy_type: Mapped[int] = mapped_column(Integer)
    target_environment: Mapped[str] = mapped_column(String(200), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ---- artifacts, release intents, stages, steps -------------------------------------------


class Artifact(Base):
    """What gets released: a build of a commit (Forest's annotated artifact)."""

    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        Id, ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    commit_sha: Mapped[str] = mapped_column(String(64), default="")
    branch: Mapped[str | None] = mapped_column(String(300), default=None)
    commit_message: Mapped[str | None] = mapped_column(Text, default=None)
    title: Mapped[str] = mapped_column(Text, default="")
    source_user_id: Mapped[str | None] = mapped_column(Id, default=None)
    # The rest of an AnnotateRelease: metadata, source, context and ref fields as given.
    annotation: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleaseIntent(Base):
    """One release of an artifact. status: ACTIVE, SUCCEEDED, FAILED or CANCELLED."""

    __tablename__ = "release_intents"
    __table_args__ = (
        CheckConstraint("actor_type IN ('user', 'app', 'service')", name="actor_type"),
        Index("ix_release_intents_project_created", "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(Id, ForeignKey("projects.id", ondelete="CASCADE"))
    artifact_id: Mapped[str] = mapped_column(Id, ForeignKey("artifacts.id", ondelete="CASCADE"))
    pipeline_id: Mapped[str | None] = mapped_column(
        Id, ForeignKey("release_pipelines.id", ondelete="SET NULL"), default=None
    )
    actor_id: Mapped[str] = mapped_column(Id)
    actor_type: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str | None] = mapped_column(String(300), default=None)
    commit_sha: Mapped[str] = mapped_column(String(64), default="")
    commit_message: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class PipelineStageState(Base):
    """A stage of an intent's pipeline run. status: PENDING, ACTIVE, SUCCEEDED, FAILED, CANCELLED.

    Plan stages also carry approval_status (AWAITINGAPPROVAL, APPROVED, REJECTED, as Forest
    spells them) and, unlike Forest, who decided the plan and why.
    """

    __tablename__ = "pipeline_stage_states"
    __table_args__ = (
        UniqueConstraint("release_intent_id", "stage_id", name="uq_pipeline_stage_states_intent"),
        CheckConstraint("stage_type IN ('deploy', 'wait', 'plan')", name="stage_type"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    release_intent_id: Mapped[str] = mapped_column(
        Id, ForeignKey("release_intents.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    stage_type: Mapped[str] = mapped_column(String(10))
    depends_on: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[str | None] = mapped_column(String(200), default=None)
    duration_seconds: Mapped[int | None] = mapped_column(BigInteger, default=None)
    auto_approve: Mapped[bool | None] = mapped_column(Boolean, default=None)
    status: Mapped[str] = mapped_column(String(20), default="PENDING")
    approval_status: Mapped[str | None] = mapped_column(String(20), default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    wait_until: Mapped[datetime | None] = mapped_column(default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    plan_decided_by: Mapped[str | None] = mapped_column(Id, default=None)
    plan_decided_at: Mapped[datetime | None] = mapped_column(default=None)
    plan_decision_reason: Mapped[str | None] = mapped_column(Text, default=None)


class ReleaseState(Base):
    """One release step: a deploy or plan of the artifact on one destination (Forest's
    release_states row). status: QUEUED, ASSIGNED, RUNNING, SUCCEEDED, FAILED, CANCELLED,
    TIMED_OUT."""

    __tablename__ = "release_states"
    __table_args__ = (CheckConstraint("mode IN ('deploy', 'plan')", name="mode"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    release_intent_id: Mapped[str] = mapped_column(
        Id, ForeignKey("release_intents.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[str | None] = mapped_column(String(200), default=None)
    destination_id: Mapped[str] = mapped_column(
        Id, ForeignKey("destinations.id", ondelete="CASCADE")
    )
    destination_name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10), default="deploy")
    status: Mapped[str] = mapped_column(String(20), default="QUEUED", index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    plan_output: Mapped[str | None] = mapped_column(Text, default=None)
    release_token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)


# ---- the approval gate ------------------------------------------------------------------


class ApprovalDecision(Base):
    """A user's latest vote on an intent's gate for one environment (one row per user)."""

    __tablename__ = "approval_decisions"
    __table_args__ = (
        UniqueConstraint(
            "release_intent_id", "target_environment", "user_id", name="uq_approval_decisions_vote"
        ),
        CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    release_intent_id: Mapped[str] = mapped_column(
        Id, ForeignKey("release_intents.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[str] = mapped_column(Id, ForeignKey("policies.id", ondelete="CASCADE"))
    target_environment: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(Id)
    username: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    bypass: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- events ------------------------------------------------------------------------------


class OrgEvent(Base):
    """The organisation event log. `sequence` is global and monotonic (gaps per org)."""

    __tablename__ = "org_events"
    __table_args__ = (Index("ix_org_events_org_sequence", "organisation", "sequence"),)

    sequence: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(Id, unique=True, default=new_id)
    organisation: Mapped[str] = mapped_column(String(200))
    project: Mapped[str] = mapped_column(String(200), default="")
    resource_type: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    resource_id: Mapped[str] = mapped_column(String(200))
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventSubscription(Base):
    """A durable subscription: filters plus a cursor that only moves forward."""

    __tablename__ = "event_subscriptions"
    __table_args__ = (
        UniqueConstraint("organisation", "name", name="uq_event_subscriptions_org_name"),
        CheckConstraint("status IN ('active', 'paused')", name="status"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    resource_types: Mapped[list[Any]] = mapped_column(default=list)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    projects: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(10), default="active")
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
