"""The coordinator: deploy stages wait for their environment's policies, wait stages for their
timer, plan stages only for soak time; two replicas on one database never double a release."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2
from forestd.config import ForestSettings
from forestd.db.models import ReleaseIntent, ReleaseState
from forestd.runner import attach
from forestd.server import ForestServer

from .factories import World, add_policy, provision
from .test_releases_support import (
    ACTIVE,
    PENDING,
    STANDARD,
    SUCCEEDED,
    Stubs,
    awaiting_plan,
    configure_destinations,
    create_pipeline,
    deploy,
    intent_state,
    machine,
    plan,
    release,
    rpc,
    stage_is,
    stage_of,
    wait,
    wait_for,
    world,
)

__all__ = ["machine", "rpc", "world"]


async def test_a_deploy_stage_waits_for_approvals_and_starts_on_the_nudge(
    rpc: Stubs, world: World
) -> None:
    await add_policy(
        rpc.db,
        world,
        "two approvals",
        policies_pb2.ExternalApprovalConfig(target_environment="production", required_approvals=2),
    )
    await add_policy(
        rpc.db,
        world,
        "main only",
        policies_pb2.BranchRestrictionConfig(
            target_environment="production", branch_pattern="^main$"
        ),
    )
    await create_pipeline(
        rpc, world, [deploy("staging", "staging"), deploy("production", "production", "staging")]
    )
    intent_id = await release(rpc, world, "bob")
    await wait_for(rpc, world, intent_id, stage_is("staging", SUCCEEDED))
    await asyncio.sleep(0.7)  # a sweep passes: still gated, no reason, no release rows
    state = await intent_state(rpc, world, intent_id)
    gated = stage_of(state, "production")
    assert gated.status == PENDING and not gated.release_ids and not gated.HasField("started_at")

    votes = policies_pb2_grpc.PolicyServiceStub(rpc.channel)
    for voter in ("alice", "carol"):
        await votes.ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=world.project_msg(),
                release_intent_id=intent_id,
                target_environment="production",
            ),
            metadata=world.auth(voter),
        )
    state = await wait_for(rpc, world, intent_id, stage_is("production", SUCCEEDED), within=10)
    assert len(stage_of(state, "production").release_ids) == 1


async def test_wait_stages_hold_their_dependants_until_wait_until(rpc: Stubs, world: World) -> None:
    await create_pipeline(rpc, world, [wait("pause", 1), deploy("staging", "staging", "pause")])
    intent_id = await release(rpc, world)
    state = await wait_for(rpc, world, intent_id, stage_is("pause", ACTIVE))
    paused = stage_of(state, "pause")
    assert paused.duration_seconds == 1 and paused.wait_until.endswith("Z")
    assert paused.stage_type == releases_pb2.PIPELINE_RUN_STAGE_TYPE_WAIT
    assert not paused.HasField("environment")
    assert stage_of(state, "staging").status == PENDING
    state = await wait_for(rpc, world, intent_id, stage_is("staging", SUCCEEDED), within=10)
    assert stage_of(state, "pause").completed_at >= paused.wait_until


async def test_plan_stages_check_soak_but_never_approvals(rpc: Stubs, world: World) -> None:
    await add_policy(
        rpc.db,
        world,
        "soak",
        policies_pb2.SoakTimeConfig(
            source_environment="staging", target_environment="production", duration_seconds=1
        ),
    )
    await add_policy(
        rpc.db,
        world,
        "approvals",
        policies_pb2.ExternalApprovalConfig(target_environment="production", required_approvals=2),
    )
    await create_pipeline(rpc, world, STANDARD)
    intent_id = await release(rpc, world)
    state = await wait_for(rpc, world, intent_id, stage_is("deploy-staging", SUCCEEDED))
    assert stage_of(state, "plan-production").status == PENDING  # soaking
    state = await wait_for(rpc, world, intent_id, awaiting_plan("plan-production"), within=10)
    staging_done = stage_of(state, "deploy-staging").completed_at
    assert stage_of(state, "plan-production").started_at > staging_done


async def test_live_listing_is_newest_first_and_capped_at_50(rpc: Stubs, world: World) -> None:
    await create_pipeline(rpc, world, [plan("plan", "production")])
    await configure_destinations(rpc.db, world, plan_seconds=30)  # keep them all live
    ids = [await release(rpc, world) for _ in range(52)]
    response = await rpc.releases.GetReleaseIntentStates(
        releases_pb2.GetReleaseIntentStatesRequest(organisation="acme", project="api"),
        metadata=world.auth("carol"),
    )
    listed = [i.release_intent_id for i in response.release_intents]
    assert listed == list(reversed(ids))[:50]
    assert all(i.project == "api" and i.created_at.endswith("Z") for i in response.release_intents)


@pytest.mark.parametrize("replicas", [2])
async def test_two_replicas_never_double_a_release(
    forest_settings: ForestSettings, replicas: int
) -> None:
    servers = []
    for _ in range(replicas):
        server = ForestServer(forest_settings.model_copy(update={"sweep_interval_seconds": 0.2}))
        attach(server)
        await server.start()
        servers.append(server)
    try:
        async with asyncio.timeout(90):  # a stuck replica fails the test instead of hanging CI
            await _release_twelve(servers)
    finally:
        for server in servers:
            await server.stop(grace=0.2)


async def _release_twelve(servers: list[ForestServer]) -> None:
    assert servers[0].ctx is not None
    db = servers[0].ctx.db
    world = await provision(db)
    await configure_destinations(db, world, deploy_seconds=0.01, plan_seconds=0.01)
    async with grpc.aio.insecure_channel(servers[1].address) as channel:
        stubs = Stubs(channel, db)
        await create_pipeline(
            stubs,
            world,
            [
                deploy("staging", "staging"),
                plan("plan", "production", "staging", auto_approve=True),
                deploy("production", "production", "plan"),
            ],
        )
        ids = await asyncio.gather(*(release(stubs, world) for _ in range(12)))
        for intent_id in ids:
            await wait_for(stubs, world, intent_id, stage_is("production", SUCCEEDED), within=30)
    async with db.read() as session:
        rows = (
            await session.execute(select(ReleaseState.release_intent_id, ReleaseState.stage_id))
        ).all()
        statuses = set((await session.scalars(select(ReleaseIntent.status))).all())
    assert Counter(Counter(rows).values()) == {1: 36}  # one row per (intent, stage)
    assert statuses == {"SUCCEEDED"}
