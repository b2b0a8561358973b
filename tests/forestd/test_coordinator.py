"""The coordinator: deploy stages wait for their environment's policies, wait stages for their
timer, plan stages only for soak time; two replicas on one database never double a release."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, cast

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2
from forestd.config import ForestSettings
from forestd.coordinator import Coordinator
from forestd.db.models import Artifact, PipelineStageState, ReleaseIntent, ReleaseState
from forestd.runner import attach
from forestd.server import ForestServer
from forestd.uow import Database
from sandbox.testing import eventually

from .factories import World, add_policy, add_project, provision
from .releases_helpers import (
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
    plan,
    release,
    stage_is,
    stage_of,
    wait,
    wait_for,
)


@pytest.fixture
def world(release_world: World) -> World:
    """Here the organisation lives on `machine` (the server with the runner)."""
    return release_world


def coordinator_of(server: ForestServer) -> Coordinator:
    return next(c for c in server.components if isinstance(c, Coordinator))


async def sweeps_pass(coordinator: Coordinator, count: int) -> None:
    """Wait until `count` more sweeps have finished after the one now running (if any): the
    last `count - 1` of them started after this call."""
    target = coordinator.sweeps + count
    await eventually(lambda: coordinator.sweeps >= target, 60)


async def test_a_deploy_stage_waits_for_approvals_and_starts_on_the_nudge(
    machine: ForestServer, rpc: Stubs, world: World
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
    await sweeps_pass(coordinator_of(machine), 2)  # a whole sweep ran after staging finished
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


FIRST_ID = "00000000-0000-4000-8000-000000000000"  # every sweep walks this intent first


async def broken_intent(db: Database, world: World) -> str:
    """An ACTIVE intent (of another project) that sorts first and fails every evaluation: a
    hand-edited row whose pending stage's `depends_on` is a number, not a list."""
    legacy = await add_project(db, world, "legacy")
    async with db.transaction() as uow:
        artifact = Artifact(project_id=legacy.project_id, slug="legacy-broken", title="broken")
        uow.session.add(artifact)
        await uow.session.flush()
        uow.session.add(
            ReleaseIntent(
                id=FIRST_ID,
                project_id=legacy.project_id,
                artifact_id=artifact.id,
                actor_id=world.user_id("bob"),
                actor_type="user",
            )
        )
        await uow.session.flush()
        uow.session.add(
            PipelineStageState(
                release_intent_id=FIRST_ID,
                stage_id="deploy",
                stage_type="deploy",
                environment="staging",
                depends_on=cast(list[Any], 7),
            )
        )
    return FIRST_ID


class SweepFailures(logging.Handler):
    """The coordinator's sweep count when each sweep failure about `intent_id` was logged."""

    def __init__(self, coordinator: Coordinator, intent_id: str):
        super().__init__(logging.ERROR)
        self.coordinator = coordinator
        self.intent_id = intent_id
        self.logged_in: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("sweep:") and self.intent_id in message and record.exc_info:
            self.logged_in.append(self.coordinator.sweeps)


async def test_an_intent_that_keeps_failing_does_not_stop_later_timers(
    machine: ForestServer, rpc: Stubs, world: World
) -> None:
    coordinator = coordinator_of(machine)
    failures = SweepFailures(coordinator, await broken_intent(rpc.db, world))
    logger = logging.getLogger("forestd.coordinator")
    logger.addHandler(failures)
    try:
        first_seen = coordinator.sweeps  # this sweep may have begun before the handler
        await create_pipeline(rpc, world, [wait("pause", 1), deploy("staging", "staging", "pause")])
        intent_id = await release(rpc, world)
        await wait_for(rpc, world, intent_id, stage_is("pause", ACTIVE))
        # Only a sweep ends a wait stage: each one walks the broken intent first.
        await wait_for(rpc, world, intent_id, stage_is("staging", SUCCEEDED), within=60)
        await sweeps_pass(coordinator, 2)
        finished = coordinator.sweeps
    finally:
        logger.removeHandler(failures)
    whole_sweeps = range(first_seen + 1, finished)
    assert len(whole_sweeps) >= 2
    per_sweep = Counter(failures.logged_in)
    assert [per_sweep[n] for n in whole_sweeps] == [1] * len(whole_sweeps)
    async with rpc.db.read() as session:
        assert (await session.get_one(ReleaseIntent, FIRST_ID)).status == "ACTIVE"


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
