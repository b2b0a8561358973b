"""The main release states, built the way the bot builds them: from Forest's protobuf messages
through `release_from_forest`. Shared by the golden tests and docs/messages.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from blocks.from_forest import release_from_forest
from blocks.model import Bypass, Commit, Person, Release
from forest.v1 import policies_pb2, releases_pb2

Status = releases_pb2.PipelineRunStageStatus
NOW = datetime(2026, 11, 24, 12, 7, tzinfo=UTC)
STAGING_DONE = "2026-11-24T12:02:00Z"  # + the 30 min soak: production opens at 12:32
INTENT = "7d9c1f0e-5b7a-4f3e-9d2c-3f2a9c1e8b10"
ORG = "acme"
COMMIT = Commit(branch="main", sha="3f2a9c1e8b10d4f5a6b7", title="Fix checkout rounding")
ALICE = Person("u-alice", "alice")
SLACK_IDS = {"u-alice": "U0ALICE", "u-bob": "U0BOB"}  # carol did not link her account

PENDING = releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING
ACTIVE = releases_pb2.PIPELINE_RUN_STAGE_STATUS_ACTIVE
SUCCEEDED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED
FAILED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_FAILED
CANCELLED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_CANCELLED
DEPLOY = releases_pb2.PIPELINE_RUN_STAGE_TYPE_DEPLOY
WAIT = releases_pb2.PIPELINE_RUN_STAGE_TYPE_WAIT
PLAN = releases_pb2.PIPELINE_RUN_STAGE_TYPE_PLAN
SOAK_TIME = policies_pb2.POLICY_TYPE_SOAK_TIME
BRANCH = policies_pb2.POLICY_TYPE_BRANCH_RESTRICTION
APPROVAL = policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL


def _stage(
    stage_id: str,
    kind: releases_pb2.PipelineRunStageType,
    status: releases_pb2.PipelineRunStageStatus,
    environment: str | None = None,
    depends_on: tuple[str, ...] = (),
    **extra: Any,
) -> releases_pb2.PipelineStageState:
    stage = releases_pb2.PipelineStageState(
        stage_id=stage_id, stage_type=kind, status=status, depends_on=list(depends_on), **extra
    )
    if environment is not None:
        stage.environment = environment
    return stage


def pipeline(
    staging: Status = SUCCEEDED,
    soak: Status = SUCCEEDED,
    plan: Status = PENDING,
    plan_approval: str | None = None,
    production: Status = PENDING,
    *,
    plan_error: str | None = None,
    production_error: str | None = None,
) -> releases_pb2.ReleaseIntentState:
    """staging → wait 30 min → plan production → deploy production (the dev pipeline)."""
    plan_extra: dict[str, object] = {}
    if plan_approval is not None:
        plan_extra["approval_status"] = plan_approval
    if plan_error is not None:
        plan_extra["error_message"] = plan_error
    prod_extra: dict[str, object] = {}
    if production_error is not None:
        prod_extra["error_message"] = production_error
    staging_extra: dict[str, object] = {}
    if staging == SUCCEEDED:
        staging_extra["completed_at"] = STAGING_DONE
    soak_extra: dict[str, object] = {"duration_seconds": 1800}
    if soak == ACTIVE:
        soak_extra["wait_until"] = "2026-11-24T12:32:00Z"
    return releases_pb2.ReleaseIntentState(
        release_intent_id=INTENT,
        artifact_id="art_5f1c",
        project="api",
        created_at="2026-11-24T12:00:00Z",
        stages=[
            # Deliberately not in dependency order: the view model sorts them.
            _stage(
                "deploy-production",
                DEPLOY,
                production,
                "production",
                ("plan-production",),
                **prod_extra,
            ),
            _stage("deploy-staging", DEPLOY, staging, "staging", (), **staging_extra),
            _stage("soak", WAIT, soak, None, ("deploy-staging",), **soak_extra),
            _stage("plan-production", PLAN, plan, "production", ("soak",), **plan_extra),
        ],
    )


def _vote(
    user: str, decision: str, at: str, comment: str | None = None
) -> policies_pb2.ExternalApprovalDecisionEntry:
    entry = policies_pb2.ExternalApprovalDecisionEntry(
        user_id=f"u-{user}", username=user, decision=decision, decided_at=at
    )
    if comment is not None:
        entry.comment = comment
    return entry


def soak_reason(passed: bool, elapsed: int | None) -> str:
    """Forest's soak reason: its seconds change on every read, so the message never shows it."""
    if elapsed is None:
        return "staging has not succeeded yet"
    if passed:
        return f"soaked: {elapsed}s since staging succeeded (needs 1800s)"
    return f"soak: {elapsed}s of 1800s since staging succeeded"


