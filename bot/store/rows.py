"""What the store hands back: plain frozen values, detached from any database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

AUDIT_ACTIONS: Final = frozenset({"approve", "reject", "bypass", "plan_approve", "plan_reject"})
AUDIT_RESULTS: Final = frozenset({"recorded", "refused", "unreachable", "error"})


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    team_id: str
    channel_id: str
    organisation: str
    project: str
    environment: str | None  # None: every environment
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    """The Slack message showing one release intent in one channel (ts None: not posted yet)."""

    intent_id: str
    channel_id: str
    team_id: str
    organisation: str
    project: str
    ts: str | None
    digest: str
    version: int
    finished: bool
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedUser:
    team_id: str
    slack_user_id: str
    forest_user_id: str
    username: str
    token: str = field(repr=False)  # decrypted; kept out of reprs and logs
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One vote, bypass or plan decision made from Slack, with Forest's answer."""

    team_id: str
    slack_user_id: str
    forest_user_id: str
    action: str  # one of AUDIT_ACTIONS
    organisation: str
    project: str
    intent_id: str
    environment: str = ""
    stage_id: str = ""
    comment: str = ""
    result: str = ""  # one of AUDIT_RESULTS
    detail: str = ""
    at: datetime | None = None  # None: the time it is stored
