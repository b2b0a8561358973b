"""The gate on a real release: ReleaseService.Release, the coordinator and the runner, with votes
over gRPC (SQLite and PostgreSQL, real NATS). An admin's bypass of her own release counts, is
recorded, and lets production deploy; a finished release takes no more votes."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc
from forestd.db.models import OrgEvent, ReleaseIntent
from forestd.server import ForestServer

from .factories import World, add_policy, provision
from .test_releases_support import (
    SUCCEEDED,
    Stubs,
    configure_destinations,
    create_pipeline,
    deploy,
    machine,
    release,
    rpc,
    stage_is,
    stage_of,
    wait_for,
)

__all__ = ["machine", "rpc"]


@pytest.fixture
async def world(machine: ForestServer) -> World:
    assert machine.ctx is not None
    world = await provision(machine.ctx.db)
    await configure_destinations(machine.ctx.db, world)
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
        await add_policy(machine.ctx.db, world, name, config)
    return world


async def intent_status(rpc: Stubs, intent_id: str, within: float = 10.0) -> str:
    """The intent's status once it left ACTIVE (the wire has no intent status)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with rpc.db.read() as session:
            status = await session.scalar(
                select(ReleaseIntent.status).where(ReleaseIntent.id == intent_id)
            )
        if status != "ACTIVE" or loop.time() > deadline:
            return str(status)
        await asyncio.sleep(0.05)


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
    rpc: Stubs, world: World
) -> None:
    policies = policies_pb2_grpc.PolicyServiceStub(rpc.channel)
    await create_pipeline(
        rpc, world, [deploy("staging", "staging"), deploy("production", "production", "staging")]
    )
    intent_id = await release(rpc, world, "alice")
    await wait_for(rpc, world, intent_id, stage_is("staging", SUCCEEDED))

    evaluation = await policies.EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=world.project_msg(),
            target_environment="production",
            release_intent_id=intent_id,
        ),
        metadata=world.auth("carol"),
    )
    assert not evaluation.all_passed
    assert [e.reason for e in evaluation.evaluations][1] == "awaiting approval: 0/2"

    await policies.ExternalApproveRelease(vote(world, intent_id), metadata=world.auth("bob"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await policies.ExternalApproveRelease(vote(world, intent_id), metadata=world.auth("alice"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    state = (
        await policies.ExternalApproveRelease(
            vote(world, intent_id, force_bypass=True, comment="incident 42"),
            metadata=world.auth("alice"),
        )
    ).state
    assert (state.current_approvals, state.required_approvals) == (2, 2)
    assert [(d.username, d.comment) for d in state.decisions] == [
        ("bob", ""),
        ("alice", "[bypass] incident 42"),
    ]

    final = await wait_for(rpc, world, intent_id, stage_is("production", SUCCEEDED), within=15)
    assert len(stage_of(final, "production").release_ids) == 1

    async with rpc.db.read() as session:
        events = (
            await session.scalars(
                select(OrgEvent)
                .where(OrgEvent.organisation == world.org_name)
                .order_by(OrgEvent.sequence)
            )
        ).all()
    decided = [e for e in events if (e.resource_type, e.action) == ("approval", "decided")]
    assert [(e.event_metadata["user_id"], e.event_metadata["bypass"]) for e in decided] == [
        (world.user_id("bob"), "false"),
        (world.user_id("alice"), "true"),
    ]
    production_done = next(
        e
        for e in events
        if e.resource_type == "pipeline"
        and e.event_metadata.get("stage_id") == "production"
        and e.event_metadata.get("stage_status") == "SUCCEEDED"
    )
    assert decided[-1].sequence < production_done.sequence

    assert await intent_status(rpc, intent_id) == "SUCCEEDED"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await policies.ExternalApproveRelease(vote(world, intent_id), metadata=world.auth("carol"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "release already finished" in (refused.value.details() or "")
