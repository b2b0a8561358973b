"""The in-process runner (a server component, on when `settings.runner_enabled`).

It claims QUEUED release rows (oldest first; `FOR UPDATE SKIP LOCKED` on PostgreSQL so two
replicas never take the same row), marks them RUNNING with a fresh per-release token (only its
hash is stored), builds Forest's `WorkAssignment` (mode DEPLOY or PLAN), runs the destination
and hands the `CompleteReleaseRequest` to `apply_completion`, exactly as a remote runner's
result would be applied. It wakes on `forest.release.queued` and polls every sweep interval.
On shutdown, releases still running are completed as failed (and say why); releases left
RUNNING by a runner that died are expired (TIMED_OUT) once past their destination's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

from sqlalchemy import select

from forest.v1 import runner_pb2

from ..auth import hash_token
from ..context import ServiceContext
from ..coordinator import RELEASE_QUEUED, STOP_GRACE_SECONDS, finish_loop, record_step_event
from ..db.models import Destination, Organisation, Project, ReleaseIntent, ReleaseState
from ..db.types import utcnow
from ..errors import ForestError
from .completion import apply_completion, expire_orphans
from .destinations import encode_config, execute

log = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 8
COMPLETION_ATTEMPTS = 8
REAP_INTERVAL_SECONDS = 30.0


class Runner:
    def __init__(
        self,
        context: ServiceContext | Callable[[], ServiceContext],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ):
        self._context = context
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[asyncio.Task[None], str] = {}
        self._executing: set[asyncio.Task[None]] = set()  # still running their destination
        self._stopping = asyncio.Event()

    @property
    def ctx(self) -> ServiceContext:
        return self._context if isinstance(self._context, ServiceContext) else self._context()

    async def start(self) -> None:
        if not self.ctx.settings.runner_enabled:
            return
        await self.ctx.bus.subscribe(RELEASE_QUEUED, self._on_queued)
        self._loop_task = asyncio.create_task(self._run(), name="forestd-runner")

    async def stop(self) -> None:
        """Stop claiming; releases still running are cancelled and recorded as failed."""
        if self._loop_task is not None:
            self._stopping.set()
            self._wake.set()
            await finish_loop(self._loop_task)
            self._loop_task = None
        tasks = set(self._running)
        for task in self._executing & tasks:
            task.cancel()  # _execute records the failure itself, outside the cancellation
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)

    async def _on_queued(self, _subject: str, _data: bytes) -> None:
        self._wake.set()

    async def _run(self) -> None:
        interval = self.ctx.settings.sweep_interval_seconds
        loop = asyncio.get_running_loop()
        next_reap = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if loop.time() >= next_reap:
                    next_reap = loop.time() + REAP_INTERVAL_SECONDS
                    if await expire_orphans(self.ctx.db):
                        log.warning("expired releases orphaned by a stopped runner")
                free = self._concurrency - len(self._running)
                if free > 0:
                    for assignment in await self.claim(free):
                        self._spawn(assignment)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runner could not claim work; retrying")

    def _spawn(self, assignment: runner_pb2.WorkAssignment) -> None:
        task = asyncio.create_task(
            self._execute(assignment), name=f"release-{assignment.release_id}"
        )
        self._running[task] = assignment.release_token
        self._executing.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._running.pop(t, None)
            self._executing.discard(t)
            self._wake.set()  # a slot is free: look for more work

        task.add_done_callback(_done)

    async def _execute(self, assignment: runner_pb2.WorkAssignment) -> None:
        try:
            result = await execute(assignment)
        except asyncio.CancelledError:  # stop(): record the failure, then end
            result = runner_pb2.CompleteReleaseRequest(
                release_token=assignment.release_token,
                outcome=runner_pb2.RELEASE_OUTCOME_FAILURE,
                error_message="forestd stopped while this release was running",
            )
        except Exception as exc:
            log.exception("release %s crashed", assignment.release_id)
            result = runner_pb2.CompleteReleaseRequest(
                release_token=assignment.release_token,
                outcome=runner_pb2.RELEASE_OUTCOME_FAILURE,
                error_message=f"runner error: {exc}",
            )
        self._executing.discard(asyncio.current_task())  # type: ignore[arg-type]
        await self._complete(result)

    async def _complete(self, request: runner_pb2.CompleteReleaseRequest) -> None:
        """Apply a result; a database hiccup is retried (a lost result would leave the release
        RUNNING for ever), a refusal is final."""
        for attempt in range(COMPLETION_ATTEMPTS):
            try:
                await apply_completion(self.ctx.db, request)
                return
            except ForestError as exc:
                log.info("completion not applied: %s", exc.message)
                return
            except Exception:
                if attempt == COMPLETION_ATTEMPTS - 1:
                    raise
                log.warning("could not record a release result; retrying", exc_info=True)
                await asyncio.sleep(min(5.0, 0.1 * 2**attempt))

    async def claim(self, limit: int) -> list[runner_pb2.WorkAssignment]:
        """Take up to `limit` QUEUED releases: RUNNING, with a token, as WorkAssignments."""
        assignments: list[runner_pb2.WorkAssignment] = []
        async with self.ctx.db.transaction() as uow:
            steps = (
                await uow.session.scalars(
                    select(ReleaseState)
                    .where(ReleaseState.status == "QUEUED")
                    .order_by(ReleaseState.queued_at, ReleaseState.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            now = utcnow()
            for step in steps:
                destination = await uow.session.get_one(Destination, step.destination_id)
                intent = await uow.session.get_one(ReleaseIntent, step.release_intent_id)
                project = await uow.session.get_one(Project, intent.project_id)
                organisation = await uow.session.get_one(Organisation, project.organisation_id)
                token = "frel_" + secrets.token_urlsafe(24)
                step.release_token_hash = hash_token(token)
                step.status = "RUNNING"
                step.assigned_at = step.started_at = now
                record_step_event(uow, organisation.name, project.name, step)
                assignments.append(
                    runner_pb2.WorkAssignment(
                        release_token=token,
                        release_id=step.id,
                        release_intent_id=intent.id,
                        artifact_id=intent.artifact_id,
                        destination_id=destination.id,
                        destination=runner_pb2.DestinationInfo(
                            name=destination.name,
                            environment=destination.environment,
                            metadata=encode_config(destination.config or {}),
                            type=runner_pb2.DestinationCapability(
                                organisation="forestd", name=destination.kind, version=1
                            ),
                            organisation=organisation.name,
                        ),
                        mode=runner_pb2.RELEASE_MODE_PLAN
                        if step.mode == "plan"
                        else runner_pb2.RELEASE_MODE_DEPLOY,
                    )
                )
        return assignments
