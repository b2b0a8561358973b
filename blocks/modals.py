"""Modals: Reject (optional comment), Bypass (required reason), Reject plan (reason) and Link
account (paste a Forest personal access token).

Each carries its ids in `private_metadata` (`blocks.ids.encode_metadata`) and reads its input
from `view.state.values[<ids.*_BLOCK>][<ids.*_INPUT>]` (`blocks.ids.modal_input`). Modal
submit buttons cannot be styled, so Bypass says what it does in a warning section and in the
submit label.
"""

from __future__ import annotations

import re
from typing import Any

from blocks import ids
from blocks.kit import MAX_PLACEHOLDER, Block, context, plain_text, section
from blocks.limits import MAX_MODAL_TITLE
from blocks.model import Release
from blocks.release import release_name, release_version
from blocks.text import clip, esc, mention

View = dict[str, Any]

_SAFE_URL = re.compile(r"https?://[^\s<>|]{1,2000}")


def _modal(
    callback_id: str,
    title: str,
    submit: str,
    blocks: list[Block],
    private_metadata: str = "",
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, MAX_MODAL_TITLE),
        "submit": plain_text(submit, MAX_MODAL_TITLE),
        "close": plain_text("Cancel", MAX_MODAL_TITLE),
        "blocks": blocks,
    }
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def _text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    optional: bool,
    max_length: int,
    placeholder: str,
    multiline: bool = True,
    hint: str = "",
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain_text(label, 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": action_id,
            "multiline": multiline,
            "max_length": max_length,
            "placeholder": plain_text(placeholder, MAX_PLACEHOLDER),
        },
    }
    if hint:
        block["hint"] = plain_text(hint, 2000)
    return block


def _about(origin: ids.ModalContext, release: Release | None) -> str:
    """`*acme/api* release `3f2a9c1` → *production*` plus the commit title and author."""
    ref = origin.ref
    name = esc(f"{ref.organisation}/{ref.project}", 120)
    version = esc(ref.intent_id[:8], 20)
    if release is not None:
        name = esc(release_name(release), 120)
        version = esc(release_version(release), 20)
    line = f"*{name}* release `{version}`"
    if ref.environment:
        line += f" → *{esc(ref.environment, 60)}*"
    if release is not None:
        if release.commit.title.strip():
            line += f"\n“{esc(release.commit.title, 300)}”"
        if release.author is not None and (release.author.slack_id or release.author.username):
            line += f" by {mention(release.author.slack_id, release.author.username)}"
    return line


def reject_modal(origin: ids.ModalContext, release: Release | None = None) -> View:
    """Reject (a vote, with an optional comment), opened by `ids.ACTION_REJECT`."""
    return _modal(
        ids.CALLBACK_REJECT,
        "Reject release",
        "Reject",
        [
            section(_about(origin, release)),
            context(
                "A rejection is a vote: it replaces your approval, if you gave one, and is "
                "shown in the release's history. It does not cancel the release."
            ),
            _text_input(
                ids.COMMENT_BLOCK,
                ids.COMMENT_INPUT,
                "Comment",
                optional=True,
                max_length=ids.MAX_COMMENT_CHARS,
                placeholder="Why? (shown to everyone in the channel)",
            ),
        ],
        ids.encode_metadata(origin),
    )


def bypass_modal(origin: ids.ModalContext, release: Release | None = None) -> View:
    """Bypass the self-approval rule as an admin author, opened by `ids.ACTION_BYPASS`."""
    env = esc(origin.ref.environment, 60) or "this environment"
    count = ""
    gate = release.gate(origin.ref.environment) if release is not None else None
    if gate is not None and gate.approvals is not None:
        count = f"\nApprovals so far: *{gate.approvals.current}/{gate.approvals.required}*"
    return _modal(
        ids.CALLBACK_BYPASS,
        "Bypass approval gate",
        "Bypass gate",
        [
            section(_about(origin, release) + count),
            section(
                f"⚠️ *You are about to bypass the approval gate for {env}.*\n"
                "It counts *your own approval* although you are the release's author: one "
                "approval, nothing more. The gate opens only when the approvals reach the "
                "requirement. The bypass is recorded with your reason and announced in the "
                "release's thread."
            ),
            _text_input(
                ids.REASON_BLOCK,
                ids.REASON_INPUT,
                "Reason (required)",
                optional=False,
                max_length=ids.MAX_REASON_CHARS,
                placeholder="Why can't this wait for another approval?",
            ),
        ],
        ids.encode_metadata(origin),
    )


