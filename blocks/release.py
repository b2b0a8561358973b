"""The release message (DESIGN.md §1): one message per release intent, kept current in place.

`release_message(release)` is a pure function of the view model alone: no clock, and nothing
from Forest that changes on every read (soak time renders from its facts, a running wait stage
from its end as a Slack date token). Same release, byte-identical output, whenever it is
rendered: the refresher hashes it to decide whether chat.update is needed at all.

When a release has more stages, gates or decisions than fit Slack's limits, the message is
rendered again with a tighter budget, and whatever is left out is counted on screen
("+6 more stages", "+14 earlier decisions").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from blocks import ids
from blocks.kit import (
    Block,
    Message,
    actions,
    button,
    confirm,
    context,
    header,
    message,
    section,
)
from blocks.limits import MAX_BLOCKS_PER_MESSAGE, MAX_MESSAGE_BLOCK_TEXT, MAX_MESSAGE_TEXT
from blocks.limits import message_text_length as _text_length
from blocks.model import Decision, Gate, Outcome, Release, Stage, StageKind
from blocks.model import StageStatus as S
from blocks.requirements import requirement_line
from blocks.status import (
    OUTCOME_EMOJI,
    OUTCOME_WORDS,
    VERDICT_EMOJI,
    VERDICT_WORDS,
    stage_emoji,
    stage_verb,
    stage_words,
    status_emoji,
    step_words,
    wait_label,
)
from blocks.text import clip, clip_markup, esc, mention, plural, short_sha, slack_date, slack_time

BLOCK_HEADER = "forest.release.header.v1"
BLOCK_CONTEXT = "forest.release.context.v1"
BLOCK_OUTCOME = "forest.release.outcome.v1"
BLOCK_PIPELINE = "forest.release.pipeline.v1"
BLOCK_PLAN_ACTIONS = "forest.release.plan_actions.v1"  # + ".{n}"
BLOCK_GATE = "forest.release.gate.v1"  # + ".{n}"
BLOCK_HISTORY = "forest.release.history.v1"  # + ".{n}"
BLOCK_GATE_ACTIONS = "forest.release.gate_actions.v1"  # + ".{n}"
BLOCK_MORE = "forest.release.more.v1"

# Stay clear of the undocumented msg_blocks_too_long threshold with a margin.
_TEXT_BUDGET = MAX_MESSAGE_BLOCK_TEXT - 500
_ENV = 60
_NAME = 80


@dataclass(frozen=True, slots=True)
class _Budget:
    stages: int
    gates: int
    plans: int
    requirements: int
    decisions: int
    comment: int
    title: int
    reason: int


# Tried in order until the message fits; each row shows less than the one before.
_BUDGETS = tuple(
    _Budget(*row)
    for row in (
        # stages, gates, plans, requirements, decisions, comment, title, reason
        (30, 6, 4, 8, 20, 300, 200, 300),
        (20, 5, 3, 6, 10, 150, 150, 200),
        (12, 4, 3, 5, 6, 80, 100, 120),
        (8, 3, 2, 4, 3, 40, 60, 60),
        (5, 2, 1, 3, 2, 20, 40, 30),
    )
)


def release_ref(release: Release, environment: str = "", stage_id: str = "") -> ids.ReleaseRef:
    return ids.ReleaseRef(
        release.organisation, release.project, release.intent_id, environment, stage_id
    )


def release_name(release: Release) -> str:
    """`acme/api` — raw; escape before putting it into mrkdwn."""
    return f"{release.organisation}/{release.project}"


def release_version(release: Release) -> str:
    """`3f2a9c1`, or the artifact id's start when no commit is known. Raw."""
    return short_sha(release.commit.sha) or clip(release.artifact_id, 12) or "unknown"


