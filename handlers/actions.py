"""Buttons: ack at once, open a modal while the trigger is fresh, then one call and an answer.

Routing is on the action ids of `blocks.ids`. The button's value is only a pointer: what the
clicker may do is decided from fresh Forest state by `bot.decisions`.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks import ephemeral, ids, modals
from blocks.ids import MalformedPayload
from blocks.kit import Message
from bot.context import BotContext
from bot.decisions import Decisions, Refusal
from bot.inflight import tracked
from bot.plan_poster import PlanPoster
from bot.slack_errors import SlackCallFailed
from handlers.requests import ActionRequest, text_at

log = logging.getLogger(__name__)

Ack = Any  # slack_bolt's AsyncAck


class ActionHandlers:
    def __init__(self, ctx: BotContext, decisions: Decisions, plans: PlanPoster) -> None:
        self._ctx = ctx
        self._decisions = decisions
        self._plans = plans

    def register(self, app: AsyncApp) -> None:
        app.action(ids.ACTION_APPROVE)(self.approve)
        app.action(ids.ACTION_REJECT)(self.open_reject)
        app.action(ids.ACTION_BYPASS)(self.open_bypass)
        app.action(ids.ACTION_PLAN_APPROVE)(self.approve_plan)
        app.action(ids.ACTION_PLAN_REJECT)(self.open_plan_reject)
        app.action(ids.ACTION_PLAN_VIEW)(self.view_plan)
        app.action(ids.ACTION_LINK_ACCOUNT)(self.open_link)
        app.action(ids.ACTION_OPEN_LINK)(self.ignore)

    @tracked
    async def ignore(self, ack: Ack) -> None:
        await ack()

    @tracked
    async def approve(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        async with self._ctx.inflight.bounded():
            request = await self._parse(body)
            if request is not None:
                answer = await self._decisions.approve(request.actor, request.ref)
                await self._answer(request, answer)

    @tracked
    async def approve_plan(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        async with self._ctx.inflight.bounded():
            request = await self._parse(body)
            if request is not None:
                answer = await self._decisions.approve_plan(request.actor, request.ref)
                await self._answer(request, answer)

    @tracked
    async def open_reject(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        request = await self._parse(body)
        if request is not None:
            await self._open(request, modals.reject_modal(request.origin()))

    @tracked
    async def open_plan_reject(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        request = await self._parse(body)
        if request is not None:
            await self._open(request, modals.plan_reject_modal(request.origin()))

    @tracked
    async def open_bypass(self, ack: Ack, body: dict[str, Any]) -> None:
        """Only a linked admin author gets the modal; the submission is checked again."""
        await ack()
        request = await self._parse(body)
        if request is None:
            return
        try:
            grant = await self._decisions.check_bypass(request.actor, request.ref)
        except Refusal as refusal:
            await self._answer(request, refusal.answer)
            return
        await self._open(request, modals.bypass_modal(request.origin(), grant.release))

    @tracked
    async def view_plan(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        request = await self._parse(body)
        if request is not None:
            answer = await self._plans.show(request.actor, request.ref)
            await self._answer(request, answer)

    @tracked
    async def open_link(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        request = await self._parse(body, need_ref=False)
        if request is None:
            return
        origin = None
        if request.value:
            try:
                origin = request.origin()
            except MalformedPayload:
                origin = None
        await self._open(
            request, modals.link_account_modal(token_url=self._token_url(), origin=origin)
        )

    # -- helpers -----------------------------------------------------------------------------

    def _token_url(self) -> str | None:
        web = self._ctx.settings.forest_web_url
        return f"{web.rstrip('/')}/settings/tokens" if web else None

    async def _parse(self, body: dict[str, Any], *, need_ref: bool = True) -> ActionRequest | None:
        try:
            request = ActionRequest.parse(body)
            if need_ref:
                _ = request.ref
        except MalformedPayload as exc:
            log.warning("refused a click: %s", exc)
            channel, user = text_at(body, "channel", "id"), text_at(body, "user", "id")
            if channel and user:
                await self._say(channel, user, ephemeral.unknown_button())
            return None
        return request

    async def _open(self, request: ActionRequest, view: dict[str, Any]) -> None:
        try:
            await self._ctx.slack.open_view(request.trigger_id, view)
        except SlackCallFailed as exc:
            log.warning("could not open a modal for %s: %s", request.actor.user_id, exc)
            await self._answer(request, ephemeral.modal_failed())

    async def _answer(self, request: ActionRequest, answer: Message) -> None:
        if request.channel_id:
            await self._say(request.channel_id, request.actor.user_id, answer)

    async def _say(self, channel: str, user: str, answer: Message) -> None:
        try:
            await self._ctx.slack.ephemeral(channel, user, answer)
        except SlackCallFailed as exc:
            log.warning("could not answer %s in %s: %s", user, channel, exc)
