"""Soak time renders from its facts (policy config, the source deploy's finish time), never
from Forest's reason text, whose seconds change on every read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blocks.from_forest import gate_from_forest, release_from_forest, source_finished_at
from blocks.model import Approvals, Person, Release, Requirement, RequirementKind, SoakFacts
from blocks.release import release_message
from blocks.requirements import requirement_line, soak_opens_at
from blocks.text import slack_date
from forest.v1 import policies_pb2, releases_pb2
from tests.blocks.checks import assert_valid_message
from tests.blocks.states import (
    ACTIVE,
    FAILED,
    POLICIES,
    SOAK_TIME,
    STAGING_DONE,
    SUCCEEDED,
    gate,
    pipeline,
)

FINISHED_AT = datetime(2026, 11, 24, 12, 2, tzinfo=UTC)
OPENS_AT = FINISHED_AT + timedelta(minutes=30)
TICKING = "soak: 1234s of 1800s since staging succeeded"


def _soak(
    passed: bool, finished_at: datetime | None = FINISHED_AT, source: str = "staging"
) -> Requirement:
    facts = SoakFacts(1800, source, finished_at)
    return Requirement("soak-30m", RequirementKind.SOAK_TIME, passed, TICKING, soak=facts)


def _line(requirement: Requirement, finished: bool = False) -> str:
    return requirement_line(requirement, finished=finished, reason_limit=300)


def test_passed_soak_says_its_duration_and_source() -> None:
    assert _line(_soak(True)) == "✅ Soak 30 min after staging"


def test_waiting_soak_says_when_it_opens_as_a_slack_date() -> None:
    epoch = int(OPENS_AT.timestamp())
    assert _line(_soak(False)) == (
        f"⏳ Soak 30 min after staging: opens <!date^{epoch}^{{time}}|2026-11-24 12:32 UTC>"
    )


def test_soak_before_its_source_deployed_says_when_it_starts() -> None:
    assert _line(_soak(False, None)) == (
        "⏳ Soak 30 min after staging (starts when staging is deployed)"
    )


def test_soak_of_a_finished_release_has_no_opening_time() -> None:
    assert _line(_soak(False), finished=True) == "❌ Soak 30 min after staging"


def test_a_soak_of_days_shows_the_day_it_opens() -> None:
    facts = SoakFacts(3 * 86_400, "staging", FINISHED_AT)
    line = _line(Requirement("soak-3d", RequirementKind.SOAK_TIME, False, TICKING, soak=facts))
    assert line == f"⏳ Soak 3 d after staging: opens {slack_date(FINISHED_AT + timedelta(days=3))}"


def test_soak_source_environment_is_escaped() -> None:
    line = _line(_soak(False, None, "<!channel>"))
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line


def test_an_overflowing_soak_renders_without_an_opening_time() -> None:
    facts = SoakFacts(2**62, "staging", FINISHED_AT)
    assert soak_opens_at(facts) is None
    requirement = Requirement("forever", RequirementKind.SOAK_TIME, False, TICKING, soak=facts)
    assert _line(requirement).startswith("⏳ Soak ") and "opens" not in _line(requirement)


@pytest.mark.parametrize("passed", [True, False])
def test_unknown_soak_policy_shows_its_name_never_the_reason(passed: bool) -> None:
    requirement = Requirement("soak-30m", RequirementKind.SOAK_TIME, passed, TICKING)
    assert _line(requirement) == ("✅" if passed else "⏳") + " *soak-30m*"


def test_approval_requirement_shows_its_counts_not_the_reason() -> None:
    counted = Requirement(
        "two-approvers",
        RequirementKind.APPROVAL,
        False,
        "awaiting: 1 of 2",
        approvals=Approvals(1, 2),
    )
    assert _line(counted) == "⏳ *two-approvers* — approvals 1/2"
    uncounted = Requirement("two-approvers", RequirementKind.APPROVAL, False, "awaiting: 1 of 2")
    assert _line(uncounted) == "⏳ *two-approvers* — awaiting: 1 of 2"


def _gate_text(release: Release) -> str:
    msg = release_message(release)
    assert_valid_message(msg, {"U0ALICE", "U0BOB"})
    (block,) = [b for b in msg["blocks"] if b.get("block_id") == "forest.release.gate.v1.0"]
    text: str = block["text"]["text"]
    return text


def test_pipeline_soak_facts_come_from_the_policy_and_the_source_stage() -> None:
    release = release_from_forest(
        pipeline(soak=ACTIVE),
        organisation="acme",
        evaluations={"production": gate(soak_passed=False, soak_elapsed=1234)},
        policies=POLICIES,
    )
    production = release.gate("production")
    assert production is not None
    soak = production.requirements[0]
    assert soak.soak == SoakFacts(1800, "staging", FINISHED_AT)
    assert soak.reason == TICKING  # kept in the model, never rendered
    assert production.requirements[2].approvals == Approvals(0, 2)
    text = _gate_text(release)
    assert f"opens {slack_date(OPENS_AT, '{time}')}" in text
    assert "1234" not in text and "since staging succeeded" not in text


def test_pipeline_soak_waits_for_a_succeeded_source_stage() -> None:
    for staging in (ACTIVE, FAILED):
        intent = pipeline(staging=staging)
        intent.stages[1].completed_at = STAGING_DONE  # a failed deploy completes too
        assert source_finished_at(intent, "staging") is None
    assert source_finished_at(pipeline(staging=SUCCEEDED), "staging") == FINISHED_AT
    assert source_finished_at(pipeline(), "qa") is None  # no deploy of it in this intent


def _step(environment: str, status: str, completed_at: str | None) -> releases_pb2.ReleaseStepState:
    step = releases_pb2.ReleaseStepState(
        release_id=f"r-{environment}-{status}",
        destination_name=f"{environment}-{status.lower()}",
        environment=environment,
        status=status,
    )
    if completed_at is not None:
        step.completed_at = completed_at
    return step


def test_direct_release_soak_facts_come_from_the_source_steps() -> None:
    intent = releases_pb2.ReleaseIntentState(
        release_intent_id="i-direct",
        project="api",
        steps=[
            _step("staging", "SUCCEEDED", "2026-11-24T11:58:00Z"),
            _step("staging", "SUCCEEDED", STAGING_DONE),  # the last one to finish counts
            _step("production", "QUEUED", None),
        ],
    )
    release = release_from_forest(
        intent,
        organisation="acme",
        evaluations={"production": gate(soak_passed=False, soak_elapsed=1234)},
        policies=POLICIES,
    )
    production = release.gate("production")
    assert production is not None
    assert production.requirements[0].soak == SoakFacts(1800, "staging", FINISHED_AT)
    assert f"opens {slack_date(OPENS_AT, '{time}')}" in _gate_text(release)

    del intent.steps[:]
    intent.steps.extend(
        [_step("staging", "SUCCEEDED", STAGING_DONE), _step("staging", "RUNNING", None)]
    )
    assert source_finished_at(intent, "staging") is None  # one destination still deploying


def test_gate_from_forest_takes_policies_and_the_intent_and_stays_compatible() -> None:
    response = gate(soak_passed=False, soak_elapsed=1234)
    old_style = gate_from_forest("production", response)
    assert old_style.requirements[0].soak is None
    without_intent = gate_from_forest("production", response, policies=POLICIES)
    assert without_intent.requirements[0].soak is None  # no finish time to count from
    full = gate_from_forest("production", response, policies=POLICIES, intent=pipeline(soak=ACTIVE))
    assert full.requirements[0].soak == SoakFacts(1800, "staging", FINISHED_AT)


def test_a_policy_targeting_the_gate_wins_a_name_clash() -> None:
    def policy(target: str, seconds: int) -> policies_pb2.Policy:
        return policies_pb2.Policy(
            name="soak",
            policy_type=SOAK_TIME,
            soak_time=policies_pb2.SoakTimeConfig(
                source_environment="staging", target_environment=target, duration_seconds=seconds
            ),
        )

    response = policies_pb2.EvaluatePoliciesResponse(
        evaluations=[policies_pb2.PolicyEvaluation(policy_name="soak", policy_type=SOAK_TIME)]
    )
    for policies in (
        [policy("production", 600), policy("qa", 60)],
        [policy("qa", 60), policy("production", 600)],
    ):
        built = gate_from_forest("production", response, policies=policies, intent=pipeline())
        facts = built.requirements[0].soak
        assert facts is not None and facts.duration_seconds == 600


def test_soak_line_is_the_same_for_any_reason_text() -> None:
    def built(elapsed: int) -> Release:
        return release_from_forest(
            pipeline(soak=ACTIVE),
            organisation="acme",
            evaluations={"production": gate(soak_passed=False, soak_elapsed=elapsed)},
            policies=POLICIES,
        )

    assert release_message(built(300)) == release_message(built(1799))
    # Without the policy, the name alone: still the same for any reason.
    bare = [
        release_from_forest(
            pipeline(soak=ACTIVE),
            organisation="acme",
            evaluations={"production": gate(soak_passed=False, soak_elapsed=elapsed)},
        )
        for elapsed in (300, 1799)
    ]
    assert release_message(bare[0]) == release_message(bare[1])
    assert "⏳ *soak-30m*\n" in _gate_text(bare[0])


def test_a_decided_plan_names_who_decided_it() -> None:
    intent = releases_pb2.ReleaseIntentState(
        release_intent_id="i-1",
        project="api",
        stages=[
            releases_pb2.PipelineStageState(
                stage_id="plan-production",
                stage_type=releases_pb2.PIPELINE_RUN_STAGE_TYPE_PLAN,
                status=releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED,
                environment="production",
                approval_status="APPROVED",
            ),
            releases_pb2.PipelineStageState(
                stage_id="deploy-production",
                depends_on=["plan-production"],
                stage_type=releases_pb2.PIPELINE_RUN_STAGE_TYPE_DEPLOY,
                status=releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING,
                environment="production",
            ),
        ],
    )
    carol = Person("u-carol", "", "U0CAROL001")
    named = release_from_forest(
        intent, organisation="acme", plan_deciders={"plan-production": carol}
    )
    assert named.stages[0].decided_by == carol
    text = str(release_message(named)["blocks"])
    assert "approved by <@U0CAROL001>" in text
    unnamed = release_from_forest(intent, organisation="acme")
    assert "approved by" not in str(release_message(unnamed)["blocks"])
    # a deploy stage never carries a decider
    other = release_from_forest(
        intent, organisation="acme", plan_deciders={"deploy-production": carol}
    )
    assert other.stages[1].decided_by is None
