"""ReleaseService over real gRPC + NATS with the coordinator and the in-process runner:
pipeline intents walk their DAG, plans await a decision, decisions are recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy import select

from blocks.terraform import summarize_plan
from forest.v1 import policies_pb2, releases_pb2
from forestd.config import ForestSettings
from forestd.db.models import PipelineStageState, ReleaseIntent
from forestd.runner import attach
from forestd.server import ForestServer

from .factories import World, add_policy, provision
from .releases_helpers import (
    ACTIVE,
    CANCELLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    Stubs,
    awaiting_plan,
    configure_destinations,
    create_artifact,
    create_pipeline,
    deploy,
    finished_status,
    intent_events,
    intent_state,
    plan,
    release,
    stage_is,
    stage_of,
    wait_for,
)


async def test_pipeline_intent_walks_to_an_awaiting_plan_then_deploys_once_approved(
    rpc: Stubs, release_world: World
) -> None:
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world, "bob")

    state = await wait_for(rpc, release_world, intent_id, awaiting_plan("plan-production"))
    # Forest's shape: PLAN + ACTIVE + "AWAITINGAPPROVAL" (status 6 is never sent).
    planned = stage_of(state, "plan-production")
    assert planned.stage_type == releases_pb2.PIPELINE_RUN_STAGE_TYPE_PLAN
    assert planned.environment == "production" and planned.auto_approve is False
    assert planned.HasField("started_at") and not planned.HasField("completed_at")
    staging = stage_of(state, "deploy-staging")
    assert staging.status == SUCCEEDED and staging.completed_at.endswith("Z")
    assert stage_of(state, "deploy-production").status == PENDING
    assert list(stage_of(state, "deploy-production").depends_on) == ["plan-production"]
    steps = {s.release_id: s for s in state.steps}
    assert {steps[r].environment for r in planned.release_ids} == {"production"}
    assert all(steps[r].status == "SUCCEEDED" for r in planned.release_ids)

    output = await rpc.releases.GetPlanOutput(
        releases_pb2.GetPlanOutputRequest(release_intent_id=intent_id, stage_id="plan-production"),
        metadata=release_world.auth("carol"),
    )
    assert output.status == "AWAITINGAPPROVAL"
    assert [o.destination_name for o in output.outputs] == ["acme-production"]
    assert output.plan_output == output.outputs[0].plan_output
    summary = summarize_plan(output.plan_output)
    assert summary.counted and summary.resources

    await rpc.releases.ApprovePlanStage(
        releases_pb2.ApprovePlanStageRequest(
            release_intent_id=intent_id, stage_id="plan-production"
        ),
        metadata=release_world.auth("carol"),
    )
    state = await wait_for(rpc, release_world, intent_id, stage_is("deploy-production", SUCCEEDED))
    assert stage_of(state, "plan-production").approval_status == "APPROVED"
    assert all(s.status == SUCCEEDED for s in state.stages)

    async with rpc.db.read() as session:
        stage = await session.scalar(
            select(PipelineStageState).where(PipelineStageState.stage_id == "plan-production")
        )
        intent = await session.get_one(ReleaseIntent, intent_id)
    assert stage is not None and stage.plan_decided_by == release_world.user_id("carol")
    assert stage.plan_decided_at is not None
    assert intent.status == "SUCCEEDED" and intent.actor_id == release_world.user_id("bob")
    assert intent.branch == "main" and intent.commit_message == "Add the thing"

    live = await rpc.releases.GetReleaseIntentStates(
        releases_pb2.GetReleaseIntentStatesRequest(organisation="acme"),
        metadata=release_world.auth("bob"),
    )
    assert intent_id not in [i.release_intent_id for i in live.release_intents]

    events = await intent_events(rpc.db, intent_id)
    stage_events = [
        (m["stage_id"], m["stage_status"]) for t, a, m in events if a == "stage_changed"
    ]
    assert stage_events == [
        ("deploy-staging", "ACTIVE"),
        ("deploy-staging", "SUCCEEDED"),
        ("plan-production", "ACTIVE"),
        ("plan-production", "AWAITING_APPROVAL"),
        ("plan-production", "SUCCEEDED"),
        ("deploy-production", "ACTIVE"),
        ("deploy-production", "SUCCEEDED"),
    ]
    [approved] = [
        m
        for _, _, m in events
        if (m.get("stage_id"), m.get("stage_status")) == ("plan-production", "SUCCEEDED")
    ]
    assert approved["decided_by_username"] == "carol"
    assert events[0][:2] == ("release", "created")
    assert events[-1] == (
        "pipeline",
        "completed",
        {"intent_id": intent_id, "pipeline_status": "SUCCEEDED"},
    )
    statuses = [m["status"] for t, a, m in events if a == "status_changed"]
    assert statuses == ["RUNNING", "SUCCEEDED"] * 3


async def test_rejected_plan_fails_the_intent_and_cancels_what_follows(
    rpc: Stubs, release_world: World
) -> None:
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world)
    await wait_for(rpc, release_world, intent_id, awaiting_plan("plan-production"))

    request = releases_pb2.RejectPlanStageRequest(
        release_intent_id=intent_id, stage_id="plan-production", reason="drops the users table"
    )
    await rpc.releases.RejectPlanStage(request, metadata=release_world.auth("alice"))

    state = await intent_state(rpc, release_world, intent_id)
    rejected = stage_of(state, "plan-production")
    assert rejected.status == FAILED and rejected.approval_status == "REJECTED"
    assert rejected.error_message == "plan rejected: drops the users table"
    assert stage_of(state, "deploy-production").status == CANCELLED
    async with rpc.db.read() as session:
        stage = await session.scalar(
            select(PipelineStageState).where(PipelineStageState.stage_id == "plan-production")
        )
        intent = await session.get_one(ReleaseIntent, intent_id)
    assert stage is not None and stage.plan_decided_by == release_world.user_id("alice")
    assert stage.plan_decision_reason == "drops the users table"
    assert intent.status == "FAILED"

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rpc.releases.ApprovePlanStage(
            releases_pb2.ApprovePlanStageRequest(
                release_intent_id=intent_id, stage_id="plan-production"
            ),
            metadata=release_world.auth("alice"),
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "failed" in (refused.value.details() or "")
    events = await intent_events(rpc.db, intent_id)
    assert events[-1][2]["pipeline_status"] == "FAILED"
    [decision] = [m for _, a, m in events if m.get("stage_status") == "FAILED"]
    assert decision["decided_by"] == release_world.user_id("alice")
    assert decision["decided_by_username"] == "alice"
    assert decision["reason"] == "drops the users table"


async def test_plan_decisions_are_refused_with_clear_codes(
    rpc: Stubs, release_world: World, machine: ForestServer
) -> None:
    assert machine.ctx is not None
    other = await provision(machine.ctx.db, org="globex", members={"mallory": "admin"})
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world)

    async def refusal(
        stage_id: str, user: str, intent: str = intent_id
    ) -> tuple[grpc.StatusCode, str]:
        caller = other if user == "mallory" else release_world
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rpc.releases.ApprovePlanStage(
                releases_pb2.ApprovePlanStageRequest(release_intent_id=intent, stage_id=stage_id),
                metadata=caller.auth(user),
            )
        return error.value.code(), error.value.details() or ""

    code, message = await refusal("plan-production", "alice", "not-a-uuid")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "release_intent_id" in message
    code, message = await refusal("nope", "alice")
    assert code == grpc.StatusCode.NOT_FOUND and "nope" in message
    code, message = await refusal("deploy-staging", "alice")
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not a plan stage" in message
    code, message = await refusal("plan-production", "alice")
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not awaiting" in message
    await wait_for(rpc, release_world, intent_id, awaiting_plan("plan-production"))
    code, message = await refusal("plan-production", "mallory")
    assert code == grpc.StatusCode.PERMISSION_DENIED and "acme" in message
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rpc.releases.GetPlanOutput(
            releases_pb2.GetPlanOutputRequest(
                release_intent_id=intent_id, stage_id="plan-production"
            ),
            metadata=other.auth("mallory"),
        )
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_auto_approved_plan_succeeds_without_a_decision(
    rpc: Stubs, release_world: World
) -> None:
    await create_pipeline(
        rpc,
        release_world,
        [plan("plan", "production", auto_approve=True), deploy("go", "production", "plan")],
    )
    intent_id = await release(rpc, release_world)
    state = await wait_for(rpc, release_world, intent_id, stage_is("go", SUCCEEDED))
    assert stage_of(state, "plan").approval_status == "APPROVED"
    assert stage_of(state, "plan").auto_approve is True


async def test_release_refusals(rpc: Stubs, release_world: World, machine: ForestServer) -> None:
    assert machine.ctx is not None
    other = await provision(machine.ctx.db, org="globex", members={"mallory": "admin"})

    async def code_of(author: World, user: str, artifact_id: str, **fields: object) -> tuple:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rpc.releases.Release(
                releases_pb2.ReleaseRequest(artifact_id=artifact_id, **fields),  # type: ignore[arg-type]
                metadata=author.auth(user),
            )
        return error.value.code(), error.value.details()

    artifact = await create_artifact(rpc.db, release_world)
    code, message = await code_of(release_world, "bob", artifact, use_pipeline=True)
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "no enabled release pipeline" in message
    code, message = await code_of(release_world, "bob", "42", use_pipeline=True)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "artifact_id" in message
    code, _ = await code_of(release_world, "bob", "00000000-0000-0000-0000-00000000abcd")
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await code_of(other, "mallory", artifact, environments=["staging"])
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, message = await code_of(release_world, "bob", artifact)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "destinations or environments" in message
    code, message = await code_of(release_world, "bob", artifact, destinations=["nowhere"])
    assert code == grpc.StatusCode.NOT_FOUND and "nowhere" in message


async def test_direct_release_is_never_gated(rpc: Stubs, release_world: World) -> None:
    await add_policy(
        rpc.db,
        release_world,
        "two approvals",
        policies_pb2.ExternalApprovalConfig(target_environment="staging", required_approvals=2),
    )
    artifact_release = await rpc.releases.Release(
        releases_pb2.ReleaseRequest(
            artifact_id=await create_artifact(rpc.db, release_world), environments=["staging"]
        ),
        metadata=release_world.auth("bob"),
    )
    [entry] = artifact_release.intents
    assert entry.destination == "acme-staging" and entry.environment == "staging"
    intent_id = entry.release_intent_id

    assert await finished_status(rpc.db, intent_id) == "SUCCEEDED"
    state = await intent_state(rpc, release_world, intent_id)
    assert list(state.stages) == []
    assert [s.status for s in state.steps] == ["SUCCEEDED"]


async def test_failed_deploy_fails_the_stage_and_cancels_dependants(
    rpc: Stubs, release_world: World
) -> None:
    await configure_destinations(rpc.db, release_world, fail="deploy")
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world)
    state = await wait_for(rpc, release_world, intent_id, stage_is("deploy-staging", FAILED))
    failed = stage_of(state, "deploy-staging")
    assert failed.error_message.startswith("deploy on acme-staging failed")
    assert "configured to fail" in failed.error_message
    assert stage_of(state, "plan-production").status == CANCELLED
    assert stage_of(state, "deploy-production").status == CANCELLED
    assert ACTIVE not in [s.status for s in state.stages]


async def test_wait_release_streams_every_change_until_the_intent_finishes(
    rpc: Stubs, release_world: World
) -> None:
    await create_pipeline(rpc, release_world)
    intent_id = await release(rpc, release_world)
    stream = rpc.releases.WaitRelease(
        releases_pb2.WaitReleaseRequest(release_intent_id=intent_id),
        metadata=release_world.auth("carol"),
    )
    seen: list[tuple[str, ...]] = []
    async with asyncio.timeout(60):  # only bounds a hung test
        async for event in stream:
            if event.HasField("stage_update"):
                update = event.stage_update
                seen.append((update.stage_id, update.status, update.approval_status))
                if update.approval_status == "AWAITINGAPPROVAL":
                    await rpc.releases.ApprovePlanStage(
                        releases_pb2.ApprovePlanStageRequest(
                            release_intent_id=intent_id, stage_id=update.stage_id
                        ),
                        metadata=release_world.auth("carol"),
                    )
            else:
                seen.append((event.status_update.destination, event.status_update.status))
    stages = [s for s in seen if len(s) == 3]
    assert ("plan-production", "ACTIVE", "AWAITINGAPPROVAL") in stages
    assert stages[-1] == ("deploy-production", "SUCCEEDED", "")
    assert ("acme-production", "SUCCEEDED") in seen
    # Snapshots: a short-lived state may be coalesced, but never reordered.
    approved = stages.index(("plan-production", "SUCCEEDED", "APPROVED"))
    assert all(s[0] != "deploy-production" or s[1] == "PENDING" for s in stages[:approved])

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        async for _ in rpc.releases.WaitRelease(
            releases_pb2.WaitReleaseRequest(
                release_intent_id="00000000-0000-0000-0000-000000000001"
            ),
            metadata=release_world.auth("carol"),
        ):
            pass
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_listing_fifty_live_intents_returns_each_with_stages_and_steps(
    rpc: Stubs, release_world: World
) -> None:
    """Latency figures: bench/intent_states.py."""
    await create_pipeline(rpc, release_world)
    await configure_destinations(rpc.db, release_world, deploy_seconds=60)  # they stay live
    ids = [await release(rpc, release_world) for _ in range(50)]
    for intent_id in ids:  # the coordinator starts them in no particular order
        await wait_for(rpc, release_world, intent_id, stage_is("deploy-staging", ACTIVE))
    request = releases_pb2.GetReleaseIntentStatesRequest(organisation="acme", project="api")
    response = await rpc.releases.GetReleaseIntentStates(
        request, metadata=release_world.auth("bob")
    )
    assert [i.release_intent_id for i in response.release_intents] == ids[::-1]
    assert all(len(i.stages) == 3 and i.steps for i in response.release_intents)


@pytest.fixture
async def idle(forest_settings: ForestSettings) -> AsyncIterator[tuple[Stubs, World]]:
    """A server whose runner is off: releases stay QUEUED."""
    server = ForestServer(forest_settings.model_copy(update={"runner_enabled": False}))
    attach(server)
    await server.start()
    try:
        assert server.ctx is not None
        world = await provision(server.ctx.db)
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield Stubs(channel, server.ctx.db), world
    finally:
        await server.stop(grace=0.5)


async def test_a_forced_release_cancels_what_is_still_queued_there(
    idle: tuple[Stubs, World],
) -> None:
    stubs, world = idle
    first = await release(stubs, world, use_pipeline=False, environments=["staging"])
    second = await release(
        stubs, world, use_pipeline=False, destinations=["acme-staging"], force=True
    )
    assert await finished_status(stubs.db, first) == "CANCELLED"
    state = await intent_state(stubs, world, first)
    assert [(s.status, s.error_message) for s in state.steps] == [
        ("CANCELLED", "cancelled by a forced release")
    ]
    assert [s.status for s in (await intent_state(stubs, world, second)).steps] == ["QUEUED"]


async def test_releases_by_actor_lists_only_the_callers_own(idle: tuple[Stubs, World]) -> None:
    stubs, world = idle
    mine = [await release(stubs, world, "bob", use_pipeline=False, environments=["staging"])]
    mine.append(await release(stubs, world, "bob", use_pipeline=False, environments=["production"]))
    await release(stubs, world, "carol", use_pipeline=False, environments=["staging"])
    page = await stubs.releases.GetReleasesByActor(
        releases_pb2.GetReleasesByActorRequest(
            actor_id=world.user_id("bob"), actor_type="user", page_size=1
        ),
        metadata=world.auth("bob"),
    )
    assert [r.release_intent_id for r in page.releases] == [mine[1]]
    assert page.releases[0].project == world.project_msg()
    assert [(d.destination, d.status) for d in page.releases[0].destinations] == [
        ("acme-production", "QUEUED")
    ]
    rest = await stubs.releases.GetReleasesByActor(
        releases_pb2.GetReleasesByActorRequest(
            actor_id=world.user_id("bob"), page_size=1, page_token=page.next_page_token
        ),
        metadata=world.auth("bob"),
    )
    assert [r.release_intent_id for r in rest.releases] == [mine[0]]
    assert rest.next_page_token == ""
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stubs.releases.GetReleasesByActor(
            releases_pb2.GetReleasesByActorRequest(actor_id=world.user_id("bob")),
            metadata=world.auth("carol"),
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
