"""The view model: what a release looks like to Slack, free of protobuf details.

`blocks.from_forest` builds these from Forest's responses; every builder reads only these.
All collections are tuples so a model is hashable and renders deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class StageKind(StrEnum):
    DEPLOY = "deploy"
    WAIT = "wait"
    PLAN = "plan"
    UNKNOWN = "unknown"


class StageStatus(StrEnum):
    PENDING = "pending"
    BLOCKED = "blocked"  # deploy ready to run but held by its approval gate
    RUNNING = "running"  # deploy deploying, wait waiting, plan planning
    AWAITING_APPROVAL = "awaiting_approval"  # plan output ready, a person must decide
    APPROVED = "approved"  # plan approved, stage not completed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # plan rejected
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """The release as a whole. Anything but RUNNING is final: no buttons any more."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Verdict(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    BYPASSED = "bypassed"


class RequirementKind(StrEnum):
    SOAK_TIME = "soak_time"
    BRANCH = "branch"
    APPROVAL = "approval"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Person:
    """A Forest user, with their Slack id when they linked their account."""

    forest_user_id: str = ""
    username: str = ""
    slack_id: str | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    branch: str = ""
    sha: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class Stage:
    stage_id: str
    kind: StageKind
    status: StageStatus
    environment: str = ""
    depends_on: tuple[str, ...] = ()
    duration_seconds: int | None = None
    wait_until: datetime | None = None
    error: str = ""
    auto_approve: bool = False
    decided_by: Person | None = None  # who approved or rejected a plan, when the bot knows


@dataclass(frozen=True, slots=True)
class Step:
    """One destination of a release (the only progress a non-pipeline release has)."""

    destination: str
    environment: str
    status: StageStatus
    error: str = ""


@dataclass(frozen=True, slots=True)
class Approvals:
    current: int
    required: int


@dataclass(frozen=True, slots=True)
class SoakFacts:
    """What a soak-time requirement is made of, so it renders without Forest's reason text
    (whose seconds change on every read). `source_finished_at` is None until the intent's
    deploy of `source_environment` succeeded."""

    duration_seconds: int
    source_environment: str
    source_finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One policy evaluation. `reason` is Forest's text, kept for logs; the message renders
    from `soak` (soak time) and `approvals` (external approval) when they are known."""

    name: str
    kind: RequirementKind
    passed: bool
    reason: str = ""
    soak: SoakFacts | None = None
    approvals: Approvals | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    voter: Person
    verdict: Verdict
    comment: str = ""
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Bypass:
    """A bypass the bot recorded in its audit table (Forest stores it as a plain approval)."""

    environment: str
    forest_user_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Gate:
    """The policies on one environment, as EvaluatePolicies reported them for this intent."""

    environment: str
    requirements: tuple[Requirement, ...] = ()
    passed: bool = False
    approvals: Approvals | None = None  # set when an external-approval policy applies
    decisions: tuple[Decision, ...] = ()  # oldest first
    accepting_votes: bool = False  # Approve / Reject / Bypass apply now


@dataclass(frozen=True, slots=True)
class Release:
    organisation: str
    project: str
    intent_id: str
    artifact_id: str = ""
    created_at: datetime | None = None
    commit: Commit = field(default_factory=Commit)
    author: Person | None = None
    environments: tuple[str, ...] = ()  # targets, in pipeline order
    stages: tuple[Stage, ...] = ()  # in a readable (topological) order
    steps: tuple[Step, ...] = ()
    gates: tuple[Gate, ...] = ()
    outcome: Outcome = Outcome.RUNNING

    @property
    def finished(self) -> bool:
        return self.outcome is not Outcome.RUNNING

    @property
    def awaiting_plans(self) -> tuple[Stage, ...]:
        if self.finished:
            return ()
        return tuple(
            s
            for s in self.stages
            if s.kind is StageKind.PLAN and s.status is StageStatus.AWAITING_APPROVAL
        )

    @property
    def open_gates(self) -> tuple[Gate, ...]:
        if self.finished:
            return ()
        return tuple(g for g in self.gates if g.accepting_votes)

    def gate(self, environment: str) -> Gate | None:
        return next((g for g in self.gates if g.environment == environment), None)


@dataclass(frozen=True, slots=True)
class PlanDestination:
    destination: str
    status: str  # the release row's status, as Forest reports it
    output: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The output of one plan stage (GetPlanOutput), per destination."""

    stage_id: str
    environment: str
    status: str
    destinations: tuple[PlanDestination, ...] = ()


@dataclass(frozen=True, slots=True)
class Subscription:
    organisation: str
    project: str
    channel_id: str = ""


@dataclass(frozen=True, slots=True)
class PendingItem:
    """Something waiting for one person: a vote on a gate, or a plan decision."""

    release: Release
    environment: str
    kind: StageKind  # DEPLOY: an approval gate; PLAN: a plan awaiting approval
    stage_id: str = ""
    permalink: str = ""  # the release message, when the bot knows it