def _stage_line(stage: Stage, budget: _Budget) -> str:
    if stage.kind is StageKind.WAIT:
        target = wait_label(stage)
    else:
        target = f"*{esc(stage.environment, _ENV)}*" if stage.environment else ""
    line = f"{stage_emoji(stage)} {stage_verb(stage.kind)} {target}".rstrip()
    if stage.kind is StageKind.WAIT and stage.status is S.RUNNING and stage.wait_until:
        # Its end, not a countdown: "7 min left" would change the message every minute.
        line += f": until {slack_time(stage.wait_until, stage.duration_seconds or 0)}"
    else:
        line += f" · {stage_words(stage)}"
        if stage.kind is StageKind.PLAN and stage.decided_by is not None and not stage.auto_approve:
            line += f" by {mention(stage.decided_by.slack_id, stage.decided_by.username)}"
    if _error_worth_showing(stage):
        line += f": {esc(stage.error, budget.reason)}"
    return line


def _error_worth_showing(stage: Stage) -> bool:
    """Forest's error, unless it only repeats the status ("plan rejected")."""
    if stage.status not in (S.FAILED, S.REJECTED) or not stage.error.strip():
        return False
    return stage.error.strip().lower() not in ("plan rejected", "rejected", "failed")


def _pipeline_text(release: Release, budget: _Budget) -> str:
    if not release.stages:
        if not release.steps:
            return "⏸️ waiting for Forest to schedule this release"
        lines = [
            f"{status_emoji(step.status)} *{esc(step.destination, _ENV)}* "
            f"({esc(step.environment, _ENV)}) · {step_words(step.status)}"
            + (f": {esc(step.error, budget.reason)}" if step.error else "")
            for step in release.steps[: budget.stages]
        ]
        hidden = len(release.steps) - len(lines)
        if hidden > 0:
            lines.append(f"_+{plural(hidden, 'more destination')}_")
        return "\n".join(lines)
    stages = release.stages
    first_open = next((i for i, s in enumerate(stages) if s.status is not S.SUCCEEDED), len(stages))
    before = max(0, min(first_open, len(stages) - budget.stages))
    shown = stages[before : before + budget.stages]
    after = len(stages) - before - len(shown)
    lines = [_stage_line(s, budget) for s in shown]
    if before:
        lines.insert(0, f"✅ _{plural(before, 'earlier stage')} done_")
    if after:
        lines.append(f"_+{plural(after, 'more stage')}_")
    return "\n".join(lines)


def _decision_line(decision: Decision, budget: _Budget) -> str:
    who = mention(decision.voter.slack_id, decision.voter.username)
    line = f"{VERDICT_EMOJI[decision.verdict]} {who} {VERDICT_WORDS[decision.verdict]}"
    if decision.comment.strip():
        line += f" · “{esc(decision.comment, budget.comment)}”"
    if decision.decided_at is not None:
        line += f" · {slack_date(decision.decided_at)}"
    return line


def _approvals_words(gate: Gate) -> str:
    if gate.approvals is None:
        return ""
    return f"approvals {gate.approvals.current}/{gate.approvals.required}"


def _gate_blocks(release: Release, gate: Gate, n: int, budget: _Budget) -> list[Block]:
    env = esc(gate.environment, _ENV)
    if gate.passed:
        verdict = "✅ passed"
    elif release.finished:
        verdict = "❌ not passed"
    else:
        verdict = "⏳ waiting"
    title = f"*{env}* gate · {verdict}"
    if gate.approvals is not None:
        title += f" · {_approvals_words(gate)}"
    lines = [title]
    lines += [
        requirement_line(r, finished=release.finished, reason_limit=budget.reason)
        for r in gate.requirements[: budget.requirements]
    ]
    hidden = len(gate.requirements) - budget.requirements
    if hidden > 0:
        lines.append(f"_+{plural(hidden, 'more requirement')}_")
    blocks = [section("\n".join(lines), f"{BLOCK_GATE}.{n}")]

    if gate.decisions:
        shown = gate.decisions[-budget.decisions :] if budget.decisions else ()
        history = [_decision_line(d, budget) for d in shown]
        earlier = len(gate.decisions) - len(shown)
        if earlier:
            history.insert(0, f"_+{plural(earlier, 'earlier decision')}_")
        blocks.append(section("\n".join(history), f"{BLOCK_HISTORY}.{n}"))
    elif gate.approvals is not None:
        blocks.append(context("_No votes yet._", block_id=f"{BLOCK_HISTORY}.{n}"))

    if gate.accepting_votes and not release.finished:
        several = len(release.open_gates) > 1
        suffix = f" {clip(gate.environment, 30)}" if several else ""
        value = _value(release, gate.environment)
        if value is None:
            blocks.append(_no_buttons(f"{BLOCK_GATE_ACTIONS}.{n}"))
            return blocks
        blocks.append(
            actions(
                [
                    button(f"Approve{suffix}", ids.ACTION_APPROVE, value=value, style="primary"),
                    button(f"Reject{suffix}…", ids.ACTION_REJECT, value=value),
                    button(
                        f"Bypass{suffix}… (admin)", ids.ACTION_BYPASS, value=value, style="danger"
                    ),
                ],
                block_id=f"{BLOCK_GATE_ACTIONS}.{n}",
            )
        )
    return blocks


