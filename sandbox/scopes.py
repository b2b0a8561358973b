"""OAuth scopes: what the app was granted (its manifest) and what each Web API method needs.

Slack answers a call whose token lacks the needed scope with HTTP 200
`{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided": "<granted,...>"}`,
and every answer to an authenticated call carries `x-oauth-scopes` (the token's scopes, which
Bolt reads from auth.test) and `x-accepted-oauth-scopes` (what the method accepts).

`METHOD_SCOPES` follows the "Scopes / Bot token" facts of each method's page on
docs.slack.dev. The conversations.* methods need the scope of the conversation's type only
("You only need the scopes corresponding to that conversation type"), so a bot with
channels:history and no groups:history reads public channels but not private ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from sandbox.records import Channel

ConversationType = Literal["public_channel", "private_channel", "im", "mpim"]

# The repository's Slack app manifest: the sandbox grants the bot what it declares.
DEFAULT_MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"

# An app-level token (xapp-) for Socket Mode carries this scope and no other.
APP_TOKEN_SCOPES = ("connections:write",)


@dataclass(frozen=True)
class Needs:
    """The scope a method needs: one for every call, or one per conversation type."""

    scope: str | None = None
    per_conversation: Mapping[ConversationType, str] = field(default_factory=dict)

    def accepted(self) -> tuple[str, ...]:
        """Every scope that can satisfy the method (Slack's `x-accepted-oauth-scopes`)."""
        if self.scope:
            return (self.scope,)
        return tuple(self.per_conversation.values())

    def needed(self, conversation: ConversationType | None = None) -> str | None:
        """The one scope this call needs (`None`: no scope)."""
        if self.per_conversation:
            if conversation is None:
                raise ValueError("this method's scope depends on the conversation type")
            return self.per_conversation[conversation]
        return self.scope


NO_SCOPE = Needs()
CONVERSATIONS_READ = Needs(per_conversation={
    "public_channel": "channels:read", "private_channel": "groups:read",
    "im": "im:read", "mpim": "mpim:read",
})
CONVERSATIONS_HISTORY = Needs(per_conversation={
    "public_channel": "channels:history", "private_channel": "groups:history",
    "im": "im:history", "mpim": "mpim:history",
})
CONVERSATIONS_OPEN = Needs(per_conversation={
    "public_channel": "channels:manage", "private_channel": "groups:write",
    "im": "im:write", "mpim": "mpim:write",
})

METHOD_SCOPES: dict[str, Needs] = {
    "auth.test": NO_SCOPE,
    "apps.connections.open": Needs("connections:write"),
    "chat.postMessage": Needs("chat:write"),
    "chat.update": Needs("chat:write"),
    "chat.delete": Needs("chat:write"),
    "chat.postEphemeral": Needs("chat:write"),
    "chat.getPermalink": NO_SCOPE,
    "views.open": NO_SCOPE,
    "views.push": NO_SCOPE,
    "views.update": NO_SCOPE,
    "views.publish": NO_SCOPE,
    "users.info": Needs("users:read"),
    "users.lookupByEmail": Needs("users:read.email"),
    "conversations.info": CONVERSATIONS_READ,
    "conversations.join": Needs("channels:join"),
    "conversations.open": CONVERSATIONS_OPEN,
    "conversations.history": CONVERSATIONS_HISTORY,
    "conversations.replies": CONVERSATIONS_HISTORY,
    "files.getUploadURLExternal": Needs("files:write"),
    "files.completeUploadExternal": Needs("files:write"),
    "files.info": Needs("files:read"),
}

# Posting into a public channel the bot has not joined (else `not_in_channel`).
CHAT_WRITE_PUBLIC = "chat:write.public"


def conversation_type(channel: Channel) -> ConversationType:
    if channel.is_im:
        return "im"
    return "private_channel" if channel.is_private else "public_channel"


@dataclass(frozen=True)
class Grant:
    """The scopes one token was granted, in the order they were declared."""

    scopes: tuple[str, ...]

    @classmethod
    def of(cls, scopes: Iterable[str]) -> Grant:
        return cls(tuple(dict.fromkeys(s.strip() for s in scopes if s.strip())))

    def __contains__(self, scope: object) -> bool:
        return scope in self.scopes

    @property
    def header(self) -> str:
        """The comma-separated list Slack sends as `x-oauth-scopes` and `provided`."""
        return ",".join(self.scopes)

    def missing(self, needs: Needs, conversation: ConversationType | None = None) -> str | None:
        """The scope this call needs and the token lacks, if any."""
        needed = needs.needed(conversation)
        return needed if needed is not None and needed not in self else None


def manifest_bot_scopes(path: str | Path = DEFAULT_MANIFEST) -> tuple[str, ...]:
    """The bot scopes an app manifest requests (`oauth_config.scopes.bot`)."""
    source = Path(path)
    manifest = yaml.safe_load(source.read_text())
    try:
        scopes = manifest["oauth_config"]["scopes"]["bot"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: no oauth_config.scopes.bot list") from exc
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError(f"{source}: oauth_config.scopes.bot must be a list of scope names")
    return tuple(scopes)
