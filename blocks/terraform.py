"""Summarise `terraform plan -no-color` output: counts and the resources that change.

Tolerates ANSI colour codes (a plan run without -no-color), Windows line endings, the box
drawing of Terraform ≥ 0.15 diagnostics and other tools' free text. Works on the whole text
with compiled regular expressions, so a multi-megabyte plan parses in milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DESTROY = "destroy"
    READ = "read"
    IMPORT = "import"
    MOVE = "move"


class PlanKind(StrEnum):
    CHANGES = "changes"
    NO_CHANGES = "no_changes"
    ERROR = "error"
    UNKNOWN = "unknown"  # not recognisably terraform; shown as text


_HEADER_ACTIONS = (
    ("will be created", Action.CREATE),
    ("will be updated in-place", Action.UPDATE),
    ("will be destroyed", Action.DESTROY),
    ("must be replaced", Action.REPLACE),
    ("will be replaced, as requested", Action.REPLACE),
    ("is tainted, so must be replaced", Action.REPLACE),
    ("will be read during apply", Action.READ),
    ("will be imported", Action.IMPORT),
)
_HEADER = re.compile(
    r"^[ \t]*# (?P<address>\S.*?) (?:(?P<what>"
    + "|".join(re.escape(text) for text, _ in _HEADER_ACTIONS)
    + r")|has moved to (?P<moved_to>\S.*?))[ \t]*\r?$",
    re.MULTILINE,
)
_WHAT = dict(_HEADER_ACTIONS)
_REPLACE_SYMBOL = re.compile(r"[ \t]*(-/\+|\+/-)")
_PLAN_LINE = re.compile(
    r"^[ \t]*Plan: (?:(?P<import>\d+) to import, )?(?P<add>\d+) to add, "
    r"(?P<change>\d+) to change, (?P<destroy>\d+) to destroy\.",
    re.MULTILINE,
)
_NO_CHANGES = re.compile(r"^[ \t]*No changes\.", re.MULTILINE)
_ERROR = re.compile(r"^[ \t│╷]*Error: (?P<summary>.*?)[ \t]*\r?$", re.MULTILINE)
# Only outputs change: terraform prints no "Plan:" line, and no infrastructure changes.
_OUTPUTS_ONLY = re.compile(r"^[ \t]*Changes to Outputs:", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    action: Action
    replace_order: str = ""  # "-/+" (destroy first) or "+/-" (create first) for replacements
    moved_to: str = ""


@dataclass(frozen=True, slots=True)
class PlanSummary:
    kind: PlanKind
    add: int = 0
    change: int = 0
    destroy: int = 0
    imports: int = 0
    resources: tuple[ResourceChange, ...] = ()
    errors: tuple[str, ...] = ()
    counted: bool = False  # True when the counts come from terraform's own "Plan:" line

    def by_action(self, action: Action) -> tuple[ResourceChange, ...]:
        return tuple(r for r in self.resources if r.action is action)

    @property
    def counts_text(self) -> str:
        """`+2 to add, ~1 to change, -0 to destroy` (and imports when there are any)."""
        text = f"+{self.add} to add, ~{self.change} to change, -{self.destroy} to destroy"
        return f"{self.imports} to import, {text}" if self.imports else text


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def _resources(text: str) -> tuple[ResourceChange, ...]:
    found: list[ResourceChange] = []
    for match in _HEADER.finditer(text):
        address = match["address"]
        if match["moved_to"] is not None:
            found.append(ResourceChange(address, Action.MOVE, moved_to=match["moved_to"]))
            continue
        action = _WHAT[match["what"]]
        order = ""
        if action is Action.REPLACE:
            symbol = _REPLACE_SYMBOL.match(_next_code_line(text, match.end()))
            order = symbol.group(1) if symbol else "-/+"
        found.append(ResourceChange(address, action, replace_order=order))
    return tuple(found)


def _next_code_line(text: str, position: int) -> str:
    """The first line after `position` that is not a `#` comment (the resource's own line)."""
    while position < len(text):
        start = position + 1
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        line = text[start:end]
        if line.strip() and not line.lstrip().startswith("#"):
            return line
        position = end
    return ""


def _scan(pattern: re.Pattern[str], text: str, needle: str) -> list[re.Match[str]]:
    """All matches, skipping the regex scan when its literal part is absent (the usual case)."""
    return list(pattern.finditer(text)) if needle in text else []


def _last_plan_line(text: str) -> re.Match[str] | None:
    """Terraform's own "Plan: …" line: it is at the end, so look there first."""
    at = text.rfind("Plan: ")
    if at == -1:
        return None
    match = _PLAN_LINE.match(text, text.rfind("\n", 0, at) + 1)
    if match is not None:
        return match
    matches = list(_PLAN_LINE.finditer(text))
    return matches[-1] if matches else None


def summarize_plan(output: str) -> PlanSummary:
    """Counts, changed resources and errors of one plan's output (any text accepted)."""
    text = strip_ansi(output or "")
    errors = tuple(m["summary"] or "error" for m in _scan(_ERROR, text, "Error: "))
    resources = _resources(text) if "# " in text else ()
    plan_line = _last_plan_line(text)
    if plan_line is not None:
        return PlanSummary(
            kind=PlanKind.CHANGES,
            add=int(plan_line["add"]),
            change=int(plan_line["change"]),
            destroy=int(plan_line["destroy"]),
            imports=int(plan_line["import"] or 0),
            resources=resources,
            errors=errors,
            counted=True,
        )
    if errors:
        return PlanSummary(kind=PlanKind.ERROR, resources=resources, errors=errors)
    if "No changes." in text and _NO_CHANGES.search(text):
        return PlanSummary(kind=PlanKind.NO_CHANGES, resources=resources)
    if resources:
        # A plan cut short (or an older format): count what the headers say.
        actions = [r.action for r in resources]
        replace = actions.count(Action.REPLACE)
        return PlanSummary(
            kind=PlanKind.CHANGES,
            add=actions.count(Action.CREATE) + replace,
            change=actions.count(Action.UPDATE),
            destroy=actions.count(Action.DESTROY) + replace,
            imports=actions.count(Action.IMPORT),
            resources=resources,
        )
    if "Changes to Outputs:" in text and _OUTPUTS_ONLY.search(text):
        return PlanSummary(kind=PlanKind.NO_CHANGES)
    return PlanSummary(kind=PlanKind.UNKNOWN)
