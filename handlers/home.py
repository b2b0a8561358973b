"""The App Home tab: who you are linked as, what waits for you, what is followed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.home import home_view
from bot.context import BotContext
from bot.directory import followed, pending_items
from bot.forest_client import ForestError
from bot.inflight import tracked
from bot.slack_errors import SlackCallFailed

log = logging.getLogger(__name__)


class HomeHandlers:
    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.opened)

    @tracked
    async def opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user")
        team = body.get("team_id") or ""
        if not isinstance(user, str) or not isinstance(team, str) or event.get("tab") == "messages":
            return
        store = self._ctx.store
        link = await store.user_link(team, user)
        try:
            pending = await pending_items(store, self._ctx.reader, self._ctx.slack, team, user)
        except ForestError as exc:
            log.warning("home tab without pending items: %s", exc)
            pending = []
        view = home_view(
            linked_username=link.username if link else None,
            pending=pending,
            subscriptions=await followed(store, team),
        )
        try:
            await self._ctx.slack.publish_home(user, view)
        except SlackCallFailed as exc:
            log.warning("could not publish the home tab of %s: %s", user, exc)
