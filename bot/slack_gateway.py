"""The one way the bot calls Slack: typed results, typed errors, every call counted.

Rate limits are not retried here: a `RateLimited` goes back to the caller, which re-queues the
work at Retry-After (the refresher) instead of sleeping. The refresher's own calls (post and
update) are also paced by `SlackBudget`: a call the budget does not allow yet is not made at all
and comes back as a `RateLimited` with the wait. Connection errors and 5xx are retried
by slack_sdk's handlers, which are safe for every method the bot uses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from blocks.kit import Message
from blocks.plan_thread import FileUpload
from bot.metrics import Metrics
from bot.slack_budget import SlackBudget
from bot.slack_errors import AuthRevoked, RateLimited, SlackCallFailed, slack_error

log = logging.getLogger(__name__)


def make_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(
        token=token,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
        timeout=10,
        **kwargs,
    )


class SlackGateway:
    def __init__(
        self, client: AsyncWebClient, metrics: Metrics, budget: SlackBudget | None = None
    ) -> None:
        self.client = client
        self._metrics = metrics
        self._budget = budget or SlackBudget()
        self.revoked = False  # set on invalid_auth / token_revoked: health fails
        self._refusal = ""  # the error Slack refused the token with

    def _spend(self, method: str, *, urgent: bool) -> None:
        wait = self._budget.wait(method, urgent=urgent)
        if wait > 0:
            self._metrics.slack_deferred.labels(method).inc()
            raise RateLimited(method, wait)

    async def _call(
        self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        if self.revoked:  # no call can succeed until a person fixes the token and restarts
            self._metrics.slack_calls.labels(method, "not_called").inc()
            raise AuthRevoked(method, self._refusal, "not called: Slack refused the token before")
        try:
            response = await call()
        except SlackApiError as exc:
            error = slack_error(method, exc)
            self._metrics.slack_calls.labels(method, error.error).inc()
            if isinstance(error, RateLimited):
                self._metrics.rate_limited.labels(method).inc()
                self._budget.hold(method, error.retry_after)
            if isinstance(error, AuthRevoked) and not self.revoked:
                self.revoked, self._refusal = True, error.error
                log.error("Slack refused the bot token (%s): stopping Slack calls", error.error)
            raise error from None
        except (OSError, TimeoutError) as exc:
            self._metrics.slack_calls.labels(method, "unreachable").inc()
            raise SlackCallFailed(method, "unreachable", str(exc)) from exc
        self._metrics.slack_calls.labels(method, "ok").inc()
        return response

    async def auth_test(self) -> dict[str, Any]:
        response = await self._call("auth.test", lambda: self.client.auth_test())
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        urgent: bool | None = None,
    ) -> str:
        """Post a message; `urgent` given (a refresher's post) spends the paced budget."""
        if urgent is not None:
            self._spend("chat.postMessage", urgent=urgent)
        response = await self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return str(response["ts"])

    async def update(self, channel: str, ts: str, message: Message, *, urgent: bool) -> None:
        self._spend("chat.update", urgent=urgent)
        await self._call(
            "chat.update",
            lambda: self.client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            ),
        )

    async def ephemeral(
        self, channel: str, user: str, message: Message, *, thread_ts: str | None = None
    ) -> None:
        await self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=message["text"],
                blocks=message["blocks"],
                thread_ts=thread_ts,
            ),
        )

    async def join(self, channel: str) -> None:
        await self._call(
            "conversations.join", lambda: self.client.conversations_join(channel=channel)
        )

    async def upload(self, channel: str, thread_ts: str, upload: FileUpload) -> None:
        async def call() -> AsyncSlackResponse:
            return await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                filename=upload.filename,
                title=upload.title,
                content=upload.content,
                snippet_type=upload.snippet_type,
            )

        try:
            await self._call("files.upload_v2", call)
        except SlackCallFailed as exc:
            if exc.error != "not_in_channel":
                raise
            await self.join(channel)  # files need membership, unlike chat:write.public posts
            await self._call("files.upload_v2", call)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        response = await self._call(
            "views.open", lambda: self.client.views_open(trigger_id=trigger_id, view=view)
        )
        return str(response["view"]["id"])

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        await self._call(
            "views.publish", lambda: self.client.views_publish(user_id=user, view=view)
        )

    async def permalink(self, channel: str, ts: str) -> str:
        response = await self._call(
            "chat.getPermalink",
            lambda: self.client.chat_getPermalink(channel=channel, message_ts=ts),
        )
        return str(response.get("permalink") or "")
