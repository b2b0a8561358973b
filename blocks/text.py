"""Text helpers: mrkdwn escaping, length clipping, mentions and time formatting.

Every string that did not come from this package (commit messages, usernames, comments,
environment and project names, plan text, Forest error messages) goes through `esc` before
it is put into mrkdwn or the fallback `text`. `esc` escapes exactly `&`, `<` and `>`, which
disarms `<!channel>`, `<@U…>`, `<#C…>` and `<url|label>` (slack-platform.md, mrkdwn safety).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

ELLIPSIS = "…"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# C0 and C1 control characters (tab and newline are handled by `single_line`), line and
# paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Plain text Slack shows outside Block Kit (a file's title) may still expand `<!channel>`,
# `<@U…>` or `<url|label>`, and entities would show literally: angle brackets become lookalikes.
_ANGLES = str.maketrans({"<": "‹", ">": "›"})
_WHITESPACE_RUN = re.compile(r"\s+")
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def clean(value: str | None, *, single_line: bool = True) -> str:
    """Drop control characters; collapse whitespace (also newlines) for one-line fields."""
    if not value:
        return ""
    value = _CONTROL.sub(" " if single_line else "", value)
    if single_line:
        value = _WHITESPACE_RUN.sub(" ", value).strip()
    return value


def esc(value: str | None, limit: int | None = None, *, single_line: bool = True) -> str:
    """mrkdwn-escape untrusted text; with `limit`, clip so the *escaped* result fits in it.

    Clipping never cuts an entity (`&amp;`) in half and ends with an ellipsis.
    """
    text = clean(value, single_line=single_line)
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in text)
    if limit is None or len(escaped) <= limit:
        return escaped
    if limit < 1:
        return ""
    out: list[str] = []
    used = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + ELLIPSIS


def clip(value: str | None, limit: int, *, single_line: bool = True) -> str:
    """Clip text for a plain_text object (no escaping: plain_text never parses markup)."""
    text = clean(value, single_line=single_line)
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def clip_markup(text: str, limit: int) -> str:
    """Clip text that holds markup we built (entities, `<@U…>`, `<!date…>`) without ever
    cutting one in half; ends with an ellipsis when anything was dropped."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    cut = text[: limit - 1]
    open_at, close_at = cut.rfind("<"), cut.rfind(">")
    if open_at > close_at:
        cut = cut[:open_at]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def clip_mrkdwn(text: str, limit: int) -> str:
    """Clip mrkdwn we assembled from escaped pieces, at a line boundary, saying how many
    lines were left out (never silently). A single over-long line is clipped safely."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        note = f"\n_… {len(lines) - index} more lines_"
        if used + len(line) + 1 + len(note) > limit:
            break
        kept.append(line)
        used += len(line) + 1
    remaining = len(lines) - len(kept)
    if not kept:
        note = f"\n_… {remaining - 1} more lines_" if remaining > 1 else ""
        return clip_markup(lines[0], limit - len(note)) + note
    return "\n".join(kept) + f"\n_… {remaining} more lines_"


def plain_title(value: str | None, limit: int) -> str:
    """A one-line title for plain text that Slack may parse for mentions (a file's title): no
    control characters, no `<`/`>` (so no `<!channel>`, `<@U…>` or links), at most `limit`."""
    return clip(clean(value).translate(_ANGLES), limit)


def plain(value: str | None, limit: int, *, fallback: str = "-") -> str:
    """A non-empty plain_text string of at most `limit` characters."""
    return clip(value, limit) or fallback


def mention(slack_id: str | None, username: str | None, *, limit: int = 60) -> str:
    """`<@U…>` for a linked, well-formed Slack id; otherwise the escaped Forest username."""
    if slack_id and _SLACK_USER_ID.fullmatch(slack_id):
        return f"<@{slack_id}>"
    return esc(username, limit) or "someone"


def is_slack_user_id(value: str | None) -> bool:
    return bool(value and _SLACK_USER_ID.fullmatch(value))


def short_sha(sha: str | None) -> str:
    return clean(sha)[:7]


def parse_time(value: str | None) -> datetime | None:
    """Parse Forest's RFC 3339 strings; None when absent or unreadable. Always timezone-aware."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def slack_date(moment: datetime, token: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: shown in each reader's own time zone, with a UTC fallback.

    It keeps the rendering independent of the clock: the text does not change as time passes,
    so the refresher's hash stays equal and no chat.update is spent on it.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = max(int(moment.timestamp()), 0)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{token}|{fallback}>"


def duration_words(seconds: float) -> str:
    """`45s`, `25 min`, `1 h 5 min`, `2 d 3 h`: coarse, for people."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def slack_time(moment: datetime, span_seconds: float) -> str:
    """A date token for a moment `span_seconds` from its start (a wait's end, a soak's
    opening): the time alone for a span under a day, else the day too, since a bare time two
    days out reads as today. Never a countdown: "7 min left" would change on every refresh."""
    if span_seconds < 86_400:
        return slack_date(moment, "{time}")
    return slack_date(moment)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
