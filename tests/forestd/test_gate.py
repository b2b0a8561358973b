"""The external approval gate through real gRPC, on SQLite and PostgreSQL, with real NATS:
who may vote, on what, how votes count, and what a vote tells the rest of the system."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import nats
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc
from forestd.bus import INTENT_EVALUATE
from forestd.db.models import ApprovalDecision, OrgEvent
from forestd.uow import Database

from .factories import World, add_policy, add_project, create_intent, provision

Metadata = tuple[tuple[str, str], ...]


def approval(required: int, environment: str = "production") -> policies_pb2.ExternalApprovalConfig:
    return policies_pb2.ExternalApprovalConfig(
        target_environment=environment, required_approvals=required
    )


@pytest.fixture
async def two_approvals_world(db: Database) -> World:
    """The standard organisation whose production needs two approvals."""
    world = await provision(db)
    await add_policy(db, world, "two approvals", approval(2))
    return world


async def approve(
    stub: policies_pb2_grpc.PolicyServiceStub,
    world: World,
    who: str,
    intent_id: str,
    *,
    environment: str = "production",
    comment: str | None = None,
    force_bypass: bool = False,
    project: str | None = None,
) -> policies_pb2.ExternalApprovalState:
    response = await stub.ExternalApproveRelease(
        policies_pb2.ExternalApproveReleaseRequest(
            project=world.project_msg(project),
            release_intent_id=intent_id,
            target_environment=environment,
            comment=comment,
            force_bypass=force_bypass,
        ),
        metadata=world.auth(who),
    )
    return response.state


async def reject(
    stub: policies_pb2_grpc.PolicyServiceStub,
    world: World,
    who: str,
    intent_id: str,
    *,
    comment: str | None = None,
) -> policies_pb2.ExternalApprovalState:
    response = await stub.ExternalRejectRelease(
        policies_pb2.ExternalRejectReleaseRequest(
            project=world.project_msg(),
            release_intent_id=intent_id,
            target_environment="production",
            comment=comment,
        ),
        metadata=world.auth(who),
    )
    return response.state


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value


def votes(state: policies_pb2.ExternalApprovalState) -> list[tuple[str, str]]:
    return [(d.username, d.decision) for d in state.decisions]


async def test_the_author_cannot_approve_their_own_release(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world, author="bob")
    error = await refused(approve(policies, two_approvals_world, "bob", intent))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "cannot approve your own release" in (error.details() or "")
    # Rejecting one's own release is just a vote.
    state = await reject(policies, two_approvals_world, "bob", intent)
    assert votes(state) == [("bob", "rejected")]


async def test_a_member_who_is_not_admin_cannot_bypass_on_their_own_release(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world, author="carol")
    error = await refused(
        approve(policies, two_approvals_world, "carol", intent, force_bypass=True)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only an organisation admin can bypass" in (error.details() or "")
    async with db.read() as session:
        assert (await session.scalars(select(ApprovalDecision))).all() == []


async def test_an_admin_can_bypass_on_their_own_release_and_it_is_recorded(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world, author="alice")
    state = await approve(
        policies, two_approvals_world, "alice", intent, force_bypass=True, comment="hotfix"
    )
    assert state.required_approvals == 2 and state.current_approvals == 1
    [entry] = state.decisions
    assert (entry.username, entry.decision, entry.comment) == (
        "alice",
        "approved",
        "[bypass] hotfix",
    )
    async with db.read() as session:
        row = await session.scalar(select(ApprovalDecision))
        assert row is not None and row.bypass is True and row.comment == "hotfix"
        event = await session.scalar(select(OrgEvent).where(OrgEvent.resource_type == "approval"))
    assert event is not None and event.action == "decided" and event.resource_id == intent
    assert event.event_metadata == {
        "intent_id": intent,
        "environment": "production",
        "decision": "approved",
        "user_id": two_approvals_world.user_id("alice"),
        "bypass": "true",
    }
    # Seen the same way through GetExternalApprovalState; without a comment the mark stands alone.
    await approve(policies, two_approvals_world, "alice", intent, force_bypass=True)
    got = await policies.GetExternalApprovalState(
        policies_pb2.GetExternalApprovalStateRequest(
            project=two_approvals_world.project_msg(),
            release_intent_id=intent,
            target_environment="production",
        ),
        metadata=two_approvals_world.auth("bob"),
    )
    assert [d.comment for d in got.state.decisions] == ["[bypass]"]


async def test_force_bypass_from_someone_else_is_an_ordinary_vote(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world, author="bob")
    state = await approve(
        policies, two_approvals_world, "alice", intent, force_bypass=True, comment="lgtm"
    )
    assert [(d.decision, d.comment) for d in state.decisions] == [("approved", "lgtm")]
    async with db.read() as session:
        row = await session.scalar(select(ApprovalDecision))
    assert row is not None and row.bypass is False


async def test_the_service_account_cannot_vote(
    policies: policies_pb2_grpc.PolicyServiceStub,
    two_approvals_world: World,
    db: Database,
    as_service: Callable[[], Metadata],
) -> None:
    intent = await create_intent(db, two_approvals_world)
    error = await refused(
        policies.ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=two_approvals_world.project_msg(),
                release_intent_id=intent,
                target_environment="production",
            ),
            metadata=as_service(),
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "personal access token" in (error.details() or "")


async def test_a_member_of_another_org_cannot_vote(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world)
    other = await provision(db, org="globex", project="api", members={"mallory": "admin"})
    await add_policy(db, other, "gate", approval(1))
    # Naming acme's project: not a member.
    error = await refused(
        policies.ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=two_approvals_world.project_msg(),
                release_intent_id=intent,
                target_environment="production",
            ),
            metadata=other.auth("mallory"),
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not a member of organisation 'acme'" in (error.details() or "")
    # Naming her own project (same environment name, her own gate): the intent is not there.
    error = await refused(approve(policies, other, "mallory", intent))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert f"release intent {intent} not found in globex/api" in (error.details() or "")


async def test_a_vote_naming_another_project_of_the_org_is_refused(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world)
    web = await add_project(db, two_approvals_world, "web")
    await add_policy(db, web, "web gate", approval(1))
    error = await refused(approve(policies, two_approvals_world, "alice", intent, project="web"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "not found in acme/web" in (error.details() or "")


async def test_a_later_vote_replaces_the_earlier_one(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world)
    state = await reject(policies, two_approvals_world, "carol", intent, comment="tests are red")
    assert (state.current_approvals, votes(state)) == (0, [("carol", "rejected")])
    state = await approve(policies, two_approvals_world, "carol", intent)
    assert (state.current_approvals, votes(state)) == (1, [("carol", "approved")])
    assert not state.decisions[0].HasField("comment")  # the old comment went with the old vote


async def test_two_approvals_and_one_rejection_make_two(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(
        db, two_approvals_world, author=None
    )  # released by the service account
    await approve(policies, two_approvals_world, "alice", intent)
    await reject(policies, two_approvals_world, "carol", intent)
    state = await approve(policies, two_approvals_world, "bob", intent)
    assert (state.required_approvals, state.current_approvals) == (2, 2)
    assert votes(state) == [("alice", "approved"), ("carol", "rejected"), ("bob", "approved")]
    evaluation = await policies.EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=two_approvals_world.project_msg(),
            target_environment="production",
            release_intent_id=intent,
        ),
        metadata=two_approvals_world.auth("carol"),
    )
    assert evaluation.all_passed
    assert [e.reason for e in evaluation.evaluations] == ["approved: 2/2"]


async def test_the_highest_requirement_wins(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    await add_policy(db, two_approvals_world, "one approval", approval(1))
    await add_policy(db, two_approvals_world, "three, disabled", approval(3), enabled=False)
    intent = await create_intent(db, two_approvals_world)
    state = await approve(policies, two_approvals_world, "alice", intent)
    assert (state.required_approvals, state.current_approvals) == (2, 1)
    evaluation = await policies.EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=two_approvals_world.project_msg(),
            target_environment="production",
            release_intent_id=intent,
        ),
        metadata=two_approvals_world.auth("alice"),
    )
    assert not evaluation.all_passed
    assert {e.reason for e in evaluation.evaluations} == {"awaiting approval: 1/2"}


async def test_a_vote_wakes_the_coordinator_over_nats(
    policies: policies_pb2_grpc.PolicyServiceStub,
    two_approvals_world: World,
    db: Database,
    nats_url: str,
) -> None:
    intent = await create_intent(db, two_approvals_world)
    nc = await nats.connect(nats_url)
    try:
        subscription = await nc.subscribe(INTENT_EVALUATE)
        await nc.flush()
        await approve(policies, two_approvals_world, "alice", intent)
        message = await subscription.next_msg(timeout=60)
        assert message.data == intent.encode()
        await reject(policies, two_approvals_world, "carol", intent)
        message = await subscription.next_msg(timeout=60)
        assert message.data == intent.encode()
    finally:
        await nc.close()


async def test_votes_need_an_open_release_and_an_approval_policy(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    finished = await create_intent(db, two_approvals_world, status="SUCCEEDED")
    error = await refused(approve(policies, two_approvals_world, "alice", finished))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "release already finished" in (error.details() or "")
    intent = await create_intent(db, two_approvals_world)
    error = await refused(
        approve(policies, two_approvals_world, "alice", intent, comment="c" * 4001)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "comment is too long" in (error.details() or "")
    error = await refused(
        approve(policies, two_approvals_world, "alice", intent, environment="staging")
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "no enabled external approval policy on environment 'staging'" in (error.details() or "")


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "1234"])
async def test_bad_intent_ids_are_invalid_arguments(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, bad: str
) -> None:
    for call in (
        approve(policies, two_approvals_world, "alice", bad),
        reject(policies, two_approvals_world, "alice", bad),
        policies.GetExternalApprovalState(
            policies_pb2.GetExternalApprovalStateRequest(
                project=two_approvals_world.project_msg(),
                release_intent_id=bad,
                target_environment="production",
            ),
            metadata=two_approvals_world.auth("alice"),
        ),
        policies.EvaluatePolicies(
            policies_pb2.EvaluatePoliciesRequest(
                project=two_approvals_world.project_msg(),
                target_environment="production",
                release_intent_id=bad,
            ),
            metadata=two_approvals_world.auth("alice"),
        ),
    ):
        error = await refused(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "release_intent_id must be a UUID" in (error.details() or "")


async def test_an_unknown_intent_is_not_found(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World
) -> None:
    error = await refused(
        approve(policies, two_approvals_world, "alice", "6f1c1e1e-0000-4000-8000-000000000000")
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_votes_by_one_user_leave_one_vote(
    policies: policies_pb2_grpc.PolicyServiceStub, two_approvals_world: World, db: Database
) -> None:
    intent = await create_intent(db, two_approvals_world)
    await asyncio.gather(
        *(approve(policies, two_approvals_world, "alice", intent) for _ in range(5)),
        *(reject(policies, two_approvals_world, "alice", intent) for _ in range(5)),
    )
    async with db.read() as session:
        rows = (await session.scalars(select(ApprovalDecision))).all()
    assert len(rows) == 1


async def test_changing_a_policy_wakes_the_coordinator_for_open_releases(
    policies: policies_pb2_grpc.PolicyServiceStub,
    two_approvals_world: World,
    db: Database,
    nats_url: str,
) -> None:
    open_intent = await create_intent(db, two_approvals_world)
    await create_intent(db, two_approvals_world, status="SUCCEEDED")
    nc = await nats.connect(nats_url)
    try:
        subscription = await nc.subscribe(INTENT_EVALUATE)
        await nc.flush()
        await policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(
                project=two_approvals_world.project_msg(), name="two approvals", enabled=False
            ),
            metadata=two_approvals_world.auth("alice"),
        )
        message = await subscription.next_msg(timeout=60)
        assert message.data == open_intent.encode()
        # One connection publishes in order: after a second change, the next nudge is again the
        # open release's, so neither change nudged the finished one.
        await policies.UpdatePolicy(
            policies_pb2.UpdatePolicyRequest(
                project=two_approvals_world.project_msg(), name="two approvals", enabled=True
            ),
            metadata=two_approvals_world.auth("alice"),
        )
        message = await subscription.next_msg(timeout=60)
        assert message.data == open_intent.encode()
    finally:
        await nc.close()
