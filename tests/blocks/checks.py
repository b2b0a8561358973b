"""Assertions every builder output must pass: Slack's limits (blocks.limits, which also runs
slack_sdk's model validation) and mrkdwn safety."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from blocks.limits import message_problems, view_problems

# What our builders may legitimately produce between < and >: mentions of linked users,
# channel links from ids, date tokens, and links to trusted URLs (config, permalinks).
_ALLOWED_MARKUP = re.compile(
    r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!date\^\d+\^[^|<>]*\|[^<>]*|https?://[^\s<>|]+\|[^<>]*)>"
)
_ANY_MARKUP = re.compile(r"<[^<>]*>")


def all_texts(node: Any) -> Iterable[str]:
    """Every string in a payload (texts, values, urls...)."""
    if isinstance(node, Mapping):
        for value in node.values():
            yield from all_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_texts(item)
    elif isinstance(node, str):
        yield node


def mrkdwn_texts(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def assert_safe_markup(texts: Iterable[str], allowed_mentions: Iterable[str] = ()) -> None:
    """Every `<…>` is one we make on purpose; mentions only of the given Slack ids."""
    allowed = set(allowed_mentions)
    for text in texts:
        for markup in _ANY_MARKUP.findall(text):
            assert _ALLOWED_MARKUP.fullmatch(markup), f"unexpected markup {markup!r} in {text!r}"
            if markup.startswith("<@"):
                assert markup[2:-1] in allowed, f"mention of an unlinked id: {markup!r}"
        stray = _ANY_MARKUP.sub("", text)
        assert "<" not in stray and ">" not in stray, f"unescaped angle bracket in {text!r}"
        for entity in re.findall(r"&[^;\s]{0,8};?", stray):
            assert entity in ("&amp;", "&lt;", "&gt;"), f"bad entity {entity!r} in {text!r}"


def assert_valid_message(msg: Mapping[str, Any], allowed_mentions: Iterable[str] = ()) -> None:
    assert set(msg) == {"text", "blocks"}
    problems = message_problems(msg["text"], msg["blocks"])
    assert not problems, problems
    assert msg["text"].strip()
    assert_safe_markup([msg["text"], *mrkdwn_texts(msg["blocks"])], allowed_mentions)
    json.dumps(msg)  # serialisable


def assert_valid_view(view: Mapping[str, Any], allowed_mentions: Iterable[str] = ()) -> None:
    problems = view_problems(view)
    assert not problems, problems
    assert_safe_markup(mrkdwn_texts(view.get("blocks", [])), allowed_mentions)
