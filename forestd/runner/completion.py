"""Applying a runner's CompleteReleaseRequest: the one path every runner's result takes.

The in-process runner calls `apply_completion` directly; a remote runner's CompleteRelease
RPC would call the same function. The release row is found by its per-release token (only its
SHA-256 is stored), must still be running, and gets its outcome, error and (plan mode, when
non-empty) plan output; its `release`/`status_changed` event is written in the same
transaction, and `forest.intent.evaluate` tells the coordinator to move the pipeline on.
"""

from __future__ import annotations

from sqlalchemy import select

from forest.v1 import runner_pb2

from ..auth import hash_token
from ..bus import INTENT_EVALUATE
from ..coordinator import record_step_event
from ..db.models import Organisation, Project, ReleaseIntent, ReleaseState
from ..db.types import utcnow
from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..uow import Database

RUNNING_STATES = frozenset({"ASSIGNED", "RUNNING"})
OUTCOME_STATUS = {
    runner_pb2.RELEASE_OUTCOME_SUCCESS: "SUCCEEDED",
    runner_pb2.RELEASE_OUTCOME_FAILURE: "FAILED",
}


async def apply_completion(db: Database, request: runner_pb2.CompleteReleaseRequest) -> str:
    """Record how a release ended; returns the row's new status."""
    status = OUTCOME_STATUS.get(request.outcome)
    if status is None:
        raise InvalidArgument("outcome must be RELEASE_OUTCOME_SUCCESS or RELEASE_OUTCOME_FAILURE")
    if not request.release_token:
        raise InvalidArgument("release_token is required")
    async with db.transaction() as uow:
        step = await uow.session.scalar(
            select(ReleaseState)
            .where(ReleaseState.release_token_hash == hash_token(request.release_token))
            .with_for_update()
        )
        if step is None:
            raise NotFound("no release holds this release token")
        if step.status not in RUNNING_STATES:
            raise FailedPrecondition(f"release {step.id} is already {step.status}")
        now = utcnow()
        step.status = status
        step.completed_at = now
        step.started_at = step.started_at or now
        if request.error_message:
            step.error_message = request.error_message
        if request.HasField("plan_output") and request.plan_output:
            step.plan_output = request.plan_output
        organisation, project = (
            await uow.session.execute(
                select(Organisation.name, Project.name)
                .join(Project, Project.organisation_id == Organisation.id)
                .join(ReleaseIntent, ReleaseIntent.project_id == Project.id)
                .where(ReleaseIntent.id == step.release_intent_id)
            )
        ).one()
        record_step_event(uow, organisation, project, step)
        uow.publish_after_commit(INTENT_EVALUATE, step.release_intent_id.encode())
        return status
