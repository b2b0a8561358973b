"""Modal submissions. What must be refused in the modal (a wrong token, a forbidden bypass) is
checked before the ack, which then carries the errors; everything else is acked first."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks import ephemeral, ids, modals
from blocks.ids import MalformedPayload, ModalContext
from blocks.kit import Message
from bot.context import BotContext
from bot.decisions import Decisions, Refusal
from bot.inflight import tracked
from bot.linking import LinkRefused, link_account
from bot.slack_errors import SlackCallFailed
from handlers.requests import ViewSubmission

log = logging.getLogger(__name__)

Ack = Any  # slack_bolt's AsyncAck


class ViewHandlers:
    def __init__(self, ctx: BotContext, decisions: Decisions) -> None:
        self._ctx = ctx
        self._decisions = decisions

    def register(self, app: AsyncApp) -> None:
        app.view(ids.CALLBACK_REJECT)(self.reject)
        app.view(ids.CALLBACK_PLAN_REJECT)(self.reject_plan)
        app.view(ids.CALLBACK_BYPASS)(self.bypass)
        app.view(ids.CALLBACK_LINK_ACCOUNT)(self.link)

    @tracked
    async def reject(self, ack: Ack, body: dict[str, Any]) -> None:
        submission, origin = await self._parse(ack, body, ids.COMMENT_BLOCK)
        if submission is None or origin is None:
            return
        await ack()
        comment = submission.input(ids.COMMENT_BLOCK, ids.COMMENT_INPUT)
        async with self._ctx.inflight.bounded():
            answer = await self._decisions.reject(submission.actor, origin.ref, comment)
            await self._say(origin, submission, answer)

    @tracked
    async def reject_plan(self, ack: Ack, body: dict[str, Any]) -> None:
        submission, origin = await self._parse(ack, body, ids.REASON_BLOCK)
        if submission is None or origin is None:
            return
        await ack()
        reason = submission.input(ids.REASON_BLOCK, ids.REASON_INPUT)
        async with self._ctx.inflight.bounded():
            answer = await self._decisions.reject_plan(submission.actor, origin.ref, reason)
            await self._say(origin, submission, answer)

    @tracked
    async def bypass(self, ack: Ack, body: dict[str, Any]) -> None:
        """Checked again on submission: a forged submission never reaches Forest."""
        submission, origin = await self._parse(ack, body, ids.REASON_BLOCK)
        if submission is None or origin is None:
            return
        reason = submission.input(ids.REASON_BLOCK, ids.REASON_INPUT)
        if not reason:
            await ack(**modals.input_errors({ids.REASON_BLOCK: "A bypass needs a reason."}))
            return
        try:
            grant = await self._decisions.check_bypass(submission.actor, origin.ref)
        except Refusal as refusal:
            await ack(**modals.input_errors({ids.REASON_BLOCK: refusal.modal_error}))
            return
        await ack()
        answer = await self._decisions.bypass(submission.actor, grant, origin.ref, reason)
        await self._say(origin, submission, answer)

    @tracked
    async def link(self, ack: Ack, body: dict[str, Any]) -> None:
        try:
            submission = ViewSubmission.parse(body)
        except MalformedPayload as exc:
            log.warning("refused a link submission: %s", exc)
            await ack(**modals.input_errors({ids.TOKEN_BLOCK: "This form is outdated."}))
            return
        try:
            username = await link_account(
                self._ctx.forest,
                self._ctx.store,
                submission.actor,
                submission.input(ids.USERNAME_BLOCK, ids.USERNAME_INPUT),
                submission.input(ids.TOKEN_BLOCK, ids.TOKEN_INPUT),
            )
        except LinkRefused as refused:
            block = ids.USERNAME_BLOCK if refused.field == "username" else ids.TOKEN_BLOCK
            await ack(**modals.input_errors({block: refused.message}))
            return
        log.info("linked %s to Forest user %s", submission.actor.user_id, username)
        await ack(response_action="update", view=modals.account_linked_modal(username))

    async def _parse(
        self, ack: Ack, body: dict[str, Any], error_block: str
    ) -> tuple[ViewSubmission | None, ModalContext | None]:
        try:
            submission = ViewSubmission.parse(body)
            return submission, submission.origin
        except MalformedPayload as exc:
            log.warning("refused a modal submission: %s", exc)
            await ack(
                **modals.input_errors({error_block: "This form is outdated: nothing was done."})
            )
            return None, None

    async def _say(self, origin: ModalContext, submission: ViewSubmission, answer: Message) -> None:
        """Answer in the channel of the message the modal came from (or by DM)."""
        channel = origin.channel_id or submission.actor.user_id
        try:
            if origin.channel_id:
                await self._ctx.slack.ephemeral(channel, submission.actor.user_id, answer)
            else:
                await self._ctx.slack.post(channel, answer)
        except SlackCallFailed as exc:
            log.warning("could not answer %s: %s", submission.actor.user_id, exc)


__all__ = ["ViewHandlers", "ephemeral"]
