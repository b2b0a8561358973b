"""Emoji and words for every stage status, gate requirement, vote and outcome.

Unicode emoji rather than `:shortcodes:` so the fallback text, notifications and the sandbox
show the same thing Slack does.
"""

from __future__ import annotations

from blocks.model import (
    Outcome,
    Requirement,
    RequirementKind,
    Stage,
    StageKind,
    StageStatus,
    Verdict,
)
from blocks.text import duration_words

_EMOJI = {
    StageStatus.PENDING: "⏸️",
    StageStatus.BLOCKED: "✋",
    StageStatus.RUNNING: "🔄",
    StageStatus.AWAITING_APPROVAL: "🟣",
    StageStatus.APPROVED: "👍",
    StageStatus.SUCCEEDED: "✅",
    StageStatus.FAILED: "❌",
    StageStatus.REJECTED: "⛔",
    StageStatus.CANCELLED: "🚫",
    StageStatus.UNKNOWN: "❔",
}

_RUNNING_WORDS = {
    StageKind.DEPLOY: "deploying",
    StageKind.WAIT: "waiting",
    StageKind.PLAN: "planning",
    StageKind.UNKNOWN: "running",
}
_SUCCEEDED_WORDS = {
    StageKind.DEPLOY: "deployed",
    StageKind.WAIT: "done",
    StageKind.PLAN: "approved",
    StageKind.UNKNOWN: "succeeded",
}
_STATUS_WORDS = {
    StageStatus.PENDING: "pending",
    StageStatus.BLOCKED: "held by its gate",
    StageStatus.AWAITING_APPROVAL: "awaiting approval",
    StageStatus.APPROVED: "approved",
    StageStatus.FAILED: "failed",
    StageStatus.REJECTED: "rejected",
    StageStatus.CANCELLED: "cancelled",
    StageStatus.UNKNOWN: "unknown status",
}

OUTCOME_EMOJI = {
    Outcome.RUNNING: "🚀",
    Outcome.SUCCEEDED: "✅",
    Outcome.FAILED: "❌",
    Outcome.CANCELLED: "🚫",
}
OUTCOME_WORDS = {
    Outcome.RUNNING: "in progress",
    Outcome.SUCCEEDED: "succeeded",
    Outcome.FAILED: "failed",
    Outcome.CANCELLED: "cancelled",
}
VERDICT_EMOJI = {Verdict.APPROVED: "✅", Verdict.REJECTED: "❌", Verdict.BYPASSED: "⚠️"}
VERDICT_WORDS = {
    Verdict.APPROVED: "approved",
    Verdict.REJECTED: "rejected",
    Verdict.BYPASSED: "bypassed the gate",
}


def stage_emoji(stage: Stage) -> str:
    if stage.kind is StageKind.WAIT and stage.status is StageStatus.RUNNING:
        return "⏳"
    return _EMOJI[stage.status]


def stage_verb(kind: StageKind) -> str:
    """The stage's name before its environment: `deploy staging`, `plan production`."""
    return {StageKind.DEPLOY: "deploy", StageKind.PLAN: "plan", StageKind.WAIT: "wait"}.get(
        kind, "stage"
    )


def stage_words(stage: Stage) -> str:
    """What the stage is doing, in a few words (no markup, no untrusted text, no clock)."""
    status, kind = stage.status, stage.kind
    if status is StageStatus.RUNNING:
        return _RUNNING_WORDS[kind]
    if status is StageStatus.SUCCEEDED:
        if kind is StageKind.PLAN and stage.auto_approve:
            return "auto-approved"
        return _SUCCEEDED_WORDS[kind]
    return _STATUS_WORDS[status]


def wait_label(stage: Stage) -> str:
    """A wait stage has no environment: name it by its length."""
    if stage.duration_seconds:
        return duration_words(stage.duration_seconds)
    return ""


def requirement_emoji(requirement: Requirement, finished: bool = False) -> str:
    if requirement.passed:
        return "✅"
    if requirement.kind in (RequirementKind.APPROVAL, RequirementKind.SOAK_TIME) and not finished:
        return "⏳"
    return "❌"


def status_emoji(status: StageStatus) -> str:
    return _EMOJI[status]


def step_words(status: StageStatus) -> str:
    if status is StageStatus.RUNNING:
        return "deploying"
    if status is StageStatus.SUCCEEDED:
        return "deployed"
    if status is StageStatus.PENDING:
        return "queued"
    return _STATUS_WORDS[status]
