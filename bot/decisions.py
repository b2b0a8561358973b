"""Votes, bypasses and plan decisions made from Slack: check fresh state, call Forest as the
clicker, audit, hand the intent to the refresher, and say exactly what happened.

Every method returns the ephemeral answer for the person who acted. Nothing here edits a
release message: the refresher re-renders it from Forest's state.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import grpc
from sqlalchemy.exc import DBAPIError

from blocks import ephemeral, notices
from blocks.ids import ReleaseRef
from blocks.kit import Message
from blocks.model import Approvals, Person, Release, Stage, StageStatus, Verdict
from bot.forest_client import ForestClient, ForestError
from bot.metrics import Metrics
from bot.refresher import Refresher
from bot.release_reader import ReleaseReader
from bot.slack_errors import SlackCallFailed
from bot.slack_gateway import SlackGateway
from bot.store import AuditRecord, LinkedUser, Store
from handlers.requests import Actor

log = logging.getLogger(__name__)


def store_unreachable(exc: BaseException) -> bool:
    """Whether the bot's database failed to answer (refused, cut or timed out), as opposed to
    a bug: asyncpg raises OSError on connect, SQLAlchemy wraps a cut connection."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated
        or isinstance(exc.orig, (OSError, TimeoutError))
        or type(exc).__name__ in ("OperationalError", "InterfaceError")
    )


class Refusal(Exception):
    """The action cannot go ahead; `answer` says why (nothing reached Forest)."""

    def __init__(self, answer: Message, modal_error: str = "") -> None:
        super().__init__(answer["text"])
        self.answer = answer
        self.modal_error = modal_error or answer["text"]


@dataclass(frozen=True, slots=True)
class BypassGrant:
    """Everything checked before a bypass: the admin author and the open gate."""

    link: LinkedUser
    release: Release


