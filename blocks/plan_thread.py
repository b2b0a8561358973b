"""Plan posts for the release message's thread: one per destination of a plan stage.

Each post starts with a summary (`+2 to add, ~1 to change, -0 to destroy` and the resource
addresses grouped by action), then the plan itself: inline in code blocks split on line
boundaries when it fits one message, otherwise a note that the full text follows as a file,
and `ThreadPost.upload` holding that file for the bot to upload into the thread. Nothing is
ever truncated silently: every cut is counted on screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from blocks.kit import Block, context, section
from blocks.limits import MAX_BLOCKS_PER_MESSAGE, MAX_MESSAGE_BLOCK_TEXT, MAX_SECTION_TEXT
from blocks.model import Plan, PlanDestination, Release
from blocks.release import release_name, release_version
from blocks.terraform import Action, PlanKind, PlanSummary, strip_ansi, summarize_plan
from blocks.text import clip_markup, clip_mrkdwn, esc, plain_title, plural

BLOCK_PLAN_SUMMARY = "forest.plan.summary.v1"
BLOCK_PLAN_RESOURCES = "forest.plan.resources.v1"
BLOCK_PLAN_DIFF = "forest.plan.diff.v1"  # + ".{n}"
BLOCK_PLAN_FILE = "forest.plan.file.v1"

_FENCE = "```"
# Slack documents no limit for a file's title; this keeps it a readable one-liner.
MAX_FILE_TITLE = 200
# Room for the summary blocks inside the message's text budget.
_RESOURCES_BUDGET = 2500
_INLINE_BUDGET = MAX_MESSAGE_BLOCK_TEXT - _RESOURCES_BUDGET - 1500
_CHUNK = MAX_SECTION_TEXT - 2 * len(_FENCE) - 2
_MAX_DIFF_BLOCKS = MAX_BLOCKS_PER_MESSAGE - 5
_ADDRESSES_PER_ACTION = 8
_ADDRESS = 120
_FENCE_IN_TEXT = re.compile("`{3,}")

_ACTION_ORDER = (
    (Action.CREATE, "+", "create"),
    (Action.UPDATE, "~", "update in place"),
    (Action.REPLACE, "-/+", "replace"),
    (Action.DESTROY, "-", "destroy"),
    (Action.IMPORT, "⇢", "import"),
    (Action.MOVE, "→", "move"),
    (Action.READ, "&lt;=", "read"),
)


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file the bot must upload into the thread (files_upload_v2 with thread_ts)."""

    filename: str
    title: str
    content: str
    snippet_type: str = "text"


@dataclass(frozen=True, slots=True)
class ThreadPost:
    """One chat.postMessage into the thread, then (when `upload` is set) one file upload."""

    text: str
    blocks: list[Block]
    upload: FileUpload | None = None


def _summary_line(summary: PlanSummary) -> str:
    if summary.kind is PlanKind.NO_CHANGES:
        return "✅ *No changes.* Your infrastructure matches the configuration."
    if summary.kind is PlanKind.ERROR:
        first = esc(summary.errors[0], 300) if summary.errors else "error"
        return f"❌ *The plan failed* with {plural(len(summary.errors), 'error')}: {first}"
    if summary.kind is PlanKind.UNKNOWN:
        return "📄 _No terraform summary found in this output; it is shown as it is._"
    line = f"📋 *{summary.counts_text}*"
    if summary.errors:
        line += f" · ⚠️ {plural(len(summary.errors), 'error')}"
    if not summary.counted:
        line += " _(counted from the resource headers; no `Plan:` line found)_"
    return line


def _resources_text(summary: PlanSummary) -> str:
    lines: list[str] = []
    for action, symbol, words in _ACTION_ORDER:
        changes = summary.by_action(action)
        if not changes:
            continue
        shown = ", ".join(
            f"`{esc(c.address, _ADDRESS)}`"
            + (f" → `{esc(c.moved_to, _ADDRESS)}`" if c.moved_to else "")
            + (f" ({c.replace_order})" if c.replace_order == "+/-" else "")
            for c in changes[:_ADDRESSES_PER_ACTION]
        )
        more = len(changes) - _ADDRESSES_PER_ACTION
        if more > 0:
            shown += f" _+{more} more_"
        lines.append(f"*{symbol} {words}* ({len(changes)}): {shown}")
    return "\n".join(lines)


