"""The approval gate's rules: evaluate an environment's enabled policies for a release.

Used by PolicyService.EvaluatePolicies and by the coordinator before it starts a deploy stage.
Policies are stored with `policy_type` (the forest.v1 PolicyType number) and `config`, the
matching forest.v1 config message as plain JSON with its proto field names:

- soak time:          {"source_environment", "target_environment", "duration_seconds"}
- branch restriction: {"target_environment", "branch_pattern"}
- external approval:  {"target_environment", "required_approvals"}

`policy_row(...)` / `config_message(...)` convert between the two; nothing else in forestd
should read `Policy.config` directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import policies_pb2

from .db.models import ApprovalDecision, Policy, Project, ReleaseIntent, ReleaseState
from .db.types import rfc3339

SOAK = policies_pb2.POLICY_TYPE_SOAK_TIME
BRANCH = policies_pb2.POLICY_TYPE_BRANCH_RESTRICTION
APPROVAL = policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL
# Starts the shown comment of a vote by which an admin approved their own release.
BYPASS_MARK = "[bypass]"

# The name of the PolicyType's field in the Policy / request `config` oneof.
CONFIG_FIELD: dict[int, str] = {
    SOAK: "soak_time",
    BRANCH: "branch_restriction",
    APPROVAL: "external_approval",
}

ConfigMessage = (
    policies_pb2.SoakTimeConfig
    | policies_pb2.BranchRestrictionConfig
    | policies_pb2.ExternalApprovalConfig
)


# ---- stored config <-> forest.v1 messages -------------------------------------------------


def config_json(message: ConfigMessage) -> dict[str, Any]:
    """The JSON stored in `policies.config` for a config message."""
    if isinstance(message, policies_pb2.SoakTimeConfig):
        return {
            "source_environment": message.source_environment,
            "target_environment": message.target_environment,
            "duration_seconds": int(message.duration_seconds),
        }
    if isinstance(message, policies_pb2.BranchRestrictionConfig):
        return {
            "target_environment": message.target_environment,
            "branch_pattern": message.branch_pattern,
        }
    return {
        "target_environment": message.target_environment,
        "required_approvals": int(message.required_approvals),
    }


def config_message(policy: Policy) -> ConfigMessage:
    """The forest.v1 config message of a stored policy."""
    config = policy.config or {}
    target = str(config.get("target_environment", policy.target_environment))
    if policy.policy_type == SOAK:
        return policies_pb2.SoakTimeConfig(
            source_environment=str(config.get("source_environment", "")),
            target_environment=target,
            duration_seconds=int(config.get("duration_seconds", 0)),
        )
    if policy.policy_type == BRANCH:
        return policies_pb2.BranchRestrictionConfig(
            target_environment=target, branch_pattern=str(config.get("branch_pattern", ""))
        )
    return policies_pb2.ExternalApprovalConfig(
        target_environment=target, required_approvals=int(config.get("required_approvals", 1))
    )


def policy_row(
    project_id: str, name: str, message: ConfigMessage, *, enabled: bool = True
) -> Policy:
    """A new (unsaved) Policy row for a config message; the type follows the message."""
    policy_type = {
        policies_pb2.SoakTimeConfig: SOAK,
        policies_pb2.BranchRestrictionConfig: BRANCH,
        policies_pb2.ExternalApprovalConfig: APPROVAL,
    }[type(message)]
    return Policy(
        project_id=project_id,
        name=name,
        enabled=enabled,
        policy_type=policy_type,
        target_environment=message.target_environment,
        config=config_json(message),
    )


def policy_message(policy: Policy) -> policies_pb2.Policy:
    """A stored policy as forest.v1 Policy."""
    message = policies_pb2.Policy(
        id=policy.id,
        name=policy.name,
        enabled=policy.enabled,
        policy_type=policy.policy_type,  # type: ignore[arg-type]
        created_at=rfc3339(policy.created_at),
        updated_at=rfc3339(policy.updated_at),
    )
    field = CONFIG_FIELD.get(policy.policy_type)
    if field is not None:
        getattr(message, field).CopyFrom(config_message(policy))
    return message


# ---- the approval state ---------------------------------------------------------------


async def required_approvals(session: AsyncSession, project_id: str, environment: str) -> int:
    """The highest `required_approvals` among enabled approval policies (0 when there is none)."""
    policies = await enabled_policies(session, project_id, environment, APPROVAL)
    return max((required_of(p) for p in policies), default=0)


async def approval_state(
    session: AsyncSession, intent_id: str, environment: str, required: int | None = None
) -> policies_pb2.ExternalApprovalState:
    """Votes on an intent's gate for one environment: every voter's latest decision, oldest
    first, and the highest requirement among the project's enabled approval policies there
    (pass `required` when the caller already knows it)."""
    if required is None:
        project_id = await session.scalar(
            select(ReleaseIntent.project_id).where(ReleaseIntent.id == intent_id)
        )
        required = await required_approvals(session, project_id, environment) if project_id else 0
    return await _state(session, intent_id, environment, required)


async def _state(
    session: AsyncSession, intent_id: str, environment: str, required: int
) -> policies_pb2.ExternalApprovalState:
    rows = (
        await session.scalars(
            select(ApprovalDecision)
            .where(
                ApprovalDecision.release_intent_id == intent_id,
                ApprovalDecision.target_environment == environment,
            )
            .order_by(ApprovalDecision.created_at, ApprovalDecision.id)
        )
    ).all()
    state = policies_pb2.ExternalApprovalState(
        required_approvals=required,
        current_approvals=sum(1 for row in rows if row.decision == "approved"),
    )
    for row in rows:
        entry = state.decisions.add(
            user_id=row.user_id,
            username=row.username,
            decision=row.decision,
            decided_at=rfc3339(row.created_at),
        )
        comment = decision_comment(row)
        if comment is not None:
            entry.comment = comment
    return state


def decision_comment(row: ApprovalDecision) -> str | None:
    """The comment shown for a vote: a bypass is marked `[bypass]` (followed by the comment)."""
    if not row.bypass:
        return row.comment
    return f"{BYPASS_MARK} {row.comment}" if row.comment else BYPASS_MARK


# ---- evaluation ---------------------------------------------------------------------


async def enabled_policies(
    session: AsyncSession, project_id: str, environment: str, policy_type: int | None = None
) -> Sequence[Policy]:
    query = select(Policy).where(
        Policy.project_id == project_id,
        Policy.target_environment == environment,
        Policy.enabled.is_(True),
    )
    if policy_type is not None:
        query = query.where(Policy.policy_type == policy_type)
    return (await session.scalars(query.order_by(Policy.created_at, Policy.name))).all()


async def evaluate_environment(
    session: AsyncSession,
    project: Project,
    environment: str,
    *,
    intent: ReleaseIntent | None,
    branch: str | None,
    now: datetime,
) -> policies_pb2.EvaluatePoliciesResponse:
    """Evaluate every enabled policy on `environment` for a release of `project`.

    With an intent, soak time counts from that intent's own deploys in the source environment,
    the branch is the intent's (or `branch` when the intent has none) and approvals are its
    votes. Without one, soak time counts from the project's latest successful deploy there, the
    branch is `branch`, and approval policies fail with no votes. `all_passed` is true when
    every evaluation passed (and when there is no policy at all).
    """
    policies = await enabled_policies(session, project.id, environment)
    required = max((required_of(p) for p in policies if p.policy_type == APPROVAL), default=0)
    effective_branch = (intent.branch if intent is not None and intent.branch else None) or branch
    response = policies_pb2.EvaluatePoliciesResponse()
    state: policies_pb2.ExternalApprovalState | None = None
    for policy in policies:
        evaluation = response.evaluations.add(
            policy_name=policy.name,
            policy_type=policy.policy_type,  # type: ignore[arg-type]
        )
        if policy.policy_type == SOAK:
            evaluation.passed, evaluation.reason = await _soak(
                session, project, policy, intent, now
            )
        elif policy.policy_type == BRANCH:
            evaluation.passed, evaluation.reason = _branch(policy, effective_branch)
        elif policy.policy_type == APPROVAL:
            if state is None:
                state = (
                    await _state(session, intent.id, environment, required)
                    if intent is not None
                    else policies_pb2.ExternalApprovalState(required_approvals=required)
                )
            evaluation.external_approval_state.CopyFrom(state)
            evaluation.passed = intent is not None and state.current_approvals >= required
            verb = "approved" if evaluation.passed else "awaiting approval"
            evaluation.reason = f"{verb}: {state.current_approvals}/{required}"
            if intent is None:
                evaluation.reason += " (no release intent to count votes for)"
        else:
            evaluation.passed = False
            evaluation.reason = f"unknown policy type {policy.policy_type}"
    response.all_passed = all(e.passed for e in response.evaluations)
    return response


def required_of(policy: Policy) -> int:
    return int((policy.config or {}).get("required_approvals", 1))


def _branch(policy: Policy, branch: str | None) -> tuple[bool, str]:
    pattern = str((policy.config or {}).get("branch_pattern", ""))
    if not branch:
        return False, f"no branch to check against /{pattern}/"
    try:
        matched = re.search(pattern, branch) is not None
    except re.error as exc:
        return False, f"invalid branch pattern /{pattern}/: {exc}"
    if matched:
        return True, f"branch {branch!r} matches /{pattern}/"
    return False, f"branch {branch!r} does not match /{pattern}/"


async def _soak(
    session: AsyncSession,
    project: Project,
    policy: Policy,
    intent: ReleaseIntent | None,
    now: datetime,
) -> tuple[bool, str]:
    config = policy.config or {}
    source = str(config.get("source_environment", ""))
    duration = int(config.get("duration_seconds", 0))
    succeeded_at = (
        await _intent_succeeded_at(session, intent.id, source)
        if intent is not None
        else await _project_succeeded_at(session, project.id, source)
    )
    if succeeded_at is None:
        return False, f"{source} has not succeeded yet"
    elapsed = max(0, int((now - succeeded_at).total_seconds()))
    if elapsed >= duration:
        return True, f"soaked: {elapsed}s since {source} succeeded (needs {duration}s)"
    return False, f"soak: {elapsed}s of {duration}s since {source} succeeded"


async def _intent_succeeded_at(
    session: AsyncSession, intent_id: str, environment: str
) -> datetime | None:
    """When the intent's deploys in `environment` all succeeded (the latest completion)."""
    steps = (
        await session.execute(
            select(ReleaseState.status, ReleaseState.completed_at).where(
                ReleaseState.release_intent_id == intent_id,
                ReleaseState.environment == environment,
                ReleaseState.mode == "deploy",
            )
        )
    ).all()
    completed = [done for status, done in steps if status == "SUCCEEDED" and done is not None]
    if not steps or len(completed) != len(steps):
        return None
    return max(completed)


async def _project_succeeded_at(
    session: AsyncSession, project_id: str, environment: str
) -> datetime | None:
    """The project's latest successful deploy in `environment`, whatever the release."""
    return await session.scalar(
        select(func.max(ReleaseState.completed_at))
        .join(ReleaseIntent, ReleaseIntent.id == ReleaseState.release_intent_id)
        .where(
            ReleaseIntent.project_id == project_id,
            ReleaseState.environment == environment,
            ReleaseState.mode == "deploy",
            ReleaseState.status == "SUCCEEDED",
        )
    )
