"""`/forest subscribe|unsubscribe|list|login|logout|whoami|pending|help`.

The command is acked empty at once; the answer goes to the response_url as an ephemeral (so a
slow or unreachable Forest never makes Slack show "dispatch_failed"). `login` opens its modal
straight away, while the trigger id is fresh.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp

from blocks import commands, ephemeral, modals
from blocks.ids import MalformedPayload
from blocks.kit import Message
from blocks.model import Subscription
from bot.context import BotContext
from bot.directory import pending_items
from bot.forest_client import ForestError
from bot.inflight import tracked
from bot.slack_errors import SlackCallFailed
from handlers.requests import CommandRequest

log = logging.getLogger(__name__)

Ack = Any  # slack_bolt's AsyncAck
Respond = Any  # slack_bolt's AsyncRespond
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def parse_project(text: str) -> tuple[str, str] | None:
    organisation, slash, project = text.partition("/")
    if slash and _NAME.fullmatch(organisation) and _NAME.fullmatch(project):
        return organisation, project
    return None


class CommandHandlers:
    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx
        self._verbs: dict[str, Callable[[CommandRequest], Awaitable[Message | None]]] = {
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "list": self.list,
            "login": self.login,
            "logout": self.logout,
            "whoami": self.whoami,
            "pending": self.pending,
            "help": self.help,
        }

    def register(self, app: AsyncApp) -> None:
        app.command("/forest")(self.forest)

    @tracked
    async def forest(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        try:
            request = CommandRequest.parse(body)
        except MalformedPayload as exc:
            log.warning("refused a command: %s", exc)
            return
        verb = self._verbs.get(request.verb)
        if verb is None:
            answer: Message | None = ephemeral.usage(request.text)
        else:
            try:
                answer = await verb(request)
            except ForestError as exc:
                answer = (
                    ephemeral.forest_unreachable("request")
                    if exc.unreachable
                    else ephemeral.permission_denied(exc.details)
                )
        if answer is not None:
            await self._answer(respond, answer)

    async def _answer(self, respond: Respond, answer: Message) -> None:
        """Send the answer to the command's response_url. One that cannot be reached (expired,
        Slack down, or not a URL at all) loses only this ephemeral: a warning, not an error."""
        try:
            sent = await respond(
                response_type="ephemeral", text=answer["text"], blocks=answer["blocks"]
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("could not answer a command: %s: %.200s", type(exc).__name__, exc)
            return
        if sent.status_code != 200:
            log.warning("the response_url refused a command's answer: %s", sent.status_code)

    async def help(self, request: CommandRequest) -> Message:
        return commands.help_message()

    async def subscribe(self, request: CommandRequest) -> Message:
        target = parse_project(request.args[0]) if request.args else None
        environment = request.args[1] if len(request.args) > 1 else None
        if target is None or len(request.args) > 2 or not request.channel_id:
            return ephemeral.usage(request.text)
        organisation, project = target
        if not await self._ctx.forest.project_exists(organisation, project):
            return ephemeral.unknown_project(organisation, project)
        await self._ctx.store.subscribe(
            request.actor.team_id,
            request.channel_id,
            organisation,
            project,
            environment,
            created_by=request.actor.user_id,
        )
        self._ctx.refresher.nudge(organisation, project)
        await self._ctx.events.sync_organisations()  # follow the org's event stream now
        return ephemeral.subscribed(organisation, project)

    async def unsubscribe(self, request: CommandRequest) -> Message:
        target = parse_project(request.args[0]) if len(request.args) == 1 else None
        if target is None:
            return ephemeral.usage(request.text)
        await self._ctx.store.unsubscribe(
            request.actor.team_id, request.channel_id, target[0], target[1]
        )
        await self._ctx.events.sync_organisations()
        return ephemeral.unsubscribed(*target)

    async def list(self, request: CommandRequest) -> Message:
        rows = await self._ctx.store.subscriptions_for_channel(
            request.actor.team_id, request.channel_id
        )
        return commands.subscriptions_message(
            [Subscription(r.organisation, r.project, r.channel_id) for r in rows]
        )

    async def login(self, request: CommandRequest) -> Message | None:
        web = self._ctx.settings.forest_web_url
        view = modals.link_account_modal(
            token_url=f"{web.rstrip('/')}/settings/tokens" if web else None
        )
        try:
            await self._ctx.slack.open_view(request.trigger_id, view)
        except SlackCallFailed as exc:
            log.warning("could not open the login modal: %s", exc)
            return ephemeral.modal_failed()
        return None

    async def logout(self, request: CommandRequest) -> Message:
        await self._ctx.store.unlink_user(request.actor.team_id, request.actor.user_id)
        return ephemeral.account_unlinked()

    async def whoami(self, request: CommandRequest) -> Message:
        link = await self._ctx.store.user_link(request.actor.team_id, request.actor.user_id)
        return ephemeral.whoami(link.username if link else None)

    async def pending(self, request: CommandRequest) -> Message:
        items = await pending_items(
            self._ctx.store,
            self._ctx.reader,
            self._ctx.slack,
            request.actor.team_id,
            request.actor.user_id,
        )
        return commands.pending_message(items)