class Decisions:
    def __init__(
        self,
        *,
        store: Store,
        forest: ForestClient,
        reader: ReleaseReader,
        refresher: Refresher,
        slack: SlackGateway,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._forest = forest
        self._reader = reader
        self._refresher = refresher
        self._slack = slack
        self._metrics = metrics

    # -- approval gate -----------------------------------------------------------------------

    async def approve(self, actor: Actor, ref: ReleaseRef) -> Message:
        try:
            link, release = await self._gate_open(actor, ref, "approval")
        except Refusal as refusal:
            return refusal.answer
        if _is_author(release, link):
            try:
                admin = await self._is_admin(ref.organisation, link.forest_user_id)
            except Refusal:
                admin = False  # Forest's role read failed: say no, offer no bypass
            return ephemeral.own_release(ref, is_admin=admin)
        return await self._vote(actor, link, ref, Verdict.APPROVED, comment="")

    async def reject(self, actor: Actor, ref: ReleaseRef, comment: str) -> Message:
        try:
            link, _ = await self._gate_open(actor, ref, "rejection")
        except Refusal as refusal:
            return refusal.answer
        return await self._vote(actor, link, ref, Verdict.REJECTED, comment=comment)

    async def check_bypass(self, actor: Actor, ref: ReleaseRef) -> BypassGrant:
        """Raises Refusal unless the clicker is a linked org admin who authored the release.

        Forest does not check admin for force_bypass (contract §3): the bot must.
        """
        link, release = await self._gate_open(actor, ref, "bypass")
        if not _is_author(release, link):
            raise Refusal(
                ephemeral.permission_denied(
                    "A bypass is only for the release's own author; use Approve instead."
                ),
                "Only the release's author can bypass; use Approve instead.",
            )
        if not await self._is_admin(ref.organisation, link.forest_user_id):
            raise Refusal(ephemeral.not_admin(), "Only organisation admins can bypass.")
        return BypassGrant(link, release)

    async def bypass(
        self, actor: Actor, grant: BypassGrant, ref: ReleaseRef, reason: str
    ) -> Message:
        answer = await self._vote(
            actor, grant.link, ref, Verdict.BYPASSED, comment=reason, force_bypass=True
        )
        return answer

    async def _gate_open(
        self, actor: Actor, ref: ReleaseRef, what: str
    ) -> tuple[LinkedUser, Release]:
        link = await self._link(actor, ref, what)
        release = await self._fresh(actor, ref, what)
        gate = release.gate(ref.environment)
        if gate is None or not gate.accepting_votes:
            raise Refusal(ephemeral.gate_not_open(ref.environment))
        return link, release

    async def _vote(
        self,
        actor: Actor,
        link: LinkedUser,
        ref: ReleaseRef,
        verdict: Verdict,
        *,
        comment: str,
        force_bypass: bool = False,
    ) -> Message:
        action = {Verdict.APPROVED: "approve", Verdict.REJECTED: "reject"}.get(verdict, "bypass")
        try:
            if verdict is Verdict.REJECTED:
                state = await self._forest.reject(
                    link.token,
                    ref.organisation,
                    ref.project,
                    ref.intent_id,
                    ref.environment,
                    comment=comment or None,
                )
            else:
                state = await self._forest.approve(
                    link.token,
                    ref.organisation,
                    ref.project,
                    ref.intent_id,
                    ref.environment,
                    comment=comment or None,
                    force_bypass=force_bypass,
                )
        except ForestError as exc:
            return await self._failed(actor, link, ref, action, comment, exc)
        await self._audit(actor, link, ref, action, comment, "recorded")
        approvals = Approvals(state.current_approvals, state.required_approvals)
        if verdict is Verdict.BYPASSED:
            await self._thread_notice(
                ref,
                notices.bypass_notice(
                    Person(link.forest_user_id, link.username, actor.user_id),
                    ref.environment,
                    comment,
                    approvals,
                ),
            )
        self._refresher.nudge(ref.organisation, ref.project, ref.intent_id, urgent=True)
        return ephemeral.vote_recorded(verdict, ref.environment, approvals)

    # -- plans -------------------------------------------------------------------------------

    async def approve_plan(self, actor: Actor, ref: ReleaseRef) -> Message:
        return await self._plan(actor, ref, approved=True, reason="")

    async def reject_plan(self, actor: Actor, ref: ReleaseRef, reason: str) -> Message:
        return await self._plan(actor, ref, approved=False, reason=reason)

    async def _plan(self, actor: Actor, ref: ReleaseRef, *, approved: bool, reason: str) -> Message:
        action = "plan_approve" if approved else "plan_reject"
        try:
            link = await self._link(actor, ref, "plan decision")
            release = await self._fresh(actor, ref, "plan decision")
            _awaiting_plan(release, ref)
        except Refusal as refusal:
            return refusal.answer
        try:
            if approved:
                await self._forest.approve_plan(link.token, ref.intent_id, ref.stage_id)
            else:
                await self._forest.reject_plan(
                    link.token, ref.intent_id, ref.stage_id, reason or None
                )
        except ForestError as exc:
            return await self._failed(actor, link, ref, action, reason, exc)
        await self._audit(actor, link, ref, action, reason, "recorded")
        person = Person(link.forest_user_id, link.username, actor.user_id)
        notice = (
            notices.plan_approved_notice(person, ref.environment)
            if approved
            else notices.plan_rejected_notice(person, ref.environment, reason)
        )
        await self._thread_notice(ref, notice)
        self._refresher.nudge(ref.organisation, ref.project, ref.intent_id, urgent=True)
        return ephemeral.plan_decided(approved, ref.environment)

    # -- shared ------------------------------------------------------------------------------

    async def _link(self, actor: Actor, ref: ReleaseRef | None, what: str) -> LinkedUser:
        try:
            link = await self._store.user_link(actor.team_id, actor.user_id)
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            log.warning(
                "%s by %s not recorded: the database is unreachable: %s", what, actor.user_id, exc
            )
            raise Refusal(ephemeral.database_unreachable(what)) from exc
        if link is None:
            raise Refusal(ephemeral.link_account_first(ref), "Link your Forest account first.")
        return link

    async def _fresh(self, actor: Actor, ref: ReleaseRef, what: str) -> Release:
        """The release as Forest has it now; the button was only a pointer."""
        try:
            listing = await self._reader.listing(
                ref.organisation, ref.project, also=[ref.intent_id]
            )
            releases = await self._reader.releases(listing, [ref.intent_id], actor.team_id)
        except ForestError as exc:
            if exc.unreachable:
                raise Refusal(ephemeral.forest_unreachable(what)) from exc
            raise Refusal(ephemeral.permission_denied(exc.details)) from exc
        release = releases.get(ref.intent_id)
        if release is None:
            raise Refusal(ephemeral.release_not_found(ref.organisation, ref.project))
        if release.finished:
            raise Refusal(ephemeral.release_finished(release.outcome))
        return release

    async def _is_admin(self, organisation: str, forest_user_id: str) -> bool:
        try:
            return await self._forest.role(organisation, forest_user_id) == "admin"
        except ForestError as exc:
            raise Refusal(ephemeral.forest_unreachable("bypass")) from exc

    async def _failed(
        self,
        actor: Actor,
        link: LinkedUser,
        ref: ReleaseRef,
        action: str,
        comment: str,
        exc: ForestError,
    ) -> Message:
        what = {"plan_approve": "plan decision", "plan_reject": "plan decision"}.get(
            action, "vote" if action != "approve" else "approval"
        )
        result = "unreachable" if exc.unreachable else "refused"  # a timeout stays "unreachable"
        await self._audit(
            actor, link, ref, action, comment, result, f"{exc.code.name}: {exc.details}"
        )
        self._refresher.nudge(ref.organisation, ref.project, ref.intent_id, urgent=True)
        if exc.code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return ephemeral.forest_no_answer(what)
        if exc.unreachable:
            return ephemeral.forest_unreachable(what)
        if exc.code is grpc.StatusCode.UNAUTHENTICATED:
            return ephemeral.token_refused(ref)
        if exc.code is grpc.StatusCode.PERMISSION_DENIED:
            return ephemeral.permission_denied(exc.details)
        if exc.code is grpc.StatusCode.NOT_FOUND:
            if action.startswith("plan"):
                return ephemeral.plan_already_decided()
            return ephemeral.gate_not_open(ref.environment)
        if exc.code is grpc.StatusCode.FAILED_PRECONDITION:
            if action.startswith("plan"):
                return ephemeral.plan_already_decided()
            return ephemeral.release_finished()
        reference = uuid.uuid4().hex[:12]
        log.error("%s on %s failed [%s]: %s", action, ref.intent_id, reference, exc)
        return ephemeral.failed(reference, what)

    async def _audit(
        self,
        actor: Actor,
        link: LinkedUser,
        ref: ReleaseRef,
        action: str,
        comment: str,
        result: str,
        detail: str = "",
    ) -> None:
        self._metrics.forest_actions.labels(action, result).inc()
        log.info(
            "%s by %s on %s/%s %s %s: %s",
            action,
            actor.user_id,
            ref.organisation,
            ref.project,
            ref.intent_id,
            ref.environment or ref.stage_id,
            result,
            extra={"intent_id": ref.intent_id, "user": actor.user_id, "action": action},
        )
        try:
            await self._store.audit(self._record(actor, link, ref, action, comment, result, detail))
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            # Forest holds the decision (or refused it) either way: the answer stays truthful.
            log.error(
                "audit of %s on %s lost (database unreachable): %s", action, ref.intent_id, exc
            )

    @staticmethod
    def _record(
        actor: Actor,
        link: LinkedUser,
        ref: ReleaseRef,
        action: str,
        comment: str,
        result: str,
        detail: str,
    ) -> AuditRecord:
        return AuditRecord(
            team_id=actor.team_id,
            slack_user_id=actor.user_id,
            forest_user_id=link.forest_user_id,
            action=action,
            organisation=ref.organisation,
            project=ref.project,
            intent_id=ref.intent_id,
            environment=ref.environment,
            stage_id=ref.stage_id,
            comment=comment,
            result=result,
            detail=detail,
        )

    async def _thread_notice(self, ref: ReleaseRef, notice: Message) -> None:
        """Announce a decision under each message of the release (best effort: it is done)."""
        try:
            rows = await self._store.messages_for_intent(ref.intent_id)
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            log.warning("no notice under %s: the database is unreachable: %s", ref.intent_id, exc)
            return
        for row in rows:
            if row.ts is None:
                continue
            try:
                await self._slack.post(row.channel_id, notice, thread_ts=row.ts)
            except SlackCallFailed as exc:
                log.warning("could not post the notice under %s: %s", row.ts, exc)


def _is_author(release: Release, link: LinkedUser) -> bool:
    return release.author is not None and release.author.forest_user_id == link.forest_user_id


def _awaiting_plan(release: Release, ref: ReleaseRef) -> Stage:
    stage = next((s for s in release.stages if s.stage_id == ref.stage_id), None)
    if stage is None or stage.status is not StageStatus.AWAITING_APPROVAL:
        raise Refusal(ephemeral.plan_already_decided())
    return stage
