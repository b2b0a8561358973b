"""Forest protobuf → view model, including Forest's status quirks (forest-contract.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blocks.from_forest import (
    outcome,
    plan_approval,
    plan_from_forest,
    release_from_forest,
    stage_status,
    topological,
)
from blocks.model import Outcome, Stage, StageKind, StageStatus, Verdict
from blocks.release import release_message
from forest.v1 import releases_pb2
from tests.blocks.states import (
    ACTIVE,
    CANCELLED,
    FAILED,
    NOW,
    PENDING,
    STATES,
    SUCCEEDED,
    pipeline,
)

AWAITING_ENUM = releases_pb2.PIPELINE_RUN_STAGE_STATUS_AWAITING_APPROVAL


@pytest.mark.parametrize(
    "approval", ["AWAITINGAPPROVAL", "AWAITING_APPROVAL", "AwaitingApproval", "awaiting_approval"]
)
def test_plan_awaiting_approval_spellings(approval: str) -> None:
    assert stage_status(StageKind.PLAN, ACTIVE, approval) is StageStatus.AWAITING_APPROVAL


def test_plan_awaiting_approval_enum_value_6() -> None:
    assert AWAITING_ENUM == 6
    assert stage_status(StageKind.PLAN, 6, None) is StageStatus.AWAITING_APPROVAL
    assert stage_status(StageKind.PLAN, 6, "") is StageStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("status", "approval", "expected"),
    [
        (ACTIVE, None, StageStatus.RUNNING),  # planning
        (ACTIVE, "APPROVED", StageStatus.APPROVED),
        (SUCCEEDED, "APPROVED", StageStatus.SUCCEEDED),
        (ACTIVE, "REJECTED", StageStatus.REJECTED),
        (FAILED, "REJECTED", StageStatus.REJECTED),
        (FAILED, None, StageStatus.FAILED),
        (CANCELLED, None, StageStatus.CANCELLED),
        (PENDING, None, StageStatus.PENDING),
        (99, None, StageStatus.UNKNOWN),
    ],
)
def test_plan_statuses(status: int, approval: str | None, expected: StageStatus) -> None:
    assert stage_status(StageKind.PLAN, status, approval) is expected


def test_approval_string_only_matters_for_plans() -> None:
    assert stage_status(StageKind.DEPLOY, ACTIVE, "AWAITINGAPPROVAL") is StageStatus.RUNNING
    assert plan_approval("nonsense") == ""


def test_awaiting_plan_release_offers_plan_buttons() -> None:
    release = STATES["awaiting_plan"]()
    assert [s.stage_id for s in release.awaiting_plans] == ["plan-production"]
    assert release.outcome is Outcome.RUNNING


def test_stages_are_sorted_dependencies_first() -> None:
    release = release_from_forest(pipeline(), organisation="acme")
    assert [s.stage_id for s in release.stages] == [
        "deploy-staging",
        "soak",
        "plan-production",
        "deploy-production",
    ]
    assert release.environments == ("staging", "production")


def test_topological_survives_cycles_and_unknown_dependencies() -> None:
    a = Stage("a", StageKind.DEPLOY, StageStatus.PENDING, depends_on=("b",))
    b = Stage("b", StageKind.DEPLOY, StageStatus.PENDING, depends_on=("a",))
    c = Stage("c", StageKind.DEPLOY, StageStatus.PENDING, depends_on=("missing",))
    assert {s.stage_id for s in topological([a, b, c])} == {"a", "b", "c"}
    assert len(topological([a, b, c])) == 3


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Outcome.RUNNING),
        ([StageStatus.SUCCEEDED, StageStatus.RUNNING], Outcome.RUNNING),
        ([StageStatus.SUCCEEDED, StageStatus.SUCCEEDED], Outcome.SUCCEEDED),
        ([StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED], Outcome.FAILED),
        ([StageStatus.REJECTED, StageStatus.CANCELLED], Outcome.FAILED),
        ([StageStatus.SUCCEEDED, StageStatus.CANCELLED], Outcome.CANCELLED),
        ([StageStatus.AWAITING_APPROVAL], Outcome.RUNNING),
    ],
)
def test_outcome(statuses: list[StageStatus], expected: Outcome) -> None:
    assert outcome(statuses) is expected


def test_gate_votes_open_only_while_its_deploy_has_not_started() -> None:
    assert STATES["gate_1_of_2_with_history"]().open_gates
    assert not STATES["succeeded"]().open_gates
    assert not STATES["failed"]().open_gates  # finished
    assert not STATES["bypassed"]().open_gates  # 2/2 reached


def test_blocked_deploy_is_shown_as_held_by_its_gate() -> None:
    release = STATES["gate_1_of_2_with_history"]()
    deploy = next(s for s in release.stages if s.stage_id == "deploy-production")
    assert deploy.status is StageStatus.BLOCKED
    # A deploy whose dependencies are still running is only pending.
    early = STATES["awaiting_plan"]()
    assert next(s for s in early.stages if s.stage_id == "deploy-production").status is (
        StageStatus.PENDING
    )


def test_decisions_mentions_and_bypass() -> None:
    release = STATES["bypassed"]()
    gate = release.gate("production")
    assert gate is not None and gate.approvals is not None
    assert (gate.approvals.current, gate.approvals.required) == (2, 2)
    by_name = {d.voter.username: d for d in gate.decisions}
    assert by_name["bob"].voter.slack_id == "U0BOB"
    assert by_name["carol"].voter.slack_id is None  # not linked: never a mention
    assert by_name["carol"].verdict is Verdict.REJECTED
    assert by_name["alice"].verdict is Verdict.BYPASSED
    assert release.author is not None and release.author.slack_id == "U0ALICE"


def test_running_wait_stage_shows_its_end_not_a_countdown() -> None:
    release = STATES["soaking"]()
    text = release_message(release)["blocks"][2]["text"]["text"]
    end = int(datetime(2026, 11, 24, 12, 32, tzinfo=UTC).timestamp())
    assert f"⏳ wait 30 min: until <!date^{end}^{{time}}|2026-11-24 12:32 UTC>" in text
    assert "left" not in text
    for later in (NOW + timedelta(minutes=24, seconds=30), NOW + timedelta(hours=1)):
        assert release_message(release, now=later) == release_message(release, now=NOW)


def test_non_pipeline_release_uses_steps() -> None:
    intent = releases_pb2.ReleaseIntentState(
        release_intent_id="i-1",
        project="api",
        steps=[
            releases_pb2.ReleaseStepState(
                release_id="r1",
                destination_name="prod-eu",
                environment="production",
                status="SUCCEEDED",
            ),
            releases_pb2.ReleaseStepState(
                release_id="r2",
                destination_name="prod-us",
                environment="production",
                status="TIMED_OUT",
            ),
        ],
    )
    release = release_from_forest(intent, organisation="acme")
    assert release.outcome is Outcome.FAILED
    assert release.environments == ("production",)
    text = release_message(release, now=NOW)["blocks"][3]["text"]["text"]
    assert "prod-us" in text and "timed out" in text


def test_plan_from_forest_prefers_per_destination_outputs() -> None:
    response = releases_pb2.GetPlanOutputResponse(
        plan_output="first",
        status="AWAITINGAPPROVAL",
        outputs=[
            releases_pb2.PlanDestinationOutput(
                destination_id="d1", destination_name="eu", plan_output="first", status="SUCCEEDED"
            ),
            releases_pb2.PlanDestinationOutput(
                destination_id="d2", destination_name="", plan_output="second", status="SUCCEEDED"
            ),
        ],
    )
    plan = plan_from_forest(response, stage_id="p", environment="production")
    assert [d.destination for d in plan.destinations] == ["eu", "d2"]
    legacy = plan_from_forest(
        releases_pb2.GetPlanOutputResponse(plan_output="only", status="ACTIVE"),
        stage_id="p",
        environment="production",
    )
    assert [d.output for d in legacy.destinations] == ["only"]
