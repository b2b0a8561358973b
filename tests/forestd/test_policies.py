"""Policy CRUD and EvaluatePolicies through real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc
from forestd.db.models import ApprovalDecision, OrgEvent
from forestd.db.types import utcnow
from forestd.policy_engine import CONFIG_FIELD, ConfigMessage, policy_row
from forestd.uow import Database

from .factories import World, add_policy, create_intent, provision, record_deploy

Metadata = tuple[tuple[str, str], ...]
SOAK = policies_pb2.POLICY_TYPE_SOAK_TIME
BRANCH = policies_pb2.POLICY_TYPE_BRANCH_RESTRICTION
APPROVAL = policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL


def soak(seconds: int, source: str = "staging") -> policies_pb2.SoakTimeConfig:
    return policies_pb2.SoakTimeConfig(
        source_environment=source, target_environment="production", duration_seconds=seconds
    )


def branch(pattern: str) -> policies_pb2.BranchRestrictionConfig:
    return policies_pb2.BranchRestrictionConfig(
        target_environment="production", branch_pattern=pattern
    )


def approvals(required: int) -> policies_pb2.ExternalApprovalConfig:
    return policies_pb2.ExternalApprovalConfig(
        target_environment="production", required_approvals=required
    )


def create_request(
    world: World, name: str, config: ConfigMessage, policy_type: int | None = None
) -> policies_pb2.CreatePolicyRequest:
    """A CreatePolicyRequest with `config` in its oneof and, unless given, the matching type."""
    request = policies_pb2.CreatePolicyRequest(project=world.project_msg(), name=name)
    getattr(request, CONFIG_FIELD[policy_row("", "", config).policy_type]).CopyFrom(config)
    chosen = policy_row("", "", config).policy_type if policy_type is None else policy_type
    request.policy_type = chosen  # type: ignore[assignment]
    return request


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value


async def policy_events(db: Database) -> list[tuple[str, str, dict[str, str]]]:
    async with db.read() as session:
        rows = await session.scalars(
            select(OrgEvent).where(OrgEvent.resource_type == "policy").order_by(OrgEvent.sequence)
        )
        return [(e.action, e.resource_id, e.event_metadata) for e in rows]


async def test_create_update_list_delete_with_events(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    created = (
        await policies.CreatePolicy(
            create_request(world, "gate", approvals(2)), metadata=world.auth("bob")
        )
    ).policy
    assert (created.name, created.enabled, created.policy_type) == ("gate", True, APPROVAL)
    assert created.external_approval == approvals(2)
    assert created.created_at.endswith("Z")
    await policies.CreatePolicy(
        create_request(world, "main only", branch("^main$")), metadata=world.auth("bob")
    )

    updated = (
        await policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(
                project=world.project_msg(),
                name="gate",
                enabled=False,
                external_approval=approvals(3),
            ),
            metadata=world.auth("carol"),
        )
    ).policy
    assert (updated.enabled, updated.external_approval.required_approvals) == (False, 3)
    # Absent config and enabled keep what is there.
    kept = (
        await policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(project=world.project_msg(), name="gate"),
            metadata=world.auth("carol"),
        )
    ).policy
    assert (kept.enabled, kept.external_approval.required_approvals) == (False, 3)

    listed = await policies.ListPolicies(
        policies_pb2.ListPoliciesRequest(project=world.project_msg()), metadata=world.auth("alice")
    )
    assert [(p.name, p.WhichOneof("config")) for p in listed.policies] == [
        ("gate", "external_approval"),
        ("main only", "branch_restriction"),
    ]
    await policies.DeletePolicy(
        policies_pb2.DeletePolicyRequest(project=world.project_msg(), name="gate"),
        metadata=world.auth("alice"),
    )
    listed = await policies.ListPolicies(
        policies_pb2.ListPoliciesRequest(project=world.project_msg()), metadata=world.auth("alice")
    )
    assert [p.name for p in listed.policies] == ["main only"]
    assert await policy_events(db) == [
        ("created", created.id, {"name": "gate"}),
        ("created", listed.policies[0].id, {"name": "main only"}),
        ("updated", created.id, {"name": "gate"}),
        ("updated", created.id, {"name": "gate"}),
        ("deleted", "gate", {"name": "gate"}),
    ]


@pytest.mark.parametrize(
    ("request_for", "message"),
    [
        (lambda w: create_request(w, "", approvals(1)), "name is required"),
        (lambda w: create_request(w, "n" * 201, approvals(1)), "name is too long: 201 characters"),
        (
            lambda w: create_request(
                w,
                "x",
                policies_pb2.ExternalApprovalConfig(
                    target_environment="e" * 300, required_approvals=1
                ),
            ),
            "external_approval.target_environment is too long",
        ),
        (lambda w: create_request(w, "x", approvals(0)), "required_approvals must be >= 1, got 0"),
        (lambda w: create_request(w, "x", soak(-5)), "duration_seconds must be >= 0, got -5"),
        (lambda w: create_request(w, "x", soak(5, source="")), "source_environment is required"),
        (lambda w: create_request(w, "x", branch("(main")), "is not a valid regular expression"),
        (lambda w: create_request(w, "x", branch("")), "branch_pattern is required"),
        (
            lambda w: create_request(w, "x", approvals(1), policy_type=SOAK),
            "policy_type POLICY_TYPE_SOAK_TIME does not match the config given (external_approval)",
        ),
        (
            lambda w: create_request(w, "x", approvals(1), policy_type=0),
            "does not match the config given",
        ),
        (
            lambda w: policies_pb2.CreatePolicyRequest(
                project=w.project_msg(), name="x", policy_type=APPROVAL
            ),
            "a config is required",
        ),
        (
            lambda w: create_request(
                w, "x", policies_pb2.ExternalApprovalConfig(required_approvals=1)
            ),
            "external_approval.target_environment is required",
        ),
    ],
)
async def test_invalid_policies_are_refused_with_the_reason(
    policies: policies_pb2_grpc.PolicyServiceStub,
    world: World,
    request_for: Callable[[World], policies_pb2.CreatePolicyRequest],
    message: str,
) -> None:
    error = await refused(policies.CreatePolicy(request_for(world), metadata=world.auth("alice")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (error.details() or "")


async def test_names_are_unique_per_project_and_types_do_not_change(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World
) -> None:
    await policies.CreatePolicy(
        create_request(world, "gate", approvals(1)), metadata=world.auth("bob")
    )
    error = await refused(
        policies.CreatePolicy(create_request(world, "gate", soak(10)), metadata=world.auth("bob"))
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "policy 'gate' already exists in acme/api" in (error.details() or "")
    error = await refused(
        policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(
                project=world.project_msg(), name="gate", soak_time=soak(5)
            ),
            metadata=world.auth("bob"),
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot change" in (error.details() or "")
    error = await refused(
        policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(
                project=world.project_msg(), name="nope", enabled=True
            ),
            metadata=world.auth("bob"),
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await refused(
        policies.DeletePolicy(
            policies_pb2.DeletePolicyRequest(project=world.project_msg(), name="nope"),
            metadata=world.auth("bob"),
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_policies_need_membership_and_a_known_project(
    policies: policies_pb2_grpc.PolicyServiceStub,
    world: World,
    db: Database,
    as_service: Callable[[], Metadata],
) -> None:
    outsider = await provision(db, org="globex", members={"mallory": "admin"})
    error = await refused(
        policies.CreatePolicy(
            create_request(world, "gate", approvals(1)), metadata=outsider.auth("mallory")
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await refused(
        policies.ListPolicies(
            policies_pb2.ListPoliciesRequest(project=world.project_msg("nope")),
            metadata=world.auth("alice"),
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "project acme/nope does not exist" in (error.details() or "")
    error = await refused(
        policies.ListPolicies(policies_pb2.ListPoliciesRequest(), metadata=world.auth("alice"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The service account (the bot) may read and manage policies.
    await policies.CreatePolicy(create_request(world, "gate", approvals(1)), metadata=as_service())
    listed = await policies.ListPolicies(
        policies_pb2.ListPoliciesRequest(project=world.project_msg()), metadata=as_service()
    )
    assert [p.name for p in listed.policies] == ["gate"]


async def test_deleting_one_of_two_gates_keeps_the_votes(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    await add_policy(db, world, "first", approvals(1))
    await add_policy(db, world, "second", approvals(2))
    intent = await create_intent(db, world)
    await policies.ExternalApproveRelease(
        policies_pb2.ExternalApproveReleaseRequest(
            project=world.project_msg(), release_intent_id=intent, target_environment="production"
        ),
        metadata=world.auth("alice"),
    )
    for name, remaining in (("first", 1), ("second", 0)):
        await policies.DeletePolicy(
            policies_pb2.DeletePolicyRequest(project=world.project_msg(), name=name),
            metadata=world.auth("alice"),
        )
        async with db.read() as session:
            rows = (await session.scalars(select(ApprovalDecision))).all()
        assert len(rows) == remaining


async def evaluate(
    policies: policies_pb2_grpc.PolicyServiceStub,
    world: World,
    *,
    intent: str | None = None,
    branch_name: str | None = None,
) -> policies_pb2.EvaluatePoliciesResponse:
    return await policies.EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=world.project_msg(),
            target_environment="production",
            branch=branch_name,
            release_intent_id=intent,
        ),
        metadata=world.auth("carol"),
    )


def reasons(response: policies_pb2.EvaluatePoliciesResponse) -> list[tuple[str, bool, str]]:
    return [(e.policy_name, e.passed, e.reason) for e in response.evaluations]


async def test_soak_time_counts_from_the_intents_own_staging_deploys(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    await add_policy(db, world, "soak", soak(60))
    intent = await create_intent(db, world)
    assert reasons(await evaluate(policies, world, intent=intent)) == [
        ("soak", False, "staging has not succeeded yet")
    ]
    await record_deploy(db, world, intent, "staging", completed_at=utcnow() - timedelta(seconds=42))
    [(_, passed, reason)] = reasons(await evaluate(policies, world, intent=intent))
    assert not passed and reason in {f"soak: {s}s of 60s since staging succeeded" for s in (42, 43)}
    # A second staging destination still running: staging has not (fully) succeeded.
    await record_deploy(db, world, intent, "staging", status="RUNNING")
    assert reasons(await evaluate(policies, world, intent=intent))[0][2] == (
        "staging has not succeeded yet"
    )

    other = await create_intent(db, world)
    await record_deploy(db, world, other, "staging", completed_at=utcnow() - timedelta(seconds=90))
    response = await evaluate(policies, world, intent=other)
    assert response.all_passed
    assert response.evaluations[0].reason.startswith("soaked: 9")


async def test_soak_time_without_an_intent_uses_the_projects_latest_staging_success(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    await add_policy(db, world, "soak", soak(60))
    assert reasons(await evaluate(policies, world)) == [
        ("soak", False, "staging has not succeeded yet")
    ]
    old = await create_intent(db, world, status="SUCCEEDED")
    await record_deploy(db, world, old, "staging", completed_at=utcnow() - timedelta(hours=2))
    assert (await evaluate(policies, world)).all_passed
    recent = await create_intent(db, world)
    await record_deploy(db, world, recent, "staging", completed_at=utcnow() - timedelta(seconds=5))
    [(_, passed, reason)] = reasons(await evaluate(policies, world))
    assert (
        not passed
        and reason.startswith("soak: ")
        and reason.endswith("of 60s since staging succeeded")
    )


async def test_branch_restriction_uses_the_intents_branch_or_the_requested_one(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    await add_policy(db, world, "main only", branch("^(main|release/.+)$"))
    assert reasons(await evaluate(policies, world, branch_name="release/1.2")) == [
        ("main only", True, "branch 'release/1.2' matches /^(main|release/.+)$/")
    ]
    assert reasons(await evaluate(policies, world, branch_name="feature/x")) == [
        ("main only", False, "branch 'feature/x' does not match /^(main|release/.+)$/")
    ]
    assert reasons(await evaluate(policies, world)) == [
        ("main only", False, "no branch to check against /^(main|release/.+)$/")
    ]
    intent = await create_intent(db, world, branch="main")
    assert (await evaluate(policies, world, intent=intent, branch_name="feature/x")).all_passed


async def test_approval_without_an_intent_fails_with_no_votes_and_disabled_policies_are_ignored(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    assert (await evaluate(policies, world)) == policies_pb2.EvaluatePoliciesResponse(
        all_passed=True
    )
    await add_policy(db, world, "gate", approvals(2))
    await add_policy(db, world, "off", branch("^never$"), enabled=False)
    response = await evaluate(policies, world)
    [evaluation] = response.evaluations
    assert not response.all_passed and not evaluation.passed
    assert evaluation.reason.startswith("awaiting approval: 0/2")
    assert evaluation.external_approval_state == policies_pb2.ExternalApprovalState(
        required_approvals=2
    )


async def test_evaluation_refuses_an_intent_of_another_project(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database
) -> None:
    other = await provision(db, org="globex", members={"mallory": "admin"})
    intent = await create_intent(db, other, author="mallory")
    error = await refused(evaluate(policies, world, intent=intent))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await refused(
        policies.EvaluatePolicies(
            policies_pb2.EvaluatePoliciesRequest(project=world.project_msg()),
            metadata=world.auth("alice"),
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "target_environment is required" in (error.details() or "")


async def test_concurrent_creates_under_one_name_make_one_policy(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World
) -> None:
    results = await asyncio.gather(
        *(
            policies.CreatePolicy(
                create_request(world, "gate", approvals(n)), metadata=world.auth("bob")
            )
            for n in range(1, 7)
        ),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, policies_pb2.CreatePolicyResponse)]
    refusals = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1 and len(refusals) == 5
    assert {r.code() for r in refusals} == {grpc.StatusCode.ALREADY_EXISTS}
