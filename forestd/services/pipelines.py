"""forest.v1 ReleasePipelineService: a project's pipelines, DAGs of deploy / wait / plan stages.

A pipeline is validated before it is stored (INVALID_ARGUMENT with a message naming the stage):
unique non-empty stage ids, `depends_on` naming other existing stages (no self, no repeats), no
cycles, exactly one config per stage, an environment on deploy and plan stages, a non-negative
wait. Stages are stored in `release_pipelines.stages` as JSON (`stage_json` / `stage_message`),
which the coordinator reads back with `stages_from_json`. Any member of the organisation may
manage pipelines (as in Forest); every change writes a `release_pipeline` org event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import release_pipelines_pb2 as pipelines_pb2
from forest.v1 import release_pipelines_pb2_grpc as pipelines_pb2_grpc

from ..auth import current_actor
from ..authz import member_project
from ..context import ServiceContext
from ..db.models import Organisation, Project, ReleasePipeline
from ..db.types import rfc3339, utcnow
from ..errors import AlreadyExists, InvalidArgument, NotFound, rpc
from ..uow import UnitOfWork

SERVICE_NAME = pipelines_pb2.DESCRIPTOR.services_by_name["ReleasePipelineService"].full_name
MAX_STAGES = 100
MAX_ID_LENGTH = 200


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pipelines_pb2_grpc.add_ReleasePipelineServiceServicer_to_server(
        ReleasePipelineService(ctx), server
    )
    return [SERVICE_NAME]


# ---- stages <-> JSON ----------------------------------------------------------------------


def stage_json(stage: pipelines_pb2.PipelineStage) -> dict[str, Any]:
    data: dict[str, Any] = {"id": stage.id, "depends_on": list(stage.depends_on)}
    kind = stage.WhichOneof("config")
    if kind == "deploy":
        data["deploy"] = {"environment": stage.deploy.environment}
    elif kind == "wait":
        data["wait"] = {"duration_seconds": int(stage.wait.duration_seconds)}
    elif kind == "plan":
        data["plan"] = {
            "environment": stage.plan.environment,
            "auto_approve": bool(stage.plan.auto_approve),
        }
    return data


def stage_message(data: dict[str, Any]) -> pipelines_pb2.PipelineStage:
    stage = pipelines_pb2.PipelineStage(
        id=str(data["id"]), depends_on=[str(d) for d in data.get("depends_on", [])]
    )
    if "deploy" in data:
        stage.deploy.environment = str(data["deploy"]["environment"])
    elif "wait" in data:
        stage.wait.duration_seconds = int(data["wait"]["duration_seconds"])
    elif "plan" in data:
        stage.plan.environment = str(data["plan"]["environment"])
        stage.plan.auto_approve = bool(data["plan"].get("auto_approve", False))
    return stage


def stages_from_json(stages: Iterable[dict[str, Any]]) -> list[pipelines_pb2.PipelineStage]:
    return [stage_message(s) for s in stages]


def pipeline_message(row: ReleasePipeline) -> pipelines_pb2.ReleasePipeline:
    return pipelines_pb2.ReleasePipeline(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        stages=stages_from_json(row.stages or []),
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


# ---- validation ---------------------------------------------------------------------------


def validate_stages(stages: Sequence[pipelines_pb2.PipelineStage]) -> None:
    """Refuse a malformed DAG with INVALID_ARGUMENT and a message naming what is wrong."""
    if len(stages) > MAX_STAGES:
        raise InvalidArgument(f"a pipeline has at most {MAX_STAGES} stages, got {len(stages)}")
    ids: set[str] = set()
    for position, stage in enumerate(stages, start=1):
        if not stage.id.strip():
            raise InvalidArgument(f"stage #{position} has no id")
        if len(stage.id) > MAX_ID_LENGTH:
            raise InvalidArgument(f"stage id {stage.id[:40]!r}... is longer than {MAX_ID_LENGTH}")
        if stage.id in ids:
            raise InvalidArgument(f"stage id {stage.id!r} is used twice")
        ids.add(stage.id)
        _validate_config(stage)
    for stage in stages:
        seen: set[str] = set()
        for dependency in stage.depends_on:
            if dependency == stage.id:
                raise InvalidArgument(f"stage {stage.id!r} depends on itself")
            if dependency not in ids:
                raise InvalidArgument(
                    f"stage {stage.id!r} depends on {dependency!r}, which is not a stage of "
                    "this pipeline"
                )
            if dependency in seen:
                raise InvalidArgument(
                    f"stage {stage.id!r} lists {dependency!r} twice in depends_on"
                )
            seen.add(dependency)
    cycle = _cycle(stages)
    if cycle:
        raise InvalidArgument("the stages form a cycle: " + " -> ".join(cycle))


def _validate_config(stage: pipelines_pb2.PipelineStage) -> None:
    kind = stage.WhichOneof("config")
    if kind is None:
        raise InvalidArgument(f"stage {stage.id!r} needs exactly one of deploy, wait or plan")
    if kind == "deploy" and not stage.deploy.environment.strip():
        raise InvalidArgument(f"deploy stage {stage.id!r} needs an environment")
    if kind == "plan" and not stage.plan.environment.strip():
        raise InvalidArgument(f"plan stage {stage.id!r} needs an environment")
    if kind == "wait" and stage.wait.duration_seconds < 0:
        raise InvalidArgument(
            f"wait stage {stage.id!r} has a negative duration ({stage.wait.duration_seconds}s)"
        )


def _cycle(stages: Sequence[pipelines_pb2.PipelineStage]) -> list[str]:
    """One cycle of the dependency graph as a closed path of stage ids, or [] when acyclic."""
    depends = {s.id: list(s.depends_on) for s in stages}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in depends[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for stage in stages:
        if stage.id not in state:
            found = visit(stage.id)
            if found:
                return found
    return []


def _pipeline_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument("name is required")
    if len(name) > 200:
        raise InvalidArgument("name is longer than 200 characters")
    return name


# ---- the service --------------------------------------------------------------------------


class ReleasePipelineService(pipelines_pb2_grpc.ReleasePipelineServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db

    @rpc
    async def CreateReleasePipeline(
        self,
        request: pipelines_pb2.CreateReleasePipelineRequest,
        context: grpc.aio.ServicerContext,
    ) -> pipelines_pb2.CreateReleasePipelineResponse:
        name = _pipeline_name(request.name)
        validate_stages(request.stages)
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            if await _find(uow.session, project, name) is not None:
                raise AlreadyExists(
                    f"pipeline {name!r} already exists in {org.name}/{project.name}"
                )
            row = ReleasePipeline(
                project_id=project.id,
                name=name,
                enabled=True,
                stages=[stage_json(s) for s in request.stages],
            )
            uow.session.add(row)
            await uow.session.flush()
            _event(uow, org, project, "created", row.id, name)
            return pipelines_pb2.CreateReleasePipelineResponse(pipeline=pipeline_message(row))

    @rpc
    async def UpdateReleasePipeline(
        self,
        request: pipelines_pb2.UpdateReleasePipelineRequest,
        context: grpc.aio.ServicerContext,
    ) -> pipelines_pb2.UpdateReleasePipelineResponse:
        name = _pipeline_name(request.name)
        if request.update_stages:
            validate_stages(request.stages)
        elif request.stages:
            raise InvalidArgument("stages were given without update_stages: set it to replace them")
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            row = await _find(uow.session, project, name)
            if row is None:
                raise NotFound(f"pipeline {name!r} does not exist in {org.name}/{project.name}")
            if request.HasField("enabled"):
                row.enabled = request.enabled
            if request.update_stages:
                row.stages = [stage_json(s) for s in request.stages]
            row.updated_at = utcnow()
            await uow.session.flush()
            _event(uow, org, project, "updated", row.id, name)
            return pipelines_pb2.UpdateReleasePipelineResponse(pipeline=pipeline_message(row))

    @rpc
    async def DeleteReleasePipeline(
        self,
        request: pipelines_pb2.DeleteReleasePipelineRequest,
        context: grpc.aio.ServicerContext,
    ) -> pipelines_pb2.DeleteReleasePipelineResponse:
        name = _pipeline_name(request.name)
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            row = await _find(uow.session, project, name)
            if row is None:
                raise NotFound(f"pipeline {name!r} does not exist in {org.name}/{project.name}")
            await uow.session.delete(row)
            _event(uow, org, project, "deleted", name, name)
            return pipelines_pb2.DeleteReleasePipelineResponse()

    @rpc
    async def ListReleasePipelines(
        self,
        request: pipelines_pb2.ListReleasePipelinesRequest,
        context: grpc.aio.ServicerContext,
    ) -> pipelines_pb2.ListReleasePipelinesResponse:
        async with self._db.read() as session:
            _, project = await member_project(session, current_actor(), request.project)
            rows = (
                await session.scalars(
                    select(ReleasePipeline)
                    .where(ReleasePipeline.project_id == project.id)
                    .order_by(ReleasePipeline.created_at, ReleasePipeline.name)
                )
            ).all()
            return pipelines_pb2.ListReleasePipelinesResponse(
                pipelines=[pipeline_message(r) for r in rows]
            )


async def _find(session: AsyncSession, project: Project, name: str) -> ReleasePipeline | None:
    return await session.scalar(
        select(ReleasePipeline).where(
            ReleasePipeline.project_id == project.id, ReleasePipeline.name == name
        )
    )


def _event(
    uow: UnitOfWork, org: Organisation, project: Project, action: str, resource: str, name: str
) -> None:
    uow.record_event(
        org.name,
        "release_pipeline",
        action,
        resource,
        project=project.name,
        metadata={"name": name},
    )