def gate(
    *votes: policies_pb2.ExternalApprovalDecisionEntry,
    required: int = 2,
    soak_passed: bool = True,
    soak_elapsed: int | None = 5012,
) -> policies_pb2.EvaluatePoliciesResponse:
    current = sum(1 for v in votes if v.decision == "approved")
    approved = current >= required
    return policies_pb2.EvaluatePoliciesResponse(
        all_passed=approved and soak_passed,
        evaluations=[
            policies_pb2.PolicyEvaluation(
                policy_name="soak-30m",
                policy_type=SOAK_TIME,
                passed=soak_passed,
                reason=soak_reason(soak_passed, soak_elapsed),
            ),
            policies_pb2.PolicyEvaluation(
                policy_name="main-only",
                policy_type=BRANCH,
                passed=True,
                reason="branch main matches ^main$",
            ),
            policies_pb2.PolicyEvaluation(
                policy_name="two-approvers",
                policy_type=APPROVAL,
                passed=approved,
                reason=f"{'approved' if approved else 'awaiting approval'}: {current}/{required}",
                external_approval_state=policies_pb2.ExternalApprovalState(
                    required_approvals=required, current_approvals=current, decisions=list(votes)
                ),
            ),
        ],
    )


# ListPolicies for acme/api: the configs behind the evaluations above.
POLICIES = (
    policies_pb2.Policy(
        id="pol-soak",
        name="soak-30m",
        enabled=True,
        policy_type=SOAK_TIME,
        soak_time=policies_pb2.SoakTimeConfig(
            source_environment="staging", target_environment="production", duration_seconds=1800
        ),
    ),
    policies_pb2.Policy(
        id="pol-branch",
        name="main-only",
        enabled=True,
        policy_type=BRANCH,
        branch_restriction=policies_pb2.BranchRestrictionConfig(
            target_environment="production", branch_pattern="^main$"
        ),
    ),
    policies_pb2.Policy(
        id="pol-approval",
        name="two-approvers",
        enabled=True,
        policy_type=APPROVAL,
        external_approval=policies_pb2.ExternalApprovalConfig(
            target_environment="production", required_approvals=2
        ),
    ),
)

BOB_OK = _vote("bob", "approved", "2026-11-24T12:03:00Z", "lgtm")
CAROL_NO = _vote("carol", "rejected", "2026-11-24T12:05:00Z", "wait for #812")
CAROL_OK = _vote("carol", "approved", "2026-11-24T12:09:00Z")
ALICE_OK = _vote("alice", "approved", "2026-11-24T12:06:00Z", "hotfix, checkout is down")


def _release(
    intent: releases_pb2.ReleaseIntentState,
    production_gate: policies_pb2.EvaluatePoliciesResponse,
    bypasses: tuple[Bypass, ...] = (),
) -> Release:
    return release_from_forest(
        intent,
        organisation=ORG,
        evaluations={"production": production_gate},
        commit=COMMIT,
        author=ALICE,
        slack_ids=SLACK_IDS,
        bypasses=bypasses,
        policies=POLICIES,
    )


STATES: dict[str, Callable[[], Release]] = {
    "new_release": lambda: _release(
        pipeline(staging=ACTIVE, soak=PENDING), gate(soak_passed=False, soak_elapsed=None)
    ),
    "soaking": lambda: _release(pipeline(soak=ACTIVE), gate(soak_passed=False, soak_elapsed=300)),
    "awaiting_plan": lambda: _release(
        pipeline(plan=ACTIVE, plan_approval="AWAITINGAPPROVAL"), gate()
    ),
    "plan_approved": lambda: _release(pipeline(plan=SUCCEEDED, plan_approval="APPROVED"), gate()),
    "gate_1_of_2_with_history": lambda: _release(
        pipeline(plan=SUCCEEDED, plan_approval="APPROVED"), gate(BOB_OK, CAROL_NO)
    ),
    "bypassed": lambda: _release(
        pipeline(plan=SUCCEEDED, plan_approval="APPROVED"),
        gate(BOB_OK, CAROL_NO, ALICE_OK),
        (Bypass("production", "u-alice", "hotfix, checkout is down"),),
    ),
    "rejected_plan": lambda: _release(
        pipeline(
            plan=FAILED, plan_approval="REJECTED", production=CANCELLED, plan_error="plan rejected"
        ),
        gate(),
    ),
    "succeeded": lambda: _release(
        pipeline(plan=SUCCEEDED, plan_approval="APPROVED", production=SUCCEEDED),
        gate(BOB_OK, CAROL_OK),
    ),
    "failed": lambda: _release(
        pipeline(
            plan=SUCCEEDED,
            plan_approval="APPROVED",
            production=FAILED,
            production_error="terraform apply: Error creating DB instance: quota exceeded",
        ),
        gate(BOB_OK, CAROL_OK),
    ),
    "cancelled": lambda: _release(pipeline(plan=CANCELLED, production=CANCELLED), gate(BOB_OK)),
}


SMALL_PLAN = """\
Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create
  ~ update in-place
-/+ destroy and then create replacement

Terraform will perform the following actions:

  # aws_s3_bucket.assets will be updated in-place
  ~ resource "aws_s3_bucket" "assets" {
        id   = "acme-assets"
      ~ tags = {
          ~ "team" = "web" -> "checkout"
        }
    }

  # aws_instance.worker[0] will be created
  + resource "aws_instance" "worker" {
      + ami           = "ami-0c55b159cbfafe1f0"
      + instance_type = "t3.small"
    }

  # aws_instance.worker[1] will be created
  + resource "aws_instance" "worker" {
      + ami           = "ami-0c55b159cbfafe1f0"
      + instance_type = "t3.small"
    }

Plan: 2 to add, 1 to change, 0 to destroy.
"""
