"""One line per gate requirement, built from facts that change only when something a person
should see changes.

Forest's reason texts for soak time carry seconds that move on every read ("soak: 1234s of
1800s since staging succeeded"); echoing them would make every refresh a new message and spend
Slack's chat.update budget for nothing. Soak time therefore renders from its policy's config
and the source deploy's finish time (`SoakFacts`), and approvals from their counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from blocks.model import Requirement, RequirementKind, SoakFacts
from blocks.status import requirement_emoji
from blocks.text import duration_words, esc, slack_time

_ENV = 60
_NAME = 80


def soak_opens_at(facts: SoakFacts) -> datetime | None:
    """When the soak is over, or None while the source deploy has not finished (or the sum
    overflows a datetime: a duration no real policy has)."""
    if facts.source_finished_at is None:
        return None
    try:
        return facts.source_finished_at + timedelta(seconds=facts.duration_seconds)
    except OverflowError:
        return None


def soak_words(facts: SoakFacts, *, passed: bool, finished: bool) -> str:
    """`Soak 30 min after staging`, with when it opens while the release still waits for it:
    `: opens <!date…>` (a Slack date token, each reader's own time zone) or
    ` (starts when staging is deployed)`."""
    source = esc(facts.source_environment, _ENV) or "the source environment"
    words = f"Soak {duration_words(facts.duration_seconds)} after {source}"
    if passed or finished:
        return words
    if facts.source_finished_at is None:
        return f"{words} (starts when {source} is deployed)"
    opens = soak_opens_at(facts)
    if opens is None:
        return words
    return f"{words}: opens {slack_time(opens, facts.duration_seconds)}"


def requirement_line(requirement: Requirement, *, finished: bool, reason_limit: int) -> str:
    """`✅ Soak 30 min after staging`, `⏳ *two-approvers* — approvals 1/2`,
    `✅ *main-only* — branch 'main' matches /^main$/`."""
    emoji = requirement_emoji(requirement, finished)
    facts = requirement.soak
    if facts is not None:
        return f"{emoji} {soak_words(facts, passed=requirement.passed, finished=finished)}"
    line = f"{emoji} *{esc(requirement.name, _NAME)}*"
    if requirement.kind is RequirementKind.SOAK_TIME:
        return line  # its policy is unknown: the name only, never Forest's ticking reason
    if requirement.kind is RequirementKind.APPROVAL and requirement.approvals is not None:
        counts = requirement.approvals
        return f"{line} — approvals {counts.current}/{counts.required}"
    # Branch reasons are static; others are Forest's own words, shown as they are.
    if requirement.reason.strip():
        line += f" — {esc(requirement.reason, reason_limit)}"
    return line
