"""Block Kit constructors: plain dicts, clipped to Slack's limits as they are built.

Callers pass text that is already escaped (mrkdwn) or raw (plain_text, which Slack never
parses for markup). Every constructor enforces its own length limit so nothing built here
can be rejected for size alone.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from blocks.limits import (
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
)
from blocks.text import clip, clip_mrkdwn

Block = dict[str, Any]

# Slack's limits for confirm dialogs and inputs (slack-platform.md; checked by slack_sdk).
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_INPUT_LABEL = 2000
MAX_PLACEHOLDER = 150


class Message(TypedDict):
    """Keyword arguments for chat.postMessage / chat.update / chat.postEphemeral."""

    text: str
    blocks: list[Block]


def plain_text(text: str, limit: int = MAX_SECTION_TEXT, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or "-", "emoji": emoji}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, limit) or " "}


def header(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "header", "text": plain_text(text, MAX_HEADER_TEXT)}
    if block_id:
        block["block_id"] = block_id
    return block


def section(text: str, block_id: str | None = None, *, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str, block_id: str | None = None) -> Block:
    elements = [mrkdwn(t) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    block: Block = {"type": "context", "elements": elements or [mrkdwn(" ")]}
    if block_id:
        block["block_id"] = block_id
    return block


def divider() -> Block:
    return {"type": "divider"}


def confirm(title: str, text: str, yes: str, no: str = "Cancel", *, danger: bool = False) -> Block:
    dialog: Block = {
        "title": plain_text(title, MAX_CONFIRM_TITLE),
        "text": plain_text(text, MAX_CONFIRM_TEXT),
        "confirm": plain_text(yes, MAX_CONFIRM_BUTTON),
        "deny": plain_text(no, MAX_CONFIRM_BUTTON),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    style: Literal["primary", "danger"] | None = None,
    url: str | None = None,
    confirm_dialog: Block | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": plain_text(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
    }
    if value is not None:
        if len(value) > MAX_BUTTON_VALUE:
            raise ValueError("button value too long")
        element["value"] = value
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    if confirm_dialog:
        element["confirm"] = confirm_dialog
    return element


def actions(elements: list[Block], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": elements}
    if block_id:
        block["block_id"] = block_id
    return block


def message(text: str, blocks: list[Block]) -> Message:
    return {"text": text, "blocks": blocks}
