"""Forest responses (forest.v1 protobuf) → the view model in `blocks.model`.

The only module of `blocks` that knows protobuf. It absorbs Forest's quirks
(forest-contract.md §6): a plan awaiting approval arrives as PLAN + ACTIVE with
`approval_status == "AWAITINGAPPROVAL"`; `AWAITING_APPROVAL` and enum value 6 are accepted too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from blocks.model import (
    Approvals,
    Bypass,
    Commit,
    Decision,
    Gate,
    Outcome,
    Person,
    Plan,
    PlanDestination,
    Release,
    Requirement,
    RequirementKind,
    SoakFacts,
    Stage,
    StageKind,
    StageStatus,
    Step,
    Verdict,
)
from blocks.text import parse_time
from forest.v1 import policies_pb2, releases_pb2

_KINDS: dict[int, StageKind] = {
    releases_pb2.PIPELINE_RUN_STAGE_TYPE_DEPLOY: StageKind.DEPLOY,
    releases_pb2.PIPELINE_RUN_STAGE_TYPE_WAIT: StageKind.WAIT,
    releases_pb2.PIPELINE_RUN_STAGE_TYPE_PLAN: StageKind.PLAN,
}
_STATUSES: dict[int, StageStatus] = {
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING: StageStatus.PENDING,
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_ACTIVE: StageStatus.RUNNING,
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED: StageStatus.SUCCEEDED,
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_FAILED: StageStatus.FAILED,
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_CANCELLED: StageStatus.CANCELLED,
    releases_pb2.PIPELINE_RUN_STAGE_STATUS_AWAITING_APPROVAL: StageStatus.AWAITING_APPROVAL,
}
_STEP_STATUSES: dict[str, StageStatus] = {
    "QUEUED": StageStatus.PENDING,
    "ASSIGNED": StageStatus.PENDING,
    "RUNNING": StageStatus.RUNNING,
    "SUCCEEDED": StageStatus.SUCCEEDED,
    "FAILED": StageStatus.FAILED,
    "TIMED_OUT": StageStatus.FAILED,
    "CANCELLED": StageStatus.CANCELLED,
}
_REQUIREMENT_KINDS: dict[int, RequirementKind] = {
    policies_pb2.POLICY_TYPE_SOAK_TIME: RequirementKind.SOAK_TIME,
    policies_pb2.POLICY_TYPE_BRANCH_RESTRICTION: RequirementKind.BRANCH,
    policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL: RequirementKind.APPROVAL,
}
_DONE = (StageStatus.SUCCEEDED,)


def plan_approval(approval_status: str | None) -> str:
    """Normalise Forest's approval strings: `AWAITINGAPPROVAL`, `AWAITING_APPROVAL`,
    `AwaitingApproval` → `AWAITINGAPPROVAL`; likewise `APPROVED`, `REJECTED`; else ""."""
    letters = "".join(ch for ch in (approval_status or "") if ch.isalpha()).upper()
    return letters if letters in ("AWAITINGAPPROVAL", "APPROVED", "REJECTED") else ""


def stage_status(kind: StageKind, status: int, approval_status: str | None = None) -> StageStatus:
    """One stage's status, with the plan-approval quirks folded in."""
    mapped = _STATUSES.get(status, StageStatus.UNKNOWN)
    if kind is not StageKind.PLAN:
        return mapped
    approval = plan_approval(approval_status)
    if mapped is StageStatus.AWAITING_APPROVAL:
        return mapped
    if approval == "REJECTED" and mapped in (StageStatus.RUNNING, StageStatus.FAILED):
        return StageStatus.REJECTED
    if mapped is StageStatus.RUNNING:
        if approval == "AWAITINGAPPROVAL":
            return StageStatus.AWAITING_APPROVAL
        if approval == "APPROVED":
            return StageStatus.APPROVED
    return mapped


def _stage(raw: releases_pb2.PipelineStageState) -> Stage:
    kind = _KINDS.get(raw.stage_type, StageKind.UNKNOWN)
    return Stage(
        stage_id=raw.stage_id,
        kind=kind,
        status=stage_status(
            kind, raw.status, raw.approval_status if raw.HasField("approval_status") else None
        ),
        environment=raw.environment,
        depends_on=tuple(raw.depends_on),
        duration_seconds=raw.duration_seconds if raw.HasField("duration_seconds") else None,
        wait_until=parse_time(raw.wait_until) if raw.HasField("wait_until") else None,
        error=raw.error_message,
        auto_approve=raw.auto_approve,
    )