def _chunks(text: str) -> list[str] | None:
    """Escaped code blocks of whole lines, or None when the text can't be shown inline."""
    if len(text) > _INLINE_BUDGET:  # escaping only grows it
        return None
    escaped_lines = (
        esc(_FENCE_IN_TEXT.sub(lambda m: "`\u200b" * len(m.group()), line), single_line=False)
        for line in text.split("\n")
    )
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    total = 0
    for line in escaped_lines:
        if len(line) > _CHUNK:
            return None
        if size + len(line) + 1 > _CHUNK and current:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
        total += len(line) + 1
        if total > _INLINE_BUDGET:
            return None
    if current:
        chunks.append("\n".join(current))
    if len(chunks) > _MAX_DIFF_BLOCKS:
        return None
    return [f"{_FENCE}\n{chunk}\n{_FENCE}" for chunk in chunks]


def _filename(plan: Plan, destination: PlanDestination) -> str:
    raw = f"plan-{plan.environment}-{destination.destination}"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-")[:100] or "plan"
    return f"{safe}.txt"


def _size_words(text: str) -> str:
    size = len(text.encode())
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size} bytes"


def plan_post(release: Release, plan: Plan, destination: PlanDestination) -> ThreadPost:
    """The thread post for one destination's plan (see the module docstring)."""
    output = strip_ansi(destination.output or "").replace("\r\n", "\n").rstrip("\n")
    summary = summarize_plan(output)
    where = esc(plan.environment, 60) or "plan"
    dest = esc(destination.destination, 60)
    title = (
        f"*Plan for {where}* · {dest} · {esc(release_name(release), 100)} "
        f"`{esc(release_version(release))}`"
    )
    blocks: list[Block] = [
        section(f"{title}\n{_summary_line(summary)}", BLOCK_PLAN_SUMMARY),
    ]
    resources = _resources_text(summary)
    if resources:
        blocks.append(section(clip_mrkdwn(resources, _RESOURCES_BUDGET), BLOCK_PLAN_RESOURCES))

    upload: FileUpload | None = None
    if not output.strip():
        blocks.append(context("_Forest recorded no plan output for this destination._"))
    else:
        chunks = _chunks(output)
        if chunks is not None:
            blocks.extend(
                section(chunk, f"{BLOCK_PLAN_DIFF}.{n}") for n, chunk in enumerate(chunks)
            )
        else:
            lines = output.count("\n") + 1
            upload = FileUpload(
                filename=_filename(plan, destination),
                title=plain_title(
                    f"Plan for {plan.environment or 'plan'} · {destination.destination}",
                    MAX_FILE_TITLE,
                ),
                content=output,
            )
            blocks.append(
                context(
                    f"📎 The full plan ({plural(lines, 'line')}, {_size_words(output)}) is too "
                    "long for a message: it is attached below as a file.",
                    block_id=BLOCK_PLAN_FILE,
                )
            )
    fallback = f"Plan for {where} ({dest}): " + (
        summary.counts_text if summary.kind is PlanKind.CHANGES else summary.kind.replace("_", " ")
    )
    return ThreadPost(
        text=clip_markup(fallback, 1000),
        blocks=blocks,
        upload=upload,
    )


def plan_posts(release: Release, plan: Plan) -> list[ThreadPost]:
    """All posts for one plan stage, one per destination (or one saying there is none)."""
    if not plan.destinations:
        where = esc(plan.environment, 60) or "this stage"
        text = f"No plan output is available for {where} yet."
        return [ThreadPost(text=text, blocks=[section(f"📋 {text}", BLOCK_PLAN_SUMMARY)])]
    return [plan_post(release, plan, destination) for destination in plan.destinations]
