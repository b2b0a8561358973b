"""The intent coordinator: walks each ACTIVE release intent forward (a server component).

For a pipeline intent, in one transaction holding the intent's row lock:
- an ACTIVE stage finishes: a wait stage SUCCEEDS once `wait_until` passed; a deploy stage
  SUCCEEDS when all its release rows succeeded and FAILS on any failure; a plan stage whose
  rows succeeded SUCCEEDS with `auto_approve`, otherwise it stays ACTIVE with approval_status
  `AWAITINGAPPROVAL` (Forest's shape) and a `stage_changed` event says AWAITING_APPROVAL;
- a PENDING stage whose dependencies all SUCCEEDED starts: a wait stage gets `wait_until`;
  a deploy stage first needs every enabled policy of its environment to pass (soak, branch,
  approvals: `policy_engine.evaluate_environment`) and a plan stage its soak-time policies
  only (contract §6), then gets one QUEUED release row per destination of the environment;
- a FAILED stage cancels what has not finished and fails the intent; all stages SUCCEEDED
  completes it. A direct (non-pipeline) intent completes when all its rows finished.

Every change writes its org event in the same transaction and publishes
`forest.release.status.{intent}` after commit. Evaluation happens at once on
`forest.intent.evaluate` (payload: the intent id) and in a sweep every
`settings.sweep_interval_seconds` (wait and soak timers, lost nudges). An intent whose
evaluation fails (bad data, a bug) is logged with its id and skipped until the next pass: it
never holds up the intents after it. `Coordinator.sweeps` counts finished sweeps so tests can
wait for "a sweep ran" instead of sleeping.

Two replicas: each evaluation locks the intent row (`SELECT ... FOR UPDATE`) on PostgreSQL;
a nudge waits for the lock (so a change committed just before it is never missed) while the
sweep uses SKIP LOCKED and leaves busy intents to whoever holds them. SQLite ignores row
locks, but its writers are serialised by `BEGIN IMMEDIATE` (see forestd/db/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import policies_pb2

from .bus import INTENT_EVALUATE, release_status_subject
from .context import ServiceContext
from .db.models import (
    Destination,
    Organisation,
    PipelineStageState,
    Project,
    ReleaseIntent,
    ReleaseState,
)
from .db.types import rfc3339, utcnow
from .policy_engine import evaluate_environment
from .uow import UnitOfWork

log = logging.getLogger(__name__)

RELEASE_QUEUED = "forest.release.queued"
FINISHED_STEP = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"})
AWAITING = "AWAITINGAPPROVAL"
SWEEP_BATCH = 200
STOP_GRACE_SECONDS = 10.0


# ---- one intent in one transaction ----------------------------------------------------------


@dataclass
class IntentWalk:
    """An intent, its organisation and project, stages and steps, loaded under its row lock;
    the methods change them and record the events."""

    uow: UnitOfWork
    intent: ReleaseIntent
    project: Project
    organisation: Organisation
    stages: list[PipelineStageState]
    steps: list[ReleaseState]
    now: datetime = field(default_factory=utcnow)

    @classmethod
    async def load(
        cls, uow: UnitOfWork, intent_id: str, *, skip_locked: bool = False
    ) -> IntentWalk | None:
        session = uow.session
        intent = await session.scalar(
            select(ReleaseIntent)
            .where(ReleaseIntent.id == intent_id)
            .with_for_update(skip_locked=skip_locked)
        )
        if intent is None:
            return None
        project = await session.get_one(Project, intent.project_id)
        organisation = await session.get_one(Organisation, project.organisation_id)
        stages = (
            await session.scalars(
                select(PipelineStageState)
                .where(PipelineStageState.release_intent_id == intent.id)
                .order_by(PipelineStageState.position)
            )
        ).all()
        steps = (
            await session.scalars(
                select(ReleaseState)
                .where(ReleaseState.release_intent_id == intent.id)
                .order_by(ReleaseState.queued_at, ReleaseState.id)
            )
        ).all()
        return cls(uow, intent, project, organisation, list(stages), list(steps))

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

    def stage(self, stage_id: str) -> PipelineStageState | None:
        return next((s for s in self.stages if s.stage_id == stage_id), None)

    def steps_of(self, stage: PipelineStageState) -> list[ReleaseState]:
        return [s for s in self.steps if s.stage_id == stage.stage_id]

    # ---- recording changes ------------------------------------------------------------

    def _publish(self, payload: dict[str, Any]) -> None:
        self.uow.publish_after_commit(release_status_subject(self.intent.id), payload)

    def set_stage(
        self,
        stage: PipelineStageState,
        status: str,
        *,
        error: str | None = None,
        event_status: str | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        """Move a stage to `status` (ACTIVE / SUCCEEDED / FAILED / CANCELLED) with its event
        (`details` are added to the event's metadata)."""
        stage.status = status
        if status == "ACTIVE" and stage.started_at is None:
            stage.started_at = self.now
        if status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            stage.completed_at = self.now
        if error is not None:
            stage.error_message = error
        self.record_stage_event(stage, event_status or status, details)

    def record_stage_event(
        self, stage: PipelineStageState, stage_status: str, details: dict[str, str] | None = None
    ) -> None:
        self.uow.record_event(
            self.organisation.name,
            "pipeline",
            "stage_changed",
            self.intent.id,
            project=self.project.name,
            metadata={
                **(details or {}),
                "intent_id": self.intent.id,
                "stage_id": stage.stage_id,
                "stage_status": stage_status,
            },
        )
        update = {
            "stage_id": stage.stage_id,
            "stage_type": stage.stage_type,
            "status": stage.status,
            "approval_status": stage.approval_status,
            "error_message": stage.error_message,
            "started_at": rfc3339(stage.started_at) or None,
            "completed_at": rfc3339(stage.completed_at) or None,
            "wait_until": rfc3339(stage.wait_until) or None,
        }
        self._publish({"pipeline_update": {k: v for k, v in update.items() if v is not None}})

    def set_step(self, step: ReleaseState, status: str, *, error: str | None = None) -> None:
        """Move a release row to `status` with its `release`/`status_changed` event."""
        step.status = status
        if status == "RUNNING":
            step.assigned_at = step.assigned_at or self.now
            step.started_at = step.started_at or self.now
        if status in FINISHED_STEP:
            step.completed_at = self.now
        if error:
            step.error_message = error
        record_step_event(self.uow, self.organisation.name, self.project.name, step)

    def complete(self, status: str) -> None:
        self.intent.status = status
        self.intent.completed_at = self.now
        if self.intent.pipeline_id is not None or self.stages:
            self.uow.record_event(
                self.organisation.name,
                "pipeline",
                "completed",
                self.intent.id,
                project=self.project.name,
                metadata={"intent_id": self.intent.id, "pipeline_status": status},
            )
        self._publish({"pipeline_complete": True, "intent_status": status})

    def fail(
        self, stage: PipelineStageState, error: str, details: dict[str, str] | None = None
    ) -> None:
        """A failed stage: cancel what has not finished, fail the intent."""
        self.set_stage(stage, "FAILED", error=error, details=details)
        self.cancel_unfinished(f"cancelled: stage {stage.stage_id!r} failed")
        self.complete("FAILED")

    def cancel_unfinished(self, reason: str) -> None:
        for other in self.stages:
            if other.status in ("PENDING", "ACTIVE"):
                self.set_stage(other, "CANCELLED", error=reason)
        for step in self.steps:
            if step.status == "QUEUED":
                self.set_step(step, "CANCELLED", error=reason)

    # ---- walking -----------------------------------------------------------------------

    async def advance(self) -> bool:
        """Apply every transition that is due now; True when anything changed."""
        if self.intent.status != "ACTIVE":
            return False
        if not self.stages and self.intent.pipeline_id is None:
            return self._advance_direct()
        changed = False
        progress = True
        while progress and self.intent.status == "ACTIVE":
            progress = False
            for stage in list(self.stages):
                if self.intent.status != "ACTIVE":
                    break
                if stage.status == "ACTIVE":
                    progress |= self._finish_if_done(stage)
                elif stage.status == "PENDING" and self._ready(stage):
                    progress |= await self._start(stage)
            if self.intent.status == "ACTIVE" and all(s.status == "SUCCEEDED" for s in self.stages):
                self.complete("SUCCEEDED")
                progress = True
            changed |= progress
        return changed

    def _advance_direct(self) -> bool:
        if not self.steps or any(s.status not in FINISHED_STEP for s in self.steps):
            return False
        statuses = {s.status for s in self.steps}
        if statuses == {"SUCCEEDED"}:
            self.complete("SUCCEEDED")
        else:
            self.complete("CANCELLED" if statuses == {"CANCELLED"} else "FAILED")
        return True

    def _ready(self, stage: PipelineStageState) -> bool:
        for dependency in stage.depends_on or []:
            other = self.stage(dependency)
            if other is None or other.status != "SUCCEEDED":
                return False
        return True

    def _finish_if_done(self, stage: PipelineStageState) -> bool:
        if stage.stage_type == "wait":
            if stage.wait_until is not None and self.now >= stage.wait_until:
                self.set_stage(stage, "SUCCEEDED")
                return True
            return False
        steps = self.steps_of(stage)
        failed = [s for s in steps if s.status in FINISHED_STEP - {"SUCCEEDED"}]
        if failed:
            what = "plan" if stage.stage_type == "plan" else "deploy"
            first = failed[0]
            detail = f": {first.error_message}" if first.error_message else ""
            self.fail(
                stage,
                f"{what} on {first.destination_name} {first.status.lower()}{detail}",
            )
            return True
        if not steps or any(s.status != "SUCCEEDED" for s in steps):
            return False
        if stage.stage_type == "deploy":
            self.set_stage(stage, "SUCCEEDED")
            return True
        # A plan whose every destination planned.
        if stage.approval_status is None:
            if stage.auto_approve:
                stage.approval_status = "APPROVED"
                stage.plan_decided_at = self.now
                stage.plan_decision_reason = "auto_approve"
                self.set_stage(stage, "SUCCEEDED")
            else:
                stage.approval_status = AWAITING
                self.record_stage_event(stage, "AWAITING_APPROVAL")
            return True
        return False

    async def _start(self, stage: PipelineStageState) -> bool:
        if stage.stage_type == "wait":
            stage.wait_until = self.now + timedelta(seconds=int(stage.duration_seconds or 0))
            self.set_stage(stage, "ACTIVE")
            return True
        environment = stage.environment or ""
        if not await self._policies_pass(stage, environment):
            return False
        destinations = (
            await self.session.scalars(
                select(Destination)
                .where(
                    Destination.organisation_id == self.organisation.id,
                    Destination.environment == environment,
                )
                .order_by(Destination.name)
            )
        ).all()
        if not destinations:
            self.set_stage(stage, "ACTIVE")
            self.fail(stage, f"no destination in environment {environment!r}")
            return True
        mode = "plan" if stage.stage_type == "plan" else "deploy"
        for destination in destinations:
            step = ReleaseState(
                release_intent_id=self.intent.id,
                stage_id=stage.stage_id,
                destination_id=destination.id,
                destination_name=destination.name,
                environment=environment,
                mode=mode,
                status="QUEUED",
                queued_at=self.now,
            )
            self.session.add(step)
            self.steps.append(step)
        await self.session.flush()
        for step in self.steps_of(stage):
            self.uow.publish_after_commit(RELEASE_QUEUED, step.id.encode())
        self.set_stage(stage, "ACTIVE")
        return True

    async def _policies_pass(self, stage: PipelineStageState, environment: str) -> bool:
        result = await evaluate_environment(
            self.session,
            self.project,
            environment,
            intent=self.intent,
            branch=self.intent.branch,
            now=self.now,
        )
        if stage.stage_type == "deploy":
            return result.all_passed
        # Plan stages: soak time only (contract §6); never approval-gated.
        return all(
            e.passed
            for e in result.evaluations
            if e.policy_type == policies_pb2.POLICY_TYPE_SOAK_TIME
        )


def record_step_event(uow: UnitOfWork, organisation: str, project: str, step: ReleaseState) -> None:
    """`release`/`status_changed` for a release row, and its status on the intent's subject."""
    uow.record_event(
        organisation,
        "release",
        "status_changed",
        step.id,
        project=project,
        metadata={
            "status": step.status,
            "release_id": step.id,
            "intent_id": step.release_intent_id,
        },
    )
    uow.publish_after_commit(
        release_status_subject(step.release_intent_id),
        {
            "release_id": step.id,
            "status": step.status,
            "destination": step.destination_name,
            "environment": step.environment,
        },
    )


async def evaluate_intent(
    ctx: ServiceContext, intent_id: str, *, skip_locked: bool = False
) -> bool:
    """Advance one intent as far as it can go now; True when something changed."""
    async with ctx.db.transaction() as uow:
        walk = await IntentWalk.load(uow, intent_id, skip_locked=skip_locked)
        if walk is None:
            return False
        return await walk.advance()


async def finish_loop(task: asyncio.Task[None], grace: float = STOP_GRACE_SECONDS) -> None:
    """Let a stopping loop finish its current pass (never cancel a transaction half-way, which
    can wedge an aiosqlite connection); cancel it only when it overruns `grace`."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("%s did not stop within %ss; cancelling it", task.get_name(), grace)
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# ---- the component ----------------------------------------------------------------------


class Coordinator:
    """Listens on `forest.intent.evaluate` and sweeps ACTIVE intents periodically."""

    def __init__(self, context: ServiceContext | Callable[[], ServiceContext]):
        self._context = context
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0

    @property
    def ctx(self) -> ServiceContext:
        return self._context if isinstance(self._context, ServiceContext) else self._context()

    async def start(self) -> None:
        await self.ctx.bus.subscribe(INTENT_EVALUATE, self._on_evaluate)
        self._task = asyncio.create_task(self._run(), name="forestd-coordinator")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            self._wake.set()
            await finish_loop(self._task)
            self._task = None

    def nudge(self, intent_id: str) -> None:
        self._pending.add(intent_id)
        self._wake.set()

    async def _on_evaluate(self, _subject: str, data: bytes) -> None:
        intent_id = data.decode(errors="replace").strip()
        if intent_id:
            self.nudge(intent_id)

    async def _run(self) -> None:
        interval = self.ctx.settings.sweep_interval_seconds
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            timeout = max(0.0, next_sweep - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                pending, self._pending = self._pending, set()
                for intent_id in sorted(pending):
                    await self._evaluate_logged(intent_id, "nudge")
                if loop.time() >= next_sweep:
                    await self.sweep()
                    next_sweep = loop.time() + interval
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("coordinator pass failed; retrying at the next sweep")
                next_sweep = loop.time() + interval

    async def sweep(self) -> int:
        """Evaluate every ACTIVE intent, in batches by id; returns how many changed."""
        changed = 0
        after = ""
        while True:
            async with self.ctx.db.read() as session:
                ids: Sequence[str] = (
                    await session.scalars(
                        select(ReleaseIntent.id)
                        .where(ReleaseIntent.status == "ACTIVE", ReleaseIntent.id > after)
                        .order_by(ReleaseIntent.id)
                        .limit(SWEEP_BATCH)
                    )
                ).all()
            for intent_id in ids:
                if await self._evaluate_logged(intent_id, "sweep", skip_locked=True):
                    changed += 1
            if len(ids) < SWEEP_BATCH:
                self.sweeps += 1
                return changed
            after = ids[-1]

    async def _evaluate_logged(
        self, intent_id: str, cause: str, *, skip_locked: bool = False
    ) -> bool:
        """Evaluate one intent; a failure is logged with its id and counts as no change, so
        the intents after it still get their turn (their wait and soak timers run out)."""
        try:
            return await evaluate_intent(self.ctx, intent_id, skip_locked=skip_locked)
        except Exception:
            log.exception(
                "%s: evaluating intent %s failed; skipping it this pass", cause, intent_id
            )
            return False
