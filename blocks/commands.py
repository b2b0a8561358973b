"""Answers to `/forest help`, `/forest list` and `/forest pending`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from blocks import ids
from blocks.kit import Block, Message, button, context, header, message, section
from blocks.limits import MAX_BLOCKS_PER_MESSAGE, MAX_MESSAGE_BLOCK_TEXT, message_text_length
from blocks.model import PendingItem, StageKind, Subscription
from blocks.release import release_name, release_version
from blocks.text import esc, plural

BLOCK_HELP = "forest.help.v1"
BLOCK_LIST = "forest.list.v1"
BLOCK_PENDING = "forest.pending.v1"  # + ".{n}"
BLOCK_PENDING_MORE = "forest.pending.more.v1"

_SAFE_URL = re.compile(r"https?://[^\s<>|]{1,2000}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,30}")

HELP_LINES = (
    ("/forest subscribe org/project", "post this project's releases in this channel"),
    ("/forest unsubscribe org/project", "stop posting them here"),
    ("/forest list", "what this channel follows"),
    ("/forest pending", "releases and plans waiting for your decision"),
    ("/forest login", "link your Forest account (needed to vote)"),
    ("/forest logout", "unlink it and delete the stored token"),
    ("/forest whoami", "which Forest account you are linked to"),
    ("/forest help", "this help"),
)


def help_message() -> Message:
    lines = "\n".join(f"`{command}` · {words}" for command, words in HELP_LINES)
    text = (
        "*Forest in Slack.* Releases of subscribed projects appear as one message each, kept "
        "current: approve or reject approval gates, review and decide plans, right there.\n\n"
        + lines
    )
    return message("Forest bot: commands", [section(text, BLOCK_HELP)])


def _subscription_line(subscription: Subscription) -> str:
    line = f"• *{esc(release_name_of(subscription), 120)}*"
    if subscription.channel_id and _CHANNEL.fullmatch(subscription.channel_id):
        line += f" in <#{subscription.channel_id}>"
    return line


def release_name_of(subscription: Subscription) -> str:
    return f"{subscription.organisation}/{subscription.project}"


def subscriptions_message(subscriptions: Sequence[Subscription]) -> Message:
    """`/forest list`: what this channel (or the workspace) follows."""
    if not subscriptions:
        text = "This channel follows no Forest project. Try `/forest subscribe org/project`."
        return message(text, [section(text, BLOCK_LIST)])
    lines = [_subscription_line(s) for s in subscriptions]
    text = f"*Following {plural(len(subscriptions), 'project')}:*\n" + "\n".join(lines)
    fallback = f"Following {plural(len(subscriptions), 'project')}"
    return message(fallback, [section(text, BLOCK_LIST)])


def pending_line(item: PendingItem) -> str:
    """`🟣 *acme/api* `3f2a9c1` → *production* · plan awaits approval · “title”`."""
    release = item.release
    env = esc(item.environment, 60)
    what = "🟣 plan awaits approval"
    if item.kind is not StageKind.PLAN:
        gate = release.gate(item.environment)
        count = ""
        if gate is not None and gate.approvals is not None:
            count = f" ({gate.approvals.current}/{gate.approvals.required})"
        what = f"⏳ needs approval{count}"
    line = (
        f"*{esc(release_name(release), 120)}* `{esc(release_version(release))}` → *{env}* · {what}"
    )
    if release.commit.title.strip():
        line += f" · “{esc(release.commit.title, 150)}”"
    return line


def pending_item_block(item: PendingItem, n: int) -> Block:
    accessory = None
    if item.permalink and _SAFE_URL.fullmatch(item.permalink):
        accessory = button("Open", ids.ACTION_OPEN_LINK, url=item.permalink)
    return section(pending_line(item), f"{BLOCK_PENDING}.{n}", accessory=accessory)


def pending_blocks(
    items: Sequence[PendingItem], max_items: int, text_budget: int | None = None
) -> list[Block]:
    """One section per item, stopping at `max_items` or `text_budget` characters, and a
    context counting the rest."""
    blocks: list[Block] = []
    used = 0
    for n, item in enumerate(items[:max_items]):
        block = pending_item_block(item, n)
        size = message_text_length([block])
        if text_budget is not None and used + size > text_budget:
            break
        blocks.append(block)
        used += size
    hidden = len(items) - len(blocks)
    if hidden:
        blocks.append(
            context(
                f"_+{plural(hidden, 'more item')}: see the channels' messages._",
                block_id=BLOCK_PENDING_MORE,
            )
        )
    return blocks


def pending_message(items: Sequence[PendingItem]) -> Message:
    """`/forest pending`: what waits for the caller's decision."""
    if not items:
        text = "🎉 Nothing is waiting for your decision."
        return message(text, [section(text, BLOCK_PENDING)])
    title = f"{plural(len(items), 'decision')} waiting for you"
    more = pending_blocks(items, MAX_BLOCKS_PER_MESSAGE - 3, MAX_MESSAGE_BLOCK_TEXT - 1000)
    blocks = [header(title), *more]
    return message(title, blocks)