def topological(stages: Sequence[Stage]) -> tuple[Stage, ...]:
    """Dependencies first; ties keep Forest's order. Unknown deps and cycles don't break it."""
    ids = {s.stage_id for s in stages}
    placed: set[str] = set()
    ordered: list[Stage] = []
    remaining = list(stages)
    while remaining:
        ready = [
            s for s in remaining if all(d in placed or d not in ids for d in s.depends_on)
        ] or remaining[:1]  # a cycle: take the first one and carry on
        for stage in ready:
            ordered.append(stage)
            placed.add(stage.stage_id)
        ready_ids = {id(s) for s in ready}
        remaining = [s for s in remaining if id(s) not in ready_ids]
    return tuple(ordered)


def _step(raw: releases_pb2.ReleaseStepState) -> Step:
    status_text = raw.status.strip().upper()
    error = raw.error_message or ("timed out" if status_text == "TIMED_OUT" else "")
    return Step(
        destination=raw.destination_name,
        environment=raw.environment,
        status=_STEP_STATUSES.get(status_text, StageStatus.UNKNOWN),
        error=error,
    )


def outcome(statuses: Iterable[StageStatus]) -> Outcome:
    """Final when every stage (or step) ended: any failure fails the release."""
    seen = list(statuses)
    if not seen:
        return Outcome.RUNNING
    if any(s in (StageStatus.FAILED, StageStatus.REJECTED) for s in seen):
        return Outcome.FAILED
    if all(s in (StageStatus.SUCCEEDED, StageStatus.CANCELLED) for s in seen):
        if any(s is StageStatus.CANCELLED for s in seen):
            return Outcome.CANCELLED
        return Outcome.SUCCEEDED
    return Outcome.RUNNING


def _decisions(
    state: policies_pb2.ExternalApprovalState,
    environment: str,
    slack_ids: Mapping[str, str],
    bypasses: Mapping[tuple[str, str], Bypass],
) -> tuple[Decision, ...]:
    out: list[Decision] = []
    for entry in state.decisions:
        verdict = Verdict.APPROVED if entry.decision == "approved" else Verdict.REJECTED
        comment = entry.comment if entry.HasField("comment") else ""
        bypass = bypasses.get((environment, entry.user_id))
        if bypass is not None and verdict is Verdict.APPROVED:
            verdict = Verdict.BYPASSED
            comment = bypass.reason or comment
        out.append(
            Decision(
                voter=Person(entry.user_id, entry.username, slack_ids.get(entry.user_id)),
                verdict=verdict,
                comment=comment,
                decided_at=parse_time(entry.decided_at),
            )
        )
    return tuple(out)


def source_finished_at(
    intent: releases_pb2.ReleaseIntentState, environment: str
) -> datetime | None:
    """When the intent's deploy of `environment` finished: the latest `completed_at` of its
    DEPLOY stages there (pipelines) or of its steps there (direct releases), provided every one
    of them SUCCEEDED, as Forest's soak-time check counts it. None until then."""
    if intent.stages:
        done = [
            (stage_status(StageKind.DEPLOY, s.status), s.completed_at)
            for s in intent.stages
            if s.stage_type == releases_pb2.PIPELINE_RUN_STAGE_TYPE_DEPLOY
            and s.environment == environment
        ]
    else:
        done = [
            (_STEP_STATUSES.get(s.status.strip().upper(), StageStatus.UNKNOWN), s.completed_at)
            for s in intent.steps
            if s.environment == environment
        ]
    times = [parse_time(at) for status, at in done if status is StageStatus.SUCCEEDED]
    finished = [at for at in times if at is not None]
    if not done or len(finished) != len(done):
        return None
    return max(finished)


