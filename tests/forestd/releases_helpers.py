"""Shared by the release-machinery tests: gRPC stubs, artifacts, pipelines, destinations, and
waiting for an intent to reach a state. The server with its runner (`machine`, `rpc`) and the
organisation with demo destinations (`release_world`) are fixtures in conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc
from sqlalchemy import select, update

from forest.v1 import release_pipelines_pb2 as pipelines_pb2
from forest.v1 import release_pipelines_pb2_grpc as pipelines_pb2_grpc
from forest.v1 import releases_pb2, releases_pb2_grpc
from forestd.db.models import Artifact, Destination, OrgEvent, ReleaseIntent
from forestd.db.types import new_id
from forestd.uow import Database
from sandbox.testing import eventually

from .factories import World

RPC_TIMEOUT = 15.0
FAST = {"deploy_seconds": 0.05, "plan_seconds": 0.05, "plan_lines": 30}
ACTIVE = releases_pb2.PIPELINE_RUN_STAGE_STATUS_ACTIVE
SUCCEEDED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED
FAILED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_FAILED
CANCELLED = releases_pb2.PIPELINE_RUN_STAGE_STATUS_CANCELLED
PENDING = releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING


class Caller(Protocol):
    """What reading an intent needs: World (factories) or the seeded demo world."""

    org_name: str
    project_name: str

    def auth(self, username: str) -> tuple[tuple[str, str], ...]: ...


class Stubs:
    def __init__(self, channel: grpc.aio.Channel, db: Database):
        self.releases = releases_pb2_grpc.ReleaseServiceStub(channel)
        self.pipelines = pipelines_pb2_grpc.ReleasePipelineServiceStub(channel)
        self.channel = channel
        self.db = db


def deploy(stage_id: str, environment: str, *after: str) -> pipelines_pb2.PipelineStage:
    return pipelines_pb2.PipelineStage(
        id=stage_id,
        depends_on=list(after),
        deploy=pipelines_pb2.DeployStageConfig(environment=environment),
    )


def plan(
    stage_id: str, environment: str, *after: str, auto_approve: bool = False
) -> pipelines_pb2.PipelineStage:
    return pipelines_pb2.PipelineStage(
        id=stage_id,
        depends_on=list(after),
        plan=pipelines_pb2.PlanStageConfig(environment=environment, auto_approve=auto_approve),
    )


def wait(stage_id: str, seconds: int, *after: str) -> pipelines_pb2.PipelineStage:
    return pipelines_pb2.PipelineStage(
        id=stage_id,
        depends_on=list(after),
        wait=pipelines_pb2.WaitStageConfig(duration_seconds=seconds),
    )


STANDARD = [
    deploy("deploy-staging", "staging"),
    plan("plan-production", "production", "deploy-staging"),
    deploy("deploy-production", "production", "plan-production"),
]


async def configure_destinations(db: Database, world: World, **config: Any) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Destination)
            .where(Destination.organisation_id == world.org_id)
            .values(config={**FAST, **config})
        )


async def create_artifact(db: Database, world: World, *, branch: str = "main") -> str:
    async with db.transaction() as uow:
        artifact = Artifact(
            project_id=world.project_id,
            slug=f"{world.project_name}-{new_id()[:8]}",
            commit_sha="a1b2c3d4" * 5,
            branch=branch,
            commit_message="Add the thing",
            title="Add the thing",
        )
        uow.session.add(artifact)
        await uow.session.flush()
        return artifact.id


async def create_pipeline(
    stubs: Stubs, world: World, stages: list[pipelines_pb2.PipelineStage] | None = None
) -> None:
    await stubs.pipelines.CreateReleasePipeline(
        pipelines_pb2.CreateReleasePipelineRequest(
            project=world.project_msg(),
            name="default",
            stages=STANDARD if stages is None else stages,
        ),
        metadata=world.auth("alice"),
    )


async def release(stubs: Stubs, world: World, author: str = "bob", **fields: Any) -> str:
    artifact_id = await create_artifact(stubs.db, world)
    fields.setdefault("use_pipeline", True)
    response = await stubs.releases.Release(
        releases_pb2.ReleaseRequest(artifact_id=artifact_id, **fields),
        metadata=world.auth(author),
        timeout=RPC_TIMEOUT,
    )
    return response.intents[0].release_intent_id


async def intent_state(
    stubs: Stubs, world: Caller, intent_id: str, user: str = "alice"
) -> releases_pb2.ReleaseIntentState:
    response = await stubs.releases.GetReleaseIntentStates(
        releases_pb2.GetReleaseIntentStatesRequest(
            organisation=world.org_name, project=world.project_name, include_completed=True
        ),
        metadata=world.auth(user),
        timeout=RPC_TIMEOUT,
    )
    return next(i for i in response.release_intents if i.release_intent_id == intent_id)


def stage_of(
    state: releases_pb2.ReleaseIntentState, stage_id: str
) -> releases_pb2.PipelineStageState:
    return next(s for s in state.stages if s.stage_id == stage_id)


async def wait_for(
    stubs: Stubs,
    world: Caller,
    intent_id: str,
    predicate: Callable[[releases_pb2.ReleaseIntentState], bool],
    within: float = 60.0,
) -> releases_pb2.ReleaseIntentState:
    """The intent's state once `predicate` holds (`within` only bounds a hung test)."""

    async def reached() -> releases_pb2.ReleaseIntentState:
        state = await intent_state(stubs, world, intent_id)
        assert predicate(state), f"intent not in the expected state yet:\n{state}"
        return state

    return await eventually(reached, within, what=f"intent {intent_id} reaching the state")


async def finished_status(db: Database, intent_id: str) -> str:
    """The intent's status once it left ACTIVE (the wire has no intent status)."""

    async def finished() -> str | None:
        async with db.read() as session:
            status = await session.scalar(
                select(ReleaseIntent.status).where(ReleaseIntent.id == intent_id)
            )
        return None if status == "ACTIVE" else str(status)

    return await eventually(finished, 60, what=f"intent {intent_id} leaving ACTIVE")


def awaiting_plan(stage_id: str) -> Callable[[releases_pb2.ReleaseIntentState], bool]:
    def check(state: releases_pb2.ReleaseIntentState) -> bool:
        stage = stage_of(state, stage_id)
        return stage.status == ACTIVE and stage.approval_status == "AWAITINGAPPROVAL"

    return check


def stage_is(stage_id: str, status: int) -> Callable[[releases_pb2.ReleaseIntentState], bool]:
    return lambda state: stage_of(state, stage_id).status == status


async def intent_events(db: Database, intent_id: str) -> list[tuple[str, str, dict[str, str]]]:
    """(resource_type, action, metadata) of the events about an intent, its stages and steps."""
    async with db.read() as session:
        rows = (await session.scalars(select(OrgEvent).order_by(OrgEvent.sequence))).all()
    return [
        (e.resource_type, e.action, dict(e.event_metadata))
        for e in rows
        if e.resource_id == intent_id or e.event_metadata.get("intent_id") == intent_id
    ]
