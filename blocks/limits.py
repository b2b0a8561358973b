"""Slack's Block Kit limits, and one checker that both our builders and the sandbox rely on.

slack_sdk's models validate most per-element limits, but only when asked, and not the
message-level ones (blocks per message, total text, `text` length, per-field length, the size
of a whole view). `message_problems` / `view_problems` apply both: the slack_sdk model
validation and the limits from shared/slack-platform.md. An empty list means Slack accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_BLOCKS_PER_MESSAGE = 50
MAX_BLOCKS_PER_VIEW = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_TEXT_OBJECT = 3000
MAX_MARKDOWN_BLOCKS_TOTAL = 12_000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_VIEW_BYTES = 250_000
# chat.update answers msg_too_long above 4,000 characters of `text`; stay below everywhere.
MAX_MESSAGE_TEXT = 4000
# Undocumented: msg_blocks_too_long was reported around 12-13k characters of block text.
MAX_MESSAGE_BLOCK_TEXT = 11_000


_TEXT_TYPES = ("plain_text", "mrkdwn", "text", "markdown")


def _texts(node: Any) -> Iterable[str]:
    """Every string under a `text` key of a text object, anywhere in a block tree."""
    if isinstance(node, Mapping):
        if node.get("type") in _TEXT_TYPES and isinstance(node.get("text"), str):
            yield node["text"]
        for key, value in node.items():
            if isinstance(value, Mapping | list) and key != "confirm":
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _empty_text_objects(node: Any, path: str = "") -> Iterable[str]:
    if isinstance(node, Mapping):
        if node.get("type") in ("plain_text", "mrkdwn") and not node.get("text"):
            yield f"{path or 'text'}: a text object must not be empty"
        for key, value in node.items():
            yield from _empty_text_objects(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _empty_text_objects(item, f"{path}[{i}]")


def block_problems(blocks: Any, *, max_blocks: int) -> list[str]:
    """Problems Slack would report as `invalid_blocks` for this list of blocks."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"too many blocks: {len(blocks)} > {max_blocks}")
    markdown_total = 0
    block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: a block must be an object")
            continue
        block = Block.parse(dict(raw))
        if block is None:
            problems.append(f"{where}: unknown block type {raw.get('type')!r}")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"{where}: duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        for field_index, field in enumerate(raw.get("fields") or []):
            text = field.get("text", "") if isinstance(field, Mapping) else ""
            if len(text) > MAX_SECTION_FIELD_TEXT:
                problems.append(
                    f"{where}.fields[{field_index}]: text longer than {MAX_SECTION_FIELD_TEXT}"
                )
        for text in _texts(raw):
            if len(text) > MAX_TEXT_OBJECT and raw.get("type") != "markdown":
                problems.append(f"{where}: a text is longer than {MAX_TEXT_OBJECT} characters")
                break
        if raw.get("type") == "markdown":
            markdown_total += len(raw.get("text") or "")
        problems.extend(f"{where}.{p}" for p in _empty_text_objects(raw))
    if markdown_total > MAX_MARKDOWN_BLOCKS_TOTAL:
        problems.append(f"markdown blocks total {markdown_total} > {MAX_MARKDOWN_BLOCKS_TOTAL}")
    return problems


def message_text_length(blocks: list[Any]) -> int:
    return sum(len(t) for t in _texts(blocks))


def message_problems(text: str | None, blocks: list[Any] | None) -> list[str]:
    """Problems with a chat.postMessage / chat.update payload (blocks and fallback text)."""
    problems: list[str] = []
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        problems.append(f"msg_too_long: text has {len(text)} > {MAX_MESSAGE_TEXT} characters")
    if blocks:
        problems.extend(block_problems(blocks, max_blocks=MAX_BLOCKS_PER_MESSAGE))
        total = message_text_length(blocks)
        if total > MAX_MESSAGE_BLOCK_TEXT:
            problems.append(
                f"msg_blocks_too_long: blocks hold {total} > {MAX_MESSAGE_BLOCK_TEXT} characters"
            )
    elif not text:
        problems.append("no_text: a message needs text or blocks")
    return problems


def view_problems(view: Mapping[str, Any]) -> list[str]:
    """Problems with a modal or Home tab view (views.open / views.update / views.publish)."""
    problems: list[str] = []
    try:
        model = View(**dict(view))
        model.validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        problems.append(f"view: {exc}")
    problems.extend(block_problems(view.get("blocks") or [], max_blocks=MAX_BLOCKS_PER_VIEW))
    size = len(json.dumps(view, ensure_ascii=False).encode())
    if size > MAX_VIEW_BYTES:
        problems.append(f"view_too_large: {size} bytes > {MAX_VIEW_BYTES}")
    return problems