def plan_reject_modal(origin: ids.ModalContext, release: Release | None = None) -> View:
    """Reject a plan (final: the release fails), opened by `ids.ACTION_PLAN_REJECT`."""
    return _modal(
        ids.CALLBACK_PLAN_REJECT,
        "Reject plan",
        "Reject plan",
        [
            section(_about(origin, release)),
            section(
                "⛔ *Rejecting the plan is final.* The release fails and its later stages are "
                "cancelled. Forest does not keep the reason, so it is posted in the thread."
            ),
            _text_input(
                ids.REASON_BLOCK,
                ids.REASON_INPUT,
                "Reason",
                optional=False,
                max_length=ids.MAX_REASON_CHARS,
                placeholder="What is wrong with this plan?",
            ),
        ],
        ids.encode_metadata(origin),
    )


def link_account_modal(
    *, token_url: str | None = None, origin: ids.ModalContext | None = None
) -> View:
    """Link the clicker's Forest account by pasting a personal access token.

    `token_url` (from config) is where Forest's web UI creates tokens; shown as a link.
    `origin`, when given, is the action that needed the link, so the bot can resume it.
    """
    where = "your Forest settings, under *Personal access tokens*"
    if token_url and _SAFE_URL.fullmatch(token_url):
        where = f"<{token_url}|your Forest settings> (*Personal access tokens*)"
    return _modal(
        ids.CALLBACK_LINK_ACCOUNT,
        "Link Forest account",
        "Link account",
        [
            section(
                "Votes in Slack are cast *as you*, with your own Forest account, so Forest's "
                "rules and its audit trail stay true."
            ),
            section(f"1. Open {where}.\n2. Create a token for this Slack bot.\n3. Paste it below."),
            _text_input(
                ids.USERNAME_BLOCK,
                ids.USERNAME_INPUT,
                "Forest username",
                optional=False,
                max_length=ids.MAX_USERNAME_CHARS,
                placeholder="Your username in Forest",
                multiline=False,
            ),
            _text_input(
                ids.TOKEN_BLOCK,
                ids.TOKEN_INPUT,
                "Forest personal access token",
                optional=False,
                max_length=ids.MAX_TOKEN_CHARS,
                placeholder="Paste the token here",
                multiline=False,
                hint="Stored encrypted and used only for your own votes and plan decisions. "
                "`/forest logout` forgets it.",
            ),
        ],
        ids.encode_metadata(origin) if origin is not None else "",
    )


def account_linked_modal(username: str) -> View:
    """What the link modal turns into once Forest accepted the token (no submit button)."""
    view = _modal(
        ids.CALLBACK_LINK_ACCOUNT,
        "Forest account linked",
        "Done",
        [
            section(
                f"🔗 Your Slack account is now linked to Forest user *{esc(username, 80)}*. "
                "Approve, Reject and plan decisions are cast as that user."
            ),
            context("`/forest logout` unlinks it and deletes the stored token."),
        ],
    )
    del view["submit"]
    view["close"] = plain_text("Close", MAX_MODAL_TITLE)
    return view


def input_errors(errors: dict[str, str]) -> dict[str, Any]:
    """The ack() payload that shows errors under a modal's inputs, keyed by their block ids
    (e.g. `{ids.TOKEN_BLOCK: "Forest did not accept this token"}`). Messages are plain text."""
    return {
        "response_action": "errors",
        "errors": {
            block_id: clip(message, 150) or "Invalid" for block_id, message in errors.items()
        },
    }
