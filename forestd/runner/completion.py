"""Applying a runner's CompleteReleaseRequest: the one path every runner's result takes.

The in-process runner calls `apply_completion` directly; a remote runner's CompleteRelease
RPC would call the same function. The release row is found by its per-release token (only its
SHA-256 is stored), must still be running, and gets its outcome, error and (plan mode, when
non-empty) plan output; its `release`/`status_changed` event is written in the same
transaction, and `forest.intent.evaluate` tells the coordinator to move the pipeline on.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from forest.v1 import runner_pb2

from ..auth import hash_token
from ..bus import INTENT_EVALUATE
from ..coordinator import record_step_event
from ..db.models import Destination, Organisation, Project, ReleaseIntent, ReleaseState
from ..db.types import utcnow
from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..uow import Database
from .destinations import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT_SECONDS

RUNNING_STATES = frozenset({"ASSIGNED", "RUNNING"})
ORPHAN_MARGIN_SECONDS = 60.0
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


async def expire_orphans(db: Database, *, margin_seconds: float = ORPHAN_MARGIN_SECONDS) -> int:
    """Mark TIMED_OUT the releases left RUNNING by a runner that died (forestd killed mid-run).

    A release is orphaned once it has run longer than its destination's `timeout_seconds`
    (default 600; a script is killed then anyway) plus a margin, so a live release on another
    replica is never touched. Returns how many were expired.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=margin_seconds)
    async with db.transaction() as uow:
        rows = (
            await uow.session.execute(
                select(ReleaseState, Destination.config, Organisation.name, Project.name)
                .join(Destination, Destination.id == ReleaseState.destination_id)
                .join(ReleaseIntent, ReleaseIntent.id == ReleaseState.release_intent_id)
                .join(Project, Project.id == ReleaseIntent.project_id)
                .join(Organisation, Organisation.id == Project.organisation_id)
                .where(ReleaseState.status.in_(RUNNING_STATES), ReleaseState.started_at < cutoff)
                .with_for_update(skip_locked=True, of=ReleaseState)
            )
        ).all()
        expired = 0
        for step, config, organisation, project in rows:
            limit = float((config or {}).get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))
            started = step.started_at or step.assigned_at or now
            if (now - started).total_seconds() <= limit + margin_seconds:
                continue
            step.status = "TIMED_OUT"
            step.completed_at = now
            step.error_message = "no result from the runner (forestd stopped while it ran?)"
            record_step_event(uow, organisation, project, step)
            uow.publish_after_commit(INTENT_EVALUATE, step.release_intent_id.encode())
            expired += 1
        return expired
