"""The gate on a real release: ReleaseService.Release, the coordinator and the runner, with votes
over gRPC (SQLite and PostgreSQL, real NATS). An admin's bypass of her own release counts, is
recorded, and lets production deploy; a finished release takes no more votes."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc
from forestd.db.models import OrgEvent
from forestd.server import ForestServer

from .factories import World, add_policy
from .releases_helpers import (
    SUCCEEDED,
    Stubs,
    create_pipeline,
    deploy,
    finished_status,
    release,
    stage_is,
    stage_of,
    wait_for,
)


@pytest.fixture
async def soak_and_approvals_world(machine: ForestServer, release_world: World) -> World:
    """`release_world` whose production needs 1 s of soak after staging and two approvals."""
    assert machine.ctx is not None
    for name, config in (
        (
            "soak",
            policies_pb2.SoakTimeConfig(
                source_environment="staging", target_environment="production", duration_seconds=1
            ),
        ),
        (
            "two approvals",
            policies_pb2.ExternalApprovalConfig(
                target_environment="production", required_approvals=2
            ),
        ),
    ):
        await add_policy(machine.ctx.db, release_world, name, config)
    return release_world


def vote(
    world: World, intent_id: str, *, force_bypass: bool = False, comment: str | None = None
) -> policies_pb2.ExternalApproveReleaseRequest:
    return policies_pb2.ExternalApproveReleaseRequest(
        project=world.project_msg(),
        release_intent_id=intent_id,
        target_environment="production",
        force_bypass=force_bypass,
        comment=comment,
    )


async def test_an_admin_bypass_on_her_own_release_opens_the_gate_and_is_recorded(
    rpc: Stubs, soak_and_approvals_world: World
) -> None:
    policies = policies_pb2_grpc.PolicyServiceStub(rpc.channel)
    await create_pipeline(
        rpc,
        soak_and_approvals_world,
        [deploy("staging", "staging"), deploy("production", "production", "staging")],
    )
    intent_id = await release(rpc, soak_and_approvals_world, "alice")
    await wait_for(rpc, soak_and_approvals_world, intent_id, stage_is("staging", SUCCEEDED))

    evaluation = await policies.EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=soak_and_approvals_world.project_msg(),
            target_environment="production",
            release_intent_id=intent_id,
        ),
        metadata=soak_and_approvals_world.auth("carol"),
    )
    assert not evaluation.all_passed
    assert [e.reason for e in evaluation.evaluations][1] == "awaiting approval: 0/2"

    await policies.ExternalApproveRelease(
        vote(soak_and_approvals_world, intent_id), metadata=soak_and_approvals_world.auth("bob")
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await policies.ExternalApproveRelease(
            vote(soak_and_approvals_world, intent_id),
            metadata=soak_and_approvals_world.auth("alice"),
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    state = (
        await policies.ExternalApproveRelease(
            vote(soak_and_approvals_world, intent_id, force_bypass=True, comment="incident 42"),
            metadata=soak_and_approvals_world.auth("alice"),
        )
    ).state
    assert (state.current_approvals, state.required_approvals) == (2, 2)
    assert [(d.username, d.comment) for d in state.decisions] == [
        ("bob", ""),
        ("alice", "[bypass] incident 42"),
    ]

    final = await wait_for(
        rpc, soak_and_approvals_world, intent_id, stage_is("production", SUCCEEDED)
    )
    assert len(stage_of(final, "production").release_ids) == 1

    async with rpc.db.read() as session:
        events = (
            await session.scalars(
                select(OrgEvent)
                .where(OrgEvent.organisation == soak_and_approvals_world.org_name)
                .order_by(OrgEvent.sequence)
            )
        ).all()
    decided = [e for e in events if (e.resource_type, e.action) == ("approval", "decided")]
    assert [(e.event_metadata["user_id"], e.event_metadata["bypass"]) for e in decided] == [
        (soak_and_approvals_world.user_id("bob"), "false"),
        (soak_and_approvals_world.user_id("alice"), "true"),
    ]
    production_done = next(
        e
        for e in events
        if e.resource_type == "pipeline"
        and e.event_metadata.get("stage_id") == "production"
        and e.event_metadata.get("stage_status") == "SUCCEEDED"
    )
    assert decided[-1].sequence < production_done.sequence

    assert await finished_status(rpc.db, intent_id) == "SUCCEEDED"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await policies.ExternalApproveRelease(
            vote(soak_and_approvals_world, intent_id),
            metadata=soak_and_approvals_world.auth("carol"),
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "release already finished" in (refused.value.details() or "")
