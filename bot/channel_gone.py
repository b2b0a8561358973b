"""A channel the bot can no longer post in (archived, deleted, or the bot removed from it): its
subscriptions are dropped with one log line, and each person who subscribed it is told by DM,
the one place a notice can still be posted."""

from __future__ import annotations

import logging
import re

from blocks.kit import Message, message, section
from blocks.text import esc
from bot.slack_errors import SlackCallFailed
from bot.slack_gateway import SlackGateway
from bot.store import Store, SubscriptionRow

log = logging.getLogger(__name__)

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")  # created_by may also be e.g. "forest-bot dev"


def channel_gone_notice(channel_id: str, error: str, projects: list[str]) -> Message:
    followed = ", ".join(f"*{esc(p, 200)}*" for p in projects)
    why = "archived" if error in ("is_archived", "is_inactive") else "gone, or I was removed"
    text = (
        f"⚠️ I can no longer post in <#{channel_id}> ({why}), so it no longer follows "
        f"{followed}. To follow again, run `/forest subscribe` in a channel I can post in."
    )
    return message(text, [section(text)])


async def drop_gone_channel(
    store: Store, slack: SlackGateway, team_id: str, channel_id: str, error: str
) -> int:
    """Drop every subscription of the channel, log it once, DM whoever subscribed it (best
    effort: a DM that fails is part of the same log line). Returns how many were dropped."""
    subscriptions = await store.subscriptions_for_channel(team_id, channel_id)
    removed = await store.remove_channel(team_id, channel_id)
    undelivered = await _tell_subscribers(slack, channel_id, error, subscriptions)
    log.warning(
        "channel %s is gone (%s): dropped its %d subscription(s)%s",
        channel_id,
        error,
        removed,
        f"; not told: {', '.join(undelivered)}" if undelivered else "",
        extra={"channel": channel_id},
    )
    return removed


async def _tell_subscribers(
    slack: SlackGateway, channel_id: str, error: str, subscriptions: list[SubscriptionRow]
) -> list[str]:
    """DM each subscriber about their projects; who could not be told (and why)."""
    by_person: dict[str, list[str]] = {}
    for s in subscriptions:
        if _SLACK_USER.fullmatch(s.created_by):
            by_person.setdefault(s.created_by, []).append(f"{s.organisation}/{s.project}")
    undelivered: list[str] = []
    for person, projects in by_person.items():
        try:
            await slack.post(person, channel_gone_notice(channel_id, error, sorted(projects)))
        except SlackCallFailed as exc:
            undelivered.append(f"{person} ({exc.error})")
    return undelivered
