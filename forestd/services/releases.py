"""forest.v1 ReleaseService: starting releases, reading intents, deciding plan stages.

- `Release`: the artifact (by id) names the project; the caller must be a member of its
  organisation. With `use_pipeline` one intent walks the project's enabled pipeline
  (FAILED_PRECONDITION when there is none, or several); without it, a direct release gets one
  QUEUED row per named destination and per destination of each named environment (never
  gated, contract §3); `force` cancels rows still queued on those destinations. The intent
  records the caller and the artifact's commit sha, branch and message. Event
  `release`/`created`.
- `GetReleaseIntentStates`: Forest's shape (contract §1.2, §6): newest first, at most 50,
  only intents with live work unless `include_completed`; an awaiting plan is PLAN + ACTIVE +
  approval_status "AWAITINGAPPROVAL".
- `ApprovePlanStage` / `RejectPlanStage`: one decision by a member of the intent's
  organisation (or the service account), recorded with who and why (Forest drops both);
  rejection fails the stage "plan rejected: <reason>", cancels the rest and fails the intent.
  Both publish `forest.intent.evaluate`. In `forest` compat mode (forestd/compat.py) neither
  who decided nor the reason is kept, in the stage or its event, as in Forest (contract §6).
- `GetPlanOutput`: every destination's plan, and the approval status (or stage status).
- `GetReleasesByActor`: the caller's own intents, newest first, paged.
- `WaitRelease`: the intent's current stages and steps, then their changes (including a plan
  starting to await approval, which Forest's stream misses) until the intent finishes. It
  re-reads every WAIT_POLL_SECONDS, so a state shorter than that may be coalesced.
- `AnnotateRelease`, `GetArtifactBySlug`, `GetArtifactsByProject`: in `artifacts.py`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from forest.v1 import releases_pb2, releases_pb2_grpc

from ..auth import Actor, current_actor
from ..authz import organisation_by_name, require_member
from ..bus import INTENT_EVALUATE
from ..context import ServiceContext
from ..coordinator import AWAITING, RELEASE_QUEUED, IntentWalk, record_step_event
from ..db.models import (
    Artifact,
    Destination,
    Organisation,
    PipelineStageState,
    Project,
    ReleaseIntent,
    ReleasePipeline,
    ReleaseState,
)
from ..db.types import rfc3339, utcnow
from ..errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    parse_uuid,
    rpc,
)
from ..uow import UnitOfWork
from .artifacts import ArtifactRpcs
from .events import stream_rpc

SERVICE_NAME = releases_pb2.DESCRIPTOR.services_by_name["ReleaseService"].full_name
MAX_INTENTS = 50
MAX_PAGE = 100
MAX_REASON = 2000
# WaitRelease re-reads the intent this often.
WAIT_POLL_SECONDS = 0.25

STAGE_TYPE = {
    "deploy": releases_pb2.PIPELINE_RUN_STAGE_TYPE_DEPLOY,
    "wait": releases_pb2.PIPELINE_RUN_STAGE_TYPE_WAIT,
    "plan": releases_pb2.PIPELINE_RUN_STAGE_TYPE_PLAN,
}
STAGE_STATUS = {
    "PENDING": releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING,
    "ACTIVE": releases_pb2.PIPELINE_RUN_STAGE_STATUS_ACTIVE,
    "SUCCEEDED": releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED,
    "FAILED": releases_pb2.PIPELINE_RUN_STAGE_STATUS_FAILED,
    "CANCELLED": releases_pb2.PIPELINE_RUN_STAGE_STATUS_CANCELLED,
}


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    releases_pb2_grpc.add_ReleaseServiceServicer_to_server(ReleaseService(ctx), server)
    return [SERVICE_NAME]


# ---- messages -------------------------------------------------------------------------


def stage_state(
    stage: PipelineStageState, steps: Sequence[ReleaseState]
) -> releases_pb2.PipelineStageState:
    message = releases_pb2.PipelineStageState(
        stage_id=stage.stage_id,
        depends_on=list(stage.depends_on or []),
        stage_type=STAGE_TYPE[stage.stage_type],
        status=STAGE_STATUS.get(stage.status, releases_pb2.PIPELINE_RUN_STAGE_STATUS_UNSPECIFIED),
        release_ids=[s.id for s in steps if s.stage_id == stage.stage_id],
    )
    for name in ("queued_at", "started_at", "completed_at", "wait_until"):
        value = getattr(stage, name)
        if value is not None:
            setattr(message, name, rfc3339(value))
    if stage.error_message is not None:
        message.error_message = stage.error_message
    if stage.stage_type in ("deploy", "plan") and stage.environment is not None:
        message.environment = stage.environment
    if stage.stage_type == "wait" and stage.duration_seconds is not None:
        message.duration_seconds = stage.duration_seconds
    if stage.stage_type == "plan":
        message.auto_approve = bool(stage.auto_approve)
        if stage.approval_status is not None:
            message.approval_status = stage.approval_status
    return message


def step_state(step: ReleaseState) -> releases_pb2.ReleaseStepState:
    message = releases_pb2.ReleaseStepState(
        release_id=step.id,
        destination_name=step.destination_name,
        environment=step.environment,
        status=step.status,
    )
    if step.stage_id is not None:
        message.stage_id = step.stage_id
    for name in ("queued_at", "assigned_at", "started_at", "completed_at"):
        value = getattr(step, name)
        if value is not None:
            setattr(message, name, rfc3339(value))
    if step.error_message is not None:
        message.error_message = step.error_message
    return message


def stage_update(stage: PipelineStageState) -> releases_pb2.PipelineStageUpdate:
    """A stage as WaitRelease's PipelineStageUpdate (type and status as strings)."""
    update = releases_pb2.PipelineStageUpdate(
        stage_id=stage.stage_id, stage_type=stage.stage_type, status=stage.status
    )
    for name in ("queued_at", "started_at", "completed_at", "wait_until"):
        value = getattr(stage, name)
        if value is not None:
            setattr(update, name, rfc3339(value))
    if stage.error_message is not None:
        update.error_message = stage.error_message
    if stage.approval_status is not None:
        update.approval_status = stage.approval_status
    return update


