"""Property tests: every builder, for huge, unicode, hostile and empty inputs, stays within
Slack's limits (blocks.limits + slack_sdk model validation), renders deterministically, and
lets no `<!…>`, `<@…>`, `<http…>` or stray entity from input text through."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks import commands, ephemeral, ids, modals, notices
from blocks.from_forest import release_from_forest
from blocks.home import home_view
from blocks.model import (
    Approvals,
    Commit,
    Decision,
    Gate,
    Outcome,
    PendingItem,
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
    Subscription,
    Verdict,
)
from blocks.pending import pending_for
from blocks.plan_thread import plan_posts
from blocks.release import release_message, release_ref
from blocks.text import is_slack_user_id
from forest.v1 import policies_pb2, releases_pb2
from tests.blocks.checks import assert_valid_message, assert_valid_view
from tests.blocks.states import STATES

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<@W0ADMIN|admin>",
    "<#C123|general>",
    "<!subteam^S123>",
    "<http://x|y>",
    "<https://evil.example/login|Forest>",
    "&amp;",
    "&lt;",
    "&",
    "<",
    ">",
    "",
    " ",
    "\n",
    "\t",
    "`",
    "```",
    "*_~",
    "U0BOB",
    "\u202e",
    "\x00",
    "🚀",
    "日本語のテキスト",
    "<!date^0^{time}|x>",
    "a|b",
    "%7C",
    "r1|acme|api|i|e|s",
]

# 40 keeps CI fast; BLOCKS_EXAMPLES=500 for a deeper local run.
SETTINGS = settings(
    max_examples=int(os.environ.get("BLOCKS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

hostile = st.sampled_from(HOSTILE)
unicode_text = st.text(max_size=40)
huge = st.builds(
    lambda s, n: s * n,
    st.sampled_from(["<!channel>", "&", "é", "x ", "\n"]),
    st.integers(200, 3000),
)
texts = st.one_of(hostile, unicode_text, huge, st.lists(hostile, max_size=4).map("".join))
names = st.one_of(hostile, st.text(min_size=1, max_size=20), huge)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
slack_ids = st.one_of(st.none(), st.from_regex(r"U[A-Z0-9]{4,10}", fullmatch=True), hostile)

people = st.builds(Person, forest_user_id=st.text(max_size=10), username=texts, slack_id=slack_ids)
stages = st.builds(
    Stage,
    stage_id=names,
    kind=st.sampled_from(StageKind),
    status=st.sampled_from(StageStatus),
    environment=texts,
    depends_on=st.just(()),
    duration_seconds=st.one_of(st.none(), st.integers(0, 10**7)),
    wait_until=st.one_of(st.none(), moments),
    error=texts,
    auto_approve=st.booleans(),
)
decisions = st.builds(
    Decision,
    voter=people,
    verdict=st.sampled_from(Verdict),
    comment=texts,
    decided_at=st.one_of(st.none(), moments),
)
approval_counts = st.builds(Approvals, st.integers(0, 99), st.integers(1, 99))
soak_facts = st.builds(
    SoakFacts,
    duration_seconds=st.one_of(st.integers(0, 10**7), st.integers(-(2**63), 2**63 - 1)),
    source_environment=texts,
    source_finished_at=st.one_of(st.none(), moments),
)
requirements = st.builds(
    Requirement,
    name=texts,
    kind=st.sampled_from(RequirementKind),
    passed=st.booleans(),
    reason=texts,
    soak=st.one_of(st.none(), soak_facts),
    approvals=st.one_of(st.none(), approval_counts),
)
gates = st.builds(
    Gate,
    environment=texts,
    requirements=st.lists(requirements, max_size=12).map(tuple),
    passed=st.booleans(),
    approvals=st.one_of(st.none(), approval_counts),
    decisions=st.lists(decisions, max_size=40).map(tuple),
    accepting_votes=st.booleans(),
)
steps = st.builds(
    Step, destination=texts, environment=texts, status=st.sampled_from(StageStatus), error=texts
)
releases = st.builds(
    Release,
    organisation=names,
    project=names,
    intent_id=names,
    artifact_id=texts,
    created_at=st.one_of(st.none(), moments),
    commit=st.builds(Commit, branch=texts, sha=texts, title=texts),
    author=st.one_of(st.none(), people),
    environments=st.lists(texts, max_size=8).map(tuple),
    stages=st.lists(stages, max_size=60).map(tuple),
    steps=st.lists(steps, max_size=10).map(tuple),
    gates=st.lists(gates, max_size=9).map(tuple),
    outcome=st.sampled_from(Outcome),
)
NOW = datetime(2026, 11, 24, 12, 7, tzinfo=UTC)


def mentionable(release: Release) -> set[str]:
    people_ = [release.author] if release.author else []
    people_ += [d.voter for g in release.gates for d in g.decisions]
    return {p.slack_id for p in people_ if p.slack_id and is_slack_user_id(p.slack_id)}


@SETTINGS
@given(releases)
def test_release_message_within_limits_and_safe(release: Release) -> None:
    msg = release_message(release, now=NOW)
    assert_valid_message(msg, mentionable(release))
    again = release_message(release, now=NOW)
    assert json.dumps(msg) == json.dumps(again)  # deterministic
    if release.finished:
        assert not [b for b in msg["blocks"] if b["type"] == "actions"]


def _with_soak_reasons(release: Release, reason: str) -> Release:
    """The same release, as if Forest had worded its soak-time evaluations differently."""
    gates = tuple(
        replace(
            g,
            requirements=tuple(
                replace(r, reason=reason) if r.kind is RequirementKind.SOAK_TIME else r
                for r in g.requirements
            ),
        )
        for g in release.gates
    )
    return replace(release, gates=gates)


@pytest.mark.parametrize("state", sorted(STATES))
@SETTINGS
@given(moments, moments, texts, texts)
def test_golden_states_render_the_same_whenever_and_whatever_forest_says_about_soak(
    state: str, now: datetime, other_now: datetime, reason: str, other_reason: str
) -> None:
    release = STATES[state]()
    expected = json.dumps(release_message(release), ensure_ascii=False)
    for variant, when in (
        (_with_soak_reasons(release, reason), now),
        (_with_soak_reasons(release, other_reason), other_now),
    ):
        assert json.dumps(release_message(variant, now=when), ensure_ascii=False) == expected


@SETTINGS
@given(releases, moments, moments, texts)
def test_any_release_renders_the_same_for_any_now_and_soak_reason(
    release: Release, now: datetime, other_now: datetime, reason: str
) -> None:
    first = release_message(release, now=now)
    assert release_message(_with_soak_reasons(release, reason), now=other_now) == first


@SETTINGS
@given(releases)
def test_release_message_counts_what_it_leaves_out(release: Release) -> None:
    msg = release_message(release, now=NOW)
    text = json.dumps(msg, ensure_ascii=False)
    if len(release.stages) > 30:
        assert "more stage" in text or "earlier stage" in text
    if len(release.gates) > 6:
        assert "more gated environment" in text


@SETTINGS
@given(releases, st.lists(st.tuples(texts, texts), max_size=4))
def test_plan_posts_within_limits_and_safe(
    release: Release, outputs: list[tuple[str, str]]
) -> None:
    plan = Plan(
        "stage",
        "production",
        "AWAITINGAPPROVAL",
        tuple(PlanDestination(d, "SUCCEEDED", o) for d, o in outputs),
    )
    for post in plan_posts(release, plan):
        assert_valid_message({"text": post.text, "blocks": post.blocks})


@SETTINGS
@given(releases, texts)
def test_modals_within_limits_and_safe(release: Release, environment: str) -> None:
    try:
        context = ids.ModalContext(release_ref(release, environment), "C0DEPLOYS", "1.2")
        ids.encode_metadata(context)
    except ValueError:
        return  # ids Forest would never produce; the message renders without buttons then
    for view in (
        modals.reject_modal(context, release),
        modals.bypass_modal(context, release),
        modals.plan_reject_modal(context, release),
        modals.reject_modal(context),
        modals.link_account_modal(token_url="https://forest.example.com/t", origin=context),
        modals.link_account_modal(token_url="javascript:alert(1)|<!channel>"),
    ):
        assert_valid_view(view, mentionable(release))


@SETTINGS
@given(texts, texts, people, st.sampled_from(Verdict))
def test_ephemerals_and_notices_within_limits_and_safe(
    text: str, other: str, actor: Person, verdict: Verdict
) -> None:
    ref = ids.ReleaseRef("acme", "api", "i-1", "production")
    messages = [
        ephemeral.forest_unreachable(text),
        ephemeral.forest_no_answer(text),
        ephemeral.release_not_found(text, other),
        ephemeral.forest_unreachable(),
        ephemeral.link_account_first(ref),
        ephemeral.link_account_first(),
        ephemeral.token_refused(ref),
        ephemeral.release_finished(Outcome.SUCCEEDED),
        ephemeral.release_finished(),
        ephemeral.plan_already_decided(),
        ephemeral.gate_not_open(text),
        ephemeral.own_release(ref, is_admin=True),
        ephemeral.own_release(ref, is_admin=False),
        ephemeral.not_admin(),
        ephemeral.permission_denied(text),
        ephemeral.failed(text, other),
        ephemeral.vote_recorded(verdict, text, Approvals(1, 2)),
        ephemeral.plan_decided(True, text),
        ephemeral.plan_decided(False, text),
        ephemeral.account_linked(text),
        ephemeral.account_unlinked(),
        ephemeral.whoami(text),
        ephemeral.whoami(None),
        ephemeral.subscribed(text, other),
        ephemeral.unsubscribed(text, other),
        ephemeral.unknown_project(text, other),
        ephemeral.usage(text),
        notices.bypass_notice(actor, text, other),
        notices.plan_approved_notice(actor, text),
        notices.plan_rejected_notice(actor, text, other),
        commands.help_message(),
    ]
    allowed = {actor.slack_id} if actor.slack_id and is_slack_user_id(actor.slack_id) else set()
    for msg in messages:
        assert_valid_message(msg, allowed)


@SETTINGS
@given(
    st.lists(releases, max_size=4),
    st.one_of(st.none(), st.text(max_size=5)),
    st.lists(
        st.builds(Subscription, names, names, st.sampled_from(["", "C0DEPLOYS", "<!x>"])),
        max_size=30,
    ),
    st.one_of(st.none(), texts),
    st.sampled_from(["", "https://acme.slack.com/archives/C1/p1", "javascript:x", "<!channel>"]),
)
def test_commands_and_home_within_limits_and_safe(
    some: list[Release],
    user: str | None,
    subscriptions: list[Subscription],
    linked: str | None,
    permalink: str,
) -> None:
    # Open everything up so pending lists are long.
    opened = [
        Release(
            **{**{f: getattr(r, f) for f in r.__dataclass_fields__}, "outcome": Outcome.RUNNING}
        )
        for r in some
    ]
    items = pending_for(opened, user, {r.intent_id: permalink for r in opened})
    items += [PendingItem(r, "production", StageKind.DEPLOY) for r in opened] * 20
    allowed: set[str] = set()
    assert_valid_message(commands.pending_message(items), allowed)
    assert_valid_message(commands.pending_message([]), allowed)
    assert_valid_message(commands.subscriptions_message(subscriptions), allowed)
    assert_valid_view(
        home_view(linked_username=linked, pending=items, subscriptions=subscriptions), allowed
    )


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 3, 4, 5, 6, 99]),
            st.sampled_from([0, 1, 2, 3, 9]),
            texts,
            st.one_of(
                st.none(),
                hostile,
                st.sampled_from(["AWAITINGAPPROVAL", "AWAITING_APPROVAL", "APPROVED", "REJECTED"]),
            ),
            texts,
        ),
        max_size=12,
    ),
    st.lists(
        st.tuples(texts, st.sampled_from(["approved", "rejected", "maybe"]), texts, texts),
        max_size=12,
    ),
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1800, 86_400 * 3])),
    st.one_of(
        texts,
        st.sampled_from(
            ["2026-11-24T12:02:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00"]
        ),
    ),
)
def test_from_forest_with_hostile_protobuf(
    raw_stages: list[tuple[int, int, str, str | None, str]],
    votes: list[tuple[str, str, str, str]],
    soak_seconds: int,
    completed_at: str,
) -> None:
    intent = releases_pb2.ReleaseIntentState(
        release_intent_id="i-1", project="api<!channel>", created_at="not a date"
    )
    for n, (status, kind, env, approval, error) in enumerate(raw_stages):
        stage = intent.stages.add(
            stage_id=f"s{n}",
            status=status,
            stage_type=kind,
            environment=env,
            error_message=error,
            depends_on=[f"s{n - 1}"] if n else [],
        )
        if approval is not None:
            stage.approval_status = approval
        stage.wait_until = (NOW + timedelta(minutes=n)).isoformat()
    state = policies_pb2.ExternalApprovalState(required_approvals=2, current_approvals=1)
    for n, (name, decision, comment, at) in enumerate(votes):
        state.decisions.add(
            user_id=f"u{n}", username=name, decision=decision, comment=comment, decided_at=at
        )
    response = policies_pb2.EvaluatePoliciesResponse(
        evaluations=[
            policies_pb2.PolicyEvaluation(
                policy_name="<!here>",
                policy_type=policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL,
                reason="<@U1>",
                external_approval_state=state,
            ),
            policies_pb2.PolicyEvaluation(
                policy_name="<!here>soak",
                policy_type=policies_pb2.POLICY_TYPE_SOAK_TIME,
                reason="<!channel> 12s",
            ),
        ]
    )
    for stage in intent.stages:
        stage.completed_at = completed_at
    soak_source = raw_stages[0][2] if raw_stages else "<!everyone>"
    policy = policies_pb2.Policy(
        name="<!here>soak",
        policy_type=policies_pb2.POLICY_TYPE_SOAK_TIME,
        soak_time=policies_pb2.SoakTimeConfig(
            source_environment=soak_source, duration_seconds=soak_seconds
        ),
    )
    release = release_from_forest(
        intent,
        organisation="acme",
        evaluations={"production": response, "<!x>": response},
        slack_ids={"u0": "U0LINKED", "u1": "<!channel>"},
        policies=[policy],
    )
    assert_valid_message(release_message(release, now=NOW), {"U0LINKED"})