def _value(release: Release, environment: str, stage_id: str = "") -> str | None:
    """The button value, or None when Forest's ids can't fit one (absurdly long names)."""
    try:
        return ids.encode_value(release_ref(release, environment, stage_id))
    except ValueError:
        return None


def _no_buttons(block_id: str) -> Block:
    return context(
        "⚠️ _This release's ids are too long for Slack buttons: decide in Forest._",
        block_id=block_id,
    )


def _plan_actions(release: Release, stage: Stage, n: int, several: bool) -> Block:
    env = clip(stage.environment, 30)
    suffix = f" {env}" if several and env else ""
    value = _value(release, stage.environment, stage.stage_id)
    if value is None:
        return _no_buttons(f"{BLOCK_PLAN_ACTIONS}.{n}")
    where = f" for {clip(stage.environment, 60)}" if stage.environment else ""
    return actions(
        [
            button(
                f"Approve plan{suffix}",
                ids.ACTION_PLAN_APPROVE,
                value=value,
                style="primary",
                confirm_dialog=confirm(
                    "Approve this plan?",
                    f"Approve the plan{where}? The pipeline continues to the next stages. "
                    "A plan decision is final.",
                    "Approve plan",
                ),
            ),
            button(
                f"Reject plan{suffix}…",
                ids.ACTION_PLAN_REJECT,
                value=value,
                style="danger",
                confirm_dialog=confirm(
                    "Reject this plan?",
                    f"Reject the plan{where}? The release fails and its later stages are "
                    "cancelled. A plan decision is final.",
                    "Reject plan…",
                    danger=True,
                ),
            ),
            button(f"View plan{suffix}", ids.ACTION_PLAN_VIEW, value=value),
        ],
        block_id=f"{BLOCK_PLAN_ACTIONS}.{n}",
    )


def _context_text(release: Release, budget: _Budget) -> str:
    commit = release.commit
    parts: list[str] = []
    sha = short_sha(commit.sha)
    if commit.branch and sha:
        parts.append(f"{esc(commit.branch, _NAME)} @ `{esc(sha)}`")
    elif commit.branch or sha:
        parts.append(esc(commit.branch, _NAME) or f"`{esc(sha)}`")
    elif release.artifact_id:
        parts.append(f"artifact `{esc(release.artifact_id, 40)}`")
    if commit.title.strip():
        parts.append(f"“{esc(commit.title, budget.title)}”")
    if release.author is not None and (release.author.slack_id or release.author.username):
        parts.append(f"by {mention(release.author.slack_id, release.author.username)}")
    if release.created_at is not None:
        parts.append(slack_date(release.created_at))
    return " · ".join(parts) or "release"