# ---- the service ----------------------------------------------------------------------


class ReleaseService(ArtifactRpcs, releases_pb2_grpc.ReleaseServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db
        self._record_decider = ctx.compat.record_plan_decider

    # ---- Release ------------------------------------------------------------------------

    @rpc
    async def Release(
        self, request: releases_pb2.ReleaseRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.ReleaseResponse:
        artifact_id = parse_uuid(request.artifact_id, "artifact_id")
        actor = current_actor()
        async with self._db.transaction() as uow:
            session = uow.session
            artifact = await session.get(Artifact, artifact_id)
            if artifact is None:
                raise NotFound(f"artifact {artifact_id} does not exist")
            project = await session.get_one(Project, artifact.project_id)
            org = await session.get_one(Organisation, project.organisation_id)
            await require_member(session, actor, org)
            intent = ReleaseIntent(
                project_id=project.id,
                artifact_id=artifact.id,
                actor_id=actor.id,
                actor_type="user" if actor.is_user else "service",
                branch=artifact.branch,
                commit_sha=artifact.commit_sha,
                commit_message=artifact.commit_message,
                status="ACTIVE",
                created_at=utcnow(),
            )
            if request.use_pipeline:
                # destinations / environments are ignored: the pipeline says where to go.
                pipeline = await _enabled_pipeline(session, org, project)
                intent.pipeline_id = pipeline.id
                session.add(intent)
                await session.flush()
                _add_stages(session, intent, pipeline)
                uow.record_event(
                    org.name,
                    "release",
                    "created",
                    intent.id,
                    project=project.name,
                    metadata={"destinations": "", "intent_id": intent.id},
                )
                uow.publish_after_commit(INTENT_EVALUATE, intent.id.encode())
                return releases_pb2.ReleaseResponse(
                    intents=[releases_pb2.ReleaseIntent(release_intent_id=intent.id)]
                )
            destinations = await _direct_destinations(session, org, request)
            session.add(intent)
            await session.flush()
            if request.force:
                await _cancel_queued(uow, org, destinations)
            response = releases_pb2.ReleaseResponse()
            for destination in destinations:
                step = ReleaseState(
                    release_intent_id=intent.id,
                    destination_id=destination.id,
                    destination_name=destination.name,
                    environment=destination.environment,
                    mode="deploy",
                    status="QUEUED",
                    queued_at=intent.created_at,
                )
                session.add(step)
                await session.flush()
                uow.publish_after_commit(RELEASE_QUEUED, step.id.encode())
                response.intents.add(
                    release_intent_id=intent.id,
                    destination=destination.name,
                    environment=destination.environment,
                )
            uow.record_event(
                org.name,
                "release",
                "created",
                intent.id,
                project=project.name,
                metadata={
                    "destinations": ",".join(d.name for d in destinations),
                    "intent_id": intent.id,
                },
            )
            return response

    # ---- reading ------------------------------------------------------------------------

    @rpc
    async def GetReleaseIntentStates(
        self,
        request: releases_pb2.GetReleaseIntentStatesRequest,
        context: grpc.aio.ServicerContext,
    ) -> releases_pb2.GetReleaseIntentStatesResponse:
        async with self._db.read() as session:
            org = await organisation_by_name(session, request.organisation)
            await require_member(session, current_actor(), org)
            query = (
                select(ReleaseIntent, Project.name)
                .join(Project, Project.id == ReleaseIntent.project_id)
                .where(Project.organisation_id == org.id)
            )
            if request.HasField("project"):
                project_id = await session.scalar(
                    select(Project.id).where(
                        Project.organisation_id == org.id, Project.name == request.project
                    )
                )
                if project_id is None:
                    raise NotFound(f"project {org.name}/{request.project} does not exist")
                query = query.where(ReleaseIntent.project_id == project_id)
            if not request.include_completed:
                query = query.where(ReleaseIntent.status == "ACTIVE")
            rows = (
                await session.execute(
                    query.order_by(ReleaseIntent.created_at.desc(), ReleaseIntent.id.desc()).limit(
                        MAX_INTENTS
                    )
                )
            ).all()
            ids = [intent.id for intent, _ in rows]
            stages, steps = await _stages_and_steps(session, ids)
            response = releases_pb2.GetReleaseIntentStatesResponse()
            for intent, project_name in rows:
                own_steps = steps[intent.id]
                response.release_intents.add(
                    release_intent_id=intent.id,
                    artifact_id=intent.artifact_id,
                    project=project_name,
                    created_at=rfc3339(intent.created_at),
                    stages=[stage_state(s, own_steps) for s in stages[intent.id]],
                    steps=[step_state(s) for s in own_steps],
                )
            return response

    @rpc
    async def GetReleasesByActor(
        self, request: releases_pb2.GetReleasesByActorRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.GetReleasesByActorResponse:
        actor = current_actor()
        actor_id = parse_uuid(request.actor_id, "actor_id")
        if actor_id != actor.id:
            raise PermissionDenied("you can only list your own releases")
        size = request.page_size if request.page_size > 0 else 20
        size = min(size, MAX_PAGE)
        try:
            offset = int(request.page_token or "0")
        except ValueError:
            raise InvalidArgument(f"page_token {request.page_token!r} is not valid") from None
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(ReleaseIntent, Project.name, Organisation.name)
                    .join(Project, Project.id == ReleaseIntent.project_id)
                    .join(Organisation, Organisation.id == Project.organisation_id)
                    .where(ReleaseIntent.actor_id == actor.id)
                    .order_by(ReleaseIntent.created_at.desc(), ReleaseIntent.id.desc())
                    .offset(max(0, offset))
                    .limit(size + 1)
                )
            ).all()
            page = rows[:size]
            _, steps = await _stages_and_steps(session, [i.id for i, _, _ in page])
            response = releases_pb2.GetReleasesByActorResponse()
            if len(rows) > size:
                response.next_page_token = str(offset + size)
            for intent, project_name, org_name in page:
                response.releases.add(
                    release_intent_id=intent.id,
                    artifact_id=intent.artifact_id,
                    project=releases_pb2.Project(organisation=org_name, project=project_name),
                    destinations=[
                        releases_pb2.ReleaseDestinationStatus(
                            destination=s.destination_name,
                            environment=s.environment,
                            status=s.status,
                        )
                        for s in steps[intent.id]
                    ],
                    created_at=rfc3339(intent.created_at),
                )
            return response

    @stream_rpc
    async def WaitRelease(
        self, request: releases_pb2.WaitReleaseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[releases_pb2.WaitReleaseEvent]:
        intent_id = parse_uuid(request.release_intent_id, "release_intent_id")
        async with self._db.read() as session:
            intent = await session.get(ReleaseIntent, intent_id)
            if intent is None:
                raise NotFound(f"release intent {intent_id} does not exist")
            await _require_intent_member(session, current_actor(), intent)
        shown_stages: dict[str, tuple[str, str | None]] = {}
        shown_steps: dict[str, str] = {}
        while True:
            async with self._db.read() as session:
                status = await session.scalar(
                    select(ReleaseIntent.status).where(ReleaseIntent.id == intent_id)
                )
                stages, steps = await _stages_and_steps(session, [intent_id])
            for stage in stages[intent_id]:
                key = (stage.status, stage.approval_status)
                if shown_stages.get(stage.stage_id) != key:
                    shown_stages[stage.stage_id] = key
                    yield releases_pb2.WaitReleaseEvent(stage_update=stage_update(stage))
            for step in steps[intent_id]:
                if shown_steps.get(step.id) != step.status:
                    shown_steps[step.id] = step.status
                    yield releases_pb2.WaitReleaseEvent(
                        status_update=releases_pb2.ReleaseStatusUpdate(
                            destination=step.destination_name, status=step.status
                        )
                    )
            if status != "ACTIVE":
                return
            await asyncio.sleep(WAIT_POLL_SECONDS)

    # ---- plan stages --------------------------------------------------------------------

    @rpc
    async def ApprovePlanStage(
        self, request: releases_pb2.ApprovePlanStageRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.ApprovePlanStageResponse:
        actor = current_actor()
        async with self._db.transaction() as uow:
            walk, stage = await _awaiting_plan(
                uow, actor, request.release_intent_id, request.stage_id
            )
            stage.approval_status = "APPROVED"
            details = self._decision(stage, actor, walk, None)
            walk.set_stage(stage, "SUCCEEDED", details=details)
            await walk.advance()
            uow.publish_after_commit(INTENT_EVALUATE, walk.intent.id.encode())
        return releases_pb2.ApprovePlanStageResponse()

    @rpc
    async def RejectPlanStage(
        self, request: releases_pb2.RejectPlanStageRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.RejectPlanStageResponse:
        actor = current_actor()
        reason = request.reason.strip() if request.HasField("reason") else ""
        if len(reason) > MAX_REASON:
            raise InvalidArgument(f"reason is longer than {MAX_REASON} characters")
        async with self._db.transaction() as uow:
            walk, stage = await _awaiting_plan(
                uow, actor, request.release_intent_id, request.stage_id
            )
            stage.approval_status = "REJECTED"
            details = self._decision(stage, actor, walk, reason)
            kept = details.get("reason")
            walk.fail(stage, f"plan rejected: {kept}" if kept else "plan rejected", details)
            uow.publish_after_commit(INTENT_EVALUATE, walk.intent.id.encode())
        return releases_pb2.RejectPlanStageResponse()

    def _decision(
        self, stage: PipelineStageState, actor: Actor, walk: IntentWalk, reason: str | None
    ) -> dict[str, str]:
        """Record who decided the plan (and why, for a rejection) on the stage; return the
        details for its event. Under Forest's rules nothing is kept (contract §6)."""
        if not self._record_decider:
            return {}
        stage.plan_decided_by = actor.id
        stage.plan_decided_at = walk.now
        details = {"decided_by": actor.id, "decided_by_username": actor.username}
        if reason is not None:
            stage.plan_decision_reason = reason or None
            details["reason"] = reason
        return details

    @rpc
    async def GetPlanOutput(
        self, request: releases_pb2.GetPlanOutputRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.GetPlanOutputResponse:
        intent_id = parse_uuid(request.release_intent_id, "release_intent_id")
        if not request.stage_id:
            raise InvalidArgument("stage_id is required")
        async with self._db.read() as session:
            intent = await session.get(ReleaseIntent, intent_id)
            if intent is None:
                raise NotFound(f"release intent {intent_id} does not exist")
            await _require_intent_member(session, current_actor(), intent)
            stage = await session.scalar(
                select(PipelineStageState).where(
                    PipelineStageState.release_intent_id == intent_id,
                    PipelineStageState.stage_id == request.stage_id,
                )
            )
            if stage is None:
                raise NotFound(f"release intent {intent_id} has no stage {request.stage_id!r}")
            if stage.stage_type != "plan":
                raise FailedPrecondition(
                    f"stage {stage.stage_id!r} is a {stage.stage_type} stage, not a plan stage"
                )
            rows = (
                await session.scalars(
                    select(ReleaseState)
                    .where(
                        ReleaseState.release_intent_id == intent_id,
                        ReleaseState.stage_id == stage.stage_id,
                    )
                    .order_by(ReleaseState.destination_name)
                )
            ).all()
            response = releases_pb2.GetPlanOutputResponse(
                status=stage.approval_status or stage.status.upper()
            )
            for row in rows:
                response.outputs.add(
                    destination_id=row.destination_id,
                    destination_name=row.destination_name,
                    plan_output=row.plan_output or "",
                    status=row.status,
                )
            response.plan_output = next((r.plan_output for r in rows if r.plan_output), "")
            return response


# ---- helpers --------------------------------------------------------------------------


async def _enabled_pipeline(
    session: AsyncSession, org: Organisation, project: Project
) -> ReleasePipeline:
    pipelines = (
        await session.scalars(
            select(ReleasePipeline).where(
                ReleasePipeline.project_id == project.id, ReleasePipeline.enabled.is_(True)
            )
        )
    ).all()
    if not pipelines:
        raise FailedPrecondition(
            f"project {org.name}/{project.name} has no enabled release pipeline"
        )
    if len(pipelines) > 1:
        names = ", ".join(sorted(p.name for p in pipelines))
        raise FailedPrecondition(
            f"project {org.name}/{project.name} has several enabled pipelines ({names}): "
            "disable all but one"
        )
    return pipelines[0]


def _add_stages(session: AsyncSession, intent: ReleaseIntent, pipeline: ReleasePipeline) -> None:
    for position, data in enumerate(pipeline.stages or []):
        kind = next(k for k in ("deploy", "wait", "plan") if k in data)
        config = data[kind]
        session.add(
            PipelineStageState(
                release_intent_id=intent.id,
                stage_id=str(data["id"]),
                position=position,
                stage_type=kind,
                depends_on=list(data.get("depends_on", [])),
                environment=config.get("environment"),
                duration_seconds=config.get("duration_seconds") if kind == "wait" else None,
                auto_approve=bool(config.get("auto_approve")) if kind == "plan" else None,
                status="PENDING",
                queued_at=intent.created_at,
            )
        )


async def _direct_destinations(
    session: AsyncSession, org: Organisation, request: releases_pb2.ReleaseRequest
) -> list[Destination]:
    if not request.destinations and not request.environments:
        raise InvalidArgument("name destinations or environments to release to, or use_pipeline")
    chosen: dict[str, Destination] = {}
    for name in request.destinations:
        destination = await session.scalar(
            select(Destination).where(
                Destination.organisation_id == org.id, Destination.name == name
            )
        )
        if destination is None:
            raise NotFound(f"destination {name!r} does not exist in organisation {org.name!r}")
        chosen[destination.id] = destination
    for environment in request.environments:
        found = (
            await session.scalars(
                select(Destination)
                .where(
                    Destination.organisation_id == org.id, Destination.environment == environment
                )
                .order_by(Destination.name)
            )
        ).all()
        if not found:
            raise FailedPrecondition(
                f"environment {environment!r} has no destination in organisation {org.name!r}"
            )
        chosen.update({d.id: d for d in found})
    return list(chosen.values())


async def _cancel_queued(
    uow: UnitOfWork, org: Organisation, destinations: Sequence[Destination]
) -> None:
    """`force`: releases still queued on these destinations are cancelled."""
    queued = (
        await uow.session.execute(
            select(ReleaseState, Project.name)
            .join(ReleaseIntent, ReleaseIntent.id == ReleaseState.release_intent_id)
            .join(Project, Project.id == ReleaseIntent.project_id)
            .where(
                ReleaseState.destination_id.in_([d.id for d in destinations]),
                ReleaseState.status == "QUEUED",
            )
        )
    ).all()
    now = utcnow()
    for step, project_name in queued:
        step.status = "CANCELLED"
        step.completed_at = now
        step.error_message = "cancelled by a forced release"
        record_step_event(uow, org.name, project_name, step)
        uow.publish_after_commit(INTENT_EVALUATE, step.release_intent_id.encode())


async def _stages_and_steps(
    session: AsyncSession, intent_ids: Sequence[str]
) -> tuple[dict[str, list[PipelineStageState]], dict[str, list[ReleaseState]]]:
    stages: dict[str, list[PipelineStageState]] = defaultdict(list)
    steps: dict[str, list[ReleaseState]] = defaultdict(list)
    if not intent_ids:
        return stages, steps
    for stage in await session.scalars(
        select(PipelineStageState)
        .where(PipelineStageState.release_intent_id.in_(intent_ids))
        .order_by(PipelineStageState.position)
    ):
        stages[stage.release_intent_id].append(stage)
    # plan_output can be megabytes: never loaded here.
    for step in await session.scalars(
        select(ReleaseState)
        .where(ReleaseState.release_intent_id.in_(intent_ids))
        .order_by(ReleaseState.queued_at, ReleaseState.id)
        .options(defer(ReleaseState.plan_output))
    ):
        steps[step.release_intent_id].append(step)
    return stages, steps


async def _require_intent_member(
    session: AsyncSession, actor: Actor, intent: ReleaseIntent
) -> None:
    project = await session.get_one(Project, intent.project_id)
    org = await session.get_one(Organisation, project.organisation_id)
    await require_member(session, actor, org)


async def _awaiting_plan(
    uow: UnitOfWork, actor: Actor, raw_intent_id: str, stage_id: str
) -> tuple[IntentWalk, PipelineStageState]:
    """The intent (row-locked) and its plan stage awaiting a decision, or a clear refusal."""
    intent_id = parse_uuid(raw_intent_id, "release_intent_id")
    if not stage_id:
        raise InvalidArgument("stage_id is required")
    walk = await IntentWalk.load(uow, intent_id)
    if walk is None:
        raise NotFound(f"release intent {intent_id} does not exist")
    await require_member(uow.session, actor, walk.organisation)
    stage = walk.stage(stage_id)
    if stage is None:
        raise NotFound(f"release intent {intent_id} has no stage {stage_id!r}")
    if stage.stage_type != "plan":
        raise FailedPrecondition(
            f"stage {stage_id!r} is a {stage.stage_type} stage, not a plan stage"
        )
    if walk.intent.status != "ACTIVE":
        raise FailedPrecondition(f"release intent {intent_id} is {walk.intent.status.lower()}")
    if stage.approval_status != AWAITING:
        if stage.approval_status in ("APPROVED", "REJECTED"):
            raise FailedPrecondition(
                f"the plan of stage {stage_id!r} was already {stage.approval_status.lower()}"
            )
        raise FailedPrecondition(
            f"stage {stage_id!r} is not awaiting plan approval (it is {stage.status.lower()})"
        )
    return walk, stage