def _soak_configs(
    policies: Iterable[policies_pb2.Policy], environment: str
) -> dict[str, policies_pb2.SoakTimeConfig]:
    """Soak-time configs by policy name; one that targets `environment` wins a name clash."""
    soak = [p for p in policies if p.WhichOneof("config") == "soak_time"]
    ordered = sorted(soak, key=lambda p: p.soak_time.target_environment == environment)
    return {p.name: p.soak_time for p in ordered}


def _requirement(
    evaluation: policies_pb2.PolicyEvaluation,
    soak_configs: Mapping[str, policies_pb2.SoakTimeConfig],
    intent: releases_pb2.ReleaseIntentState | None,
) -> Requirement:
    kind = _REQUIREMENT_KINDS.get(evaluation.policy_type, RequirementKind.OTHER)
    requirement = Requirement(evaluation.policy_name, kind, evaluation.passed, evaluation.reason)
    config = soak_configs.get(evaluation.policy_name)
    if kind is RequirementKind.SOAK_TIME and config is not None and intent is not None:
        facts = SoakFacts(
            duration_seconds=config.duration_seconds,
            source_environment=config.source_environment,
            source_finished_at=source_finished_at(intent, config.source_environment),
        )
        requirement = replace(requirement, soak=facts)
    if kind is RequirementKind.APPROVAL and evaluation.HasField("external_approval_state"):
        state = evaluation.external_approval_state
        counts = Approvals(state.current_approvals, state.required_approvals)
        requirement = replace(requirement, approvals=counts)
    return requirement


def gate_from_forest(
    environment: str,
    response: policies_pb2.EvaluatePoliciesResponse,
    *,
    slack_ids: Mapping[str, str] | None = None,
    bypasses: Iterable[Bypass] = (),
    policies: Iterable[policies_pb2.Policy] = (),
    intent: releases_pb2.ReleaseIntentState | None = None,
) -> Gate:
    """One environment's policies (EvaluatePolicies with the intent id) → a Gate.

    With several approval policies on one environment the highest requirement wins, as in
    Forest's coordinator. `accepting_votes` is decided later, by `release_from_forest`.
    A soak-time requirement gets its `SoakFacts` when `policies` (ListPolicies) holds the
    policy of that name and `intent` is given (the source deploy's finish time comes from it);
    without them it renders by name only.
    """
    by_user = {(b.environment, b.forest_user_id): b for b in bypasses}
    soak_configs = _soak_configs(policies, environment)
    requirements: list[Requirement] = []
    approvals: Approvals | None = None
    decisions: tuple[Decision, ...] = ()
    for evaluation in response.evaluations:
        requirement = _requirement(evaluation, soak_configs, intent)
        requirements.append(requirement)
        if requirement.approvals is not None:
            if approvals is None or requirement.approvals.required > approvals.required:
                approvals = requirement.approvals
            if not decisions:
                state = evaluation.external_approval_state
                decisions = _decisions(state, environment, slack_ids or {}, by_user)
    return Gate(
        environment=environment,
        requirements=tuple(requirements),
        passed=response.all_passed,
        approvals=approvals,
        decisions=decisions,
    )


def _with_gates(stages: tuple[Stage, ...], gates: Mapping[str, Gate]) -> tuple[Stage, ...]:
    """A PENDING deploy whose dependencies are done but whose gate is closed is BLOCKED."""
    status_by_id = {s.stage_id: s.status for s in stages}
    out: list[Stage] = []
    for stage in stages:
        gate = gates.get(stage.environment)
        if (
            stage.kind is StageKind.DEPLOY
            and stage.status is StageStatus.PENDING
            and gate is not None
            and not gate.passed
            and all(status_by_id.get(d, StageStatus.SUCCEEDED) in _DONE for d in stage.depends_on)
        ):
            stage = replace(stage, status=StageStatus.BLOCKED)
        out.append(stage)
    return tuple(out)


_DECIDED = (StageStatus.APPROVED, StageStatus.SUCCEEDED, StageStatus.REJECTED)


def _with_deciders(
    stages: tuple[Stage, ...], deciders: Mapping[str, Person]
) -> tuple[Stage, ...]:
    """Decided plan stages name who decided them, when known."""
    return tuple(
        replace(stage, decided_by=deciders[stage.stage_id])
        if stage.kind is StageKind.PLAN
        and stage.status in _DECIDED
        and not stage.auto_approve
        and stage.stage_id in deciders
        else stage
        for stage in stages
    )