def _outcome_text(release: Release, budget: _Budget) -> str:
    text = f"{OUTCOME_EMOJI[release.outcome]} *Release {OUTCOME_WORDS[release.outcome]}*"
    culprit = next((s for s in release.stages if s.status in (S.FAILED, S.REJECTED)), None)
    if release.outcome is Outcome.FAILED and culprit is not None:
        target = esc(culprit.environment, _ENV) or wait_label(culprit)
        if culprit.status is S.REJECTED:
            text += f" · the plan for *{target}* was rejected"
        else:
            text += f" · {stage_verb(culprit.kind)} *{target}* failed"
        if _error_worth_showing(culprit):
            text += f": {esc(culprit.error, budget.reason)}"
    elif release.outcome is Outcome.FAILED:
        step = next((s for s in release.steps if s.status is S.FAILED), None)
        if step is not None:
            text += f" · {esc(step.destination, _ENV)} failed"
            if step.error:
                text += f": {esc(step.error, budget.reason)}"
    return text


def _header_text(release: Release) -> str:
    envs = ", ".join(release.environments)
    target = f" → {envs}" if envs else ""
    return (
        f"{OUTCOME_EMOJI[release.outcome]} {release_name(release)} · "
        f"release {release_version(release)}{target}"
    )


def _activity(release: Release) -> str:
    """What a running release is doing, for the fallback text: its first unfinished stage."""
    current = next((s for s in release.stages if s.status is not S.SUCCEEDED), None)
    if current is None:
        return OUTCOME_WORDS[release.outcome]
    target = esc(current.environment, _ENV) or wait_label(current)
    return f"{stage_verb(current.kind)} {target}".rstrip() + f" {stage_words(current)}"


def release_fallback_text(release: Release) -> str:
    """The plain `text`: notifications, screen readers, old clients. Escaped, ≤ 4,000."""
    name = esc(release_name(release), 200)
    envs = esc(", ".join(release.environments), 300)
    summary = f"{name} release {esc(release_version(release))}"
    if envs:
        summary += f" → {envs}"
    if release.finished:
        summary += f": {OUTCOME_WORDS[release.outcome]}"
    else:
        waiting = [
            f"plan for {esc(s.environment, _ENV)} awaits approval" for s in release.awaiting_plans
        ]
        waiting += [
            f"{esc(g.environment, _ENV)} needs approval ({_approvals_words(g)})"
            for g in release.open_gates
        ]
        if not waiting:
            waiting = [_activity(release)]
        summary += ": " + "; ".join(waiting)
    if release.commit.title.strip():
        summary += f" · “{esc(release.commit.title, 200)}”"
    return clip_markup(summary, MAX_MESSAGE_TEXT)


def _render(release: Release, budget: _Budget) -> list[Block]:
    blocks: list[Block] = [
        header(_header_text(release), BLOCK_HEADER),
        context(_context_text(release, budget), block_id=BLOCK_CONTEXT),
    ]
    if release.finished:
        blocks.append(section(_outcome_text(release, budget), BLOCK_OUTCOME))
    blocks.append(section(_pipeline_text(release, budget), BLOCK_PIPELINE))

    plans = release.awaiting_plans
    for n, stage in enumerate(plans[: budget.plans]):
        blocks.append(_plan_actions(release, stage, n, several=len(plans) > 1))

    gates = release.gates[: budget.gates]
    for n, gate in enumerate(gates):
        blocks.extend(_gate_blocks(release, gate, n, budget))

    hidden = []
    if len(plans) > budget.plans:
        hidden.append(f"+{plural(len(plans) - budget.plans, 'more plan')} awaiting approval")
    if len(release.gates) > budget.gates:
        hidden.append(f"+{plural(len(release.gates) - budget.gates, 'more gated environment')}")
    if hidden:
        blocks.append(context("_" + " · ".join(hidden) + " (see Forest)_", block_id=BLOCK_MORE))
    return blocks


def _fits(blocks: list[Block]) -> bool:
    return len(blocks) <= MAX_BLOCKS_PER_MESSAGE and _text_length(blocks) <= _TEXT_BUDGET


def release_message(release: Release, *, now: datetime | None = None) -> Message:
    """Blocks and fallback text for the release message, within every Slack limit.

    `now` is accepted and ignored, for callers written when the wait stage counted down: the
    message is the same whenever it is rendered.
    """
    del now
    blocks: list[Block] = []
    for budget in _BUDGETS:
        blocks = _render(release, budget)
        if _fits(blocks):
            break
    return message(release_fallback_text(release), blocks)
