"""One exception per Slack error the bot acts on; everything else is `SlackCallFailed`.

`slack_error(exc)` turns slack_sdk's SlackApiError into the right class, so callers write
`except MessageGone:` instead of comparing error strings in every handler.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


class SlackCallFailed(Exception):
    """A Slack Web API call answered ok=false (or not at all)."""

    def __init__(self, method: str, error: str, detail: str = "") -> None:
        super().__init__(f"{method}: {error}" + (f" ({detail})" if detail else ""))
        self.method = method
        self.error = error


class RateLimited(SlackCallFailed):
    """HTTP 429: try again after `retry_after` seconds (re-queue; never sleep in a handler)."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, "ratelimited", f"retry after {retry_after:g} s")
        self.retry_after = retry_after


class MessageGone(SlackCallFailed):
    """message_not_found: someone deleted the message; post it again."""


class ChannelGone(SlackCallFailed):
    """The channel was archived or deleted, or the bot was removed from it."""


class AuthRevoked(SlackCallFailed):
    """The bot token no longer works: the app was uninstalled or the token revoked."""


class TriggerExpired(SlackCallFailed):
    """A trigger_id older than 3 s (or already used): the modal cannot be opened."""


_BY_ERROR: dict[str, type[SlackCallFailed]] = {
    "message_not_found": MessageGone,
    "channel_not_found": ChannelGone,
    "is_archived": ChannelGone,
    "is_inactive": ChannelGone,
    "not_in_channel": ChannelGone,
    "invalid_auth": AuthRevoked,
    "token_revoked": AuthRevoked,
    "account_inactive": AuthRevoked,
    "not_authed": AuthRevoked,
    "expired_trigger_id": TriggerExpired,
    "exchanged_trigger_id": TriggerExpired,
    "invalid_trigger_id": TriggerExpired,
}


def slack_error(method: str, exc: SlackApiError) -> SlackCallFailed:
    response = exc.response
    error = str(response.get("error") or "unknown_error") if response is not None else "no_answer"
    if response is not None and (response.status_code == 429 or error == "ratelimited"):
        raw = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
            "retry-after"
        )
        try:
            retry_after = max(0.0, float(raw)) if raw is not None else 1.0
        except ValueError:
            retry_after = 1.0
        return RateLimited(method, retry_after)
    detail = ""
    if response is not None:
        needed = response.get("needed")
        if needed:
            detail = f"needed {needed}"
    return _BY_ERROR.get(error, SlackCallFailed)(method, error, detail)
