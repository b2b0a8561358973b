"""A readable plain-text rendition of Block Kit, for docs/messages.md and for reviewing goldens."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_DATE = re.compile(r"<!date\^\d+\^[^|]*\|([^>]*)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")


def inline(text: str) -> str:
    text = _DATE.sub(r"\1", text)
    text = _MENTION.sub(r"@\1", text)
    text = _CHANNEL.sub(r"#\1", text)
    text = _LINK.sub(r"\2 (\1)", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _element(element: Mapping[str, Any]) -> str:
    if element.get("type") == "button":
        label = element["text"]["text"]
        style = {"primary": " (green)", "danger": " (red)"}.get(element.get("style", ""), "")
        extra = " (asks to confirm)" if "confirm" in element else ""
        return f"[{label}]{style}{extra}"
    return f"[{element.get('type')}]"


def block_lines(block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"## {block['text']['text']}"]
    if kind == "context":
        return ["  " + " ".join(inline(e.get("text", "")) for e in block["elements"])]
    if kind == "section":
        lines = inline(block["text"]["text"]).split("\n")
        if "accessory" in block:
            lines[-1] += "   " + _element(block["accessory"])
        return lines
    if kind == "actions":
        return ["  ".join(_element(e) for e in block["elements"])]
    if kind == "divider":
        return ["────────"]
    if kind == "input":
        optional = " (optional)" if block.get("optional") else ""
        return [f"{block['label']['text']}{optional}: [______________]"]
    return [f"<{kind}>"]


def rendition(blocks: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(line for block in blocks for line in block_lines(block))


def view_rendition(view: Mapping[str, Any]) -> str:
    head = f"## {view['title']['text']}" if "title" in view else ""
    body = rendition(view.get("blocks", []))
    foot = f"[{view['close']['text']}]  [{view['submit']['text']}]" if "submit" in view else ""
    return "\n".join(part for part in (head, body, foot) if part)