def _accepting_votes(gate: Gate, stages: Sequence[Stage], finished: bool) -> bool:
    """Votes matter while the gate's approvals are short and its deploy has not started."""
    if finished or gate.approvals is None:
        return False
    approval_passed = all(r.passed for r in gate.requirements if r.kind is RequirementKind.APPROVAL)
    if approval_passed and gate.approvals.current >= gate.approvals.required:
        return False
    return any(
        s.kind is StageKind.DEPLOY
        and s.environment == gate.environment
        and s.status in (StageStatus.PENDING, StageStatus.BLOCKED)
        for s in stages
    )


def _environments(stages: Sequence[Stage], steps: Sequence[Step]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for stage in stages:
        if stage.environment and stage.kind is not StageKind.WAIT:
            seen.setdefault(stage.environment, None)
    if not stages:
        for step in steps:
            if step.environment:
                seen.setdefault(step.environment, None)
    return tuple(seen)


def release_from_forest(
    intent: releases_pb2.ReleaseIntentState,
    *,
    organisation: str,
    evaluations: Mapping[str, policies_pb2.EvaluatePoliciesResponse] | None = None,
    commit: Commit | None = None,
    author: Person | None = None,
    slack_ids: Mapping[str, str] | None = None,
    bypasses: Iterable[Bypass] = (),
    policies: Iterable[policies_pb2.Policy] = (),
    plan_deciders: Mapping[str, Person] | None = None,
) -> Release:
    """Everything the release message shows, from one intent and its gates' evaluations.

    `evaluations` maps each gated environment to EvaluatePolicies(release_intent_id=…);
    `slack_ids` maps Forest user ids to linked Slack user ids (mentions only for those);
    `bypasses` are the bot's own audit records, shown as "bypassed" instead of "approved";
    `policies` are the project's policies (ListPolicies): soak-time requirements render from
    their config and the intent's source deploy instead of Forest's ever-changing reason text;
    `plan_deciders` maps plan stage ids to who decided them (the bot's audit: Forest keeps no
    plan approver), shown on decided plans.
    """
    bypass_list = tuple(bypasses)
    policy_list = tuple(policies)
    gates_by_env = {
        env: gate_from_forest(
            env,
            response,
            slack_ids=slack_ids,
            bypasses=bypass_list,
            policies=policy_list,
            intent=intent,
        )
        for env, response in sorted((evaluations or {}).items())
    }
    stages = _with_deciders(
        _with_gates(topological([_stage(s) for s in intent.stages]), gates_by_env),
        plan_deciders or {},
    )
    steps = tuple(_step(s) for s in intent.steps)
    result = outcome(s.status for s in stages) if stages else outcome(s.status for s in steps)
    finished = result is not Outcome.RUNNING
    environments = _environments(stages, steps)
    order = {env: i for i, env in enumerate(environments)}
    gates = tuple(
        replace(g, accepting_votes=_accepting_votes(g, stages, finished))
        for g in sorted(
            gates_by_env.values(),
            key=lambda g: (order.get(g.environment, len(order)), g.environment),
        )
    )
    if author is not None and author.slack_id is None and slack_ids:
        author = replace(author, slack_id=slack_ids.get(author.forest_user_id))
    return Release(
        organisation=organisation,
        project=intent.project,
        intent_id=intent.release_intent_id,
        artifact_id=intent.artifact_id,
        created_at=parse_time(intent.created_at),
        commit=commit or Commit(),
        author=author,
        environments=environments,
        stages=stages,
        steps=steps,
        gates=gates,
        outcome=result,
    )


def plan_from_forest(
    response: releases_pb2.GetPlanOutputResponse, *, stage_id: str, environment: str
) -> Plan:
    """GetPlanOutput → Plan. Falls back to the deprecated single `plan_output` field."""
    destinations = tuple(
        PlanDestination(o.destination_name or o.destination_id, o.status, o.plan_output)
        for o in response.outputs
    )
    if not destinations and response.plan_output:
        destinations = (PlanDestination(environment, response.status, response.plan_output),)
    return Plan(
        stage_id=stage_id,
        environment=environment,
        status=response.status,
        destinations=destinations,
    )
