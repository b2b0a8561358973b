"""Thread notices: what the bot announces under a release message after a decision.

The actor is the person who clicked (from Slack's signed payload), so their Slack id is
trusted; everything they typed is escaped.
"""

from __future__ import annotations

from blocks.kit import Message, message, section
from blocks.model import Approvals, Person
from blocks.text import esc, mention

BLOCK_NOTICE = "forest.notice.v1"


def _notice(text: str) -> Message:
    return message(text, [section(text, BLOCK_NOTICE)])


def bypass_notice(
    actor: Person, environment: str, reason: str, approvals: Approvals | None = None
) -> Message:
    """ "⚠️ @alice approved her own release as an admin (bypass) for production: <reason> ·
    approvals 1/2". A bypass counts the author's own approval; it does not open the gate."""
    who = mention(actor.slack_id, actor.username)
    text = (
        f"⚠️ {who} approved their own release as an admin (bypass) for "
        f"*{esc(environment, 60)}*: {esc(reason, 1000) or '(no reason given)'}"
    )
    if approvals is not None:
        text += f" · approvals {approvals.current}/{approvals.required}"
        if approvals.current < approvals.required:
            text += " (the gate opens when the count reaches the requirement)"
    return _notice(text)


def plan_approved_notice(actor: Person, environment: str) -> Message:
    who = mention(actor.slack_id, actor.username)
    return _notice(f"✅ {who} approved the plan for *{esc(environment, 60)}*.")


def plan_rejected_notice(actor: Person, environment: str, reason: str) -> Message:
    who = mention(actor.slack_id, actor.username)
    text = f"⛔ {who} rejected the plan for *{esc(environment, 60)}*"
    if reason.strip():
        text += f": {esc(reason, 1000)}"
    return _notice(text)
