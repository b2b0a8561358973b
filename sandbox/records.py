"""The things a Slack workspace holds, as plain records (no behaviour beyond their API shapes).

`Workspace` (state.py) keeps them; `to_api` methods give Slack's JSON for users and channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str
    is_admin: bool = False
    is_bot: bool = False
    tz: str = "Europe/London"

    @property
    def display_name(self) -> str:
        """The name Slack shows for the user (`profile.display_name`), e.g. in `<@U…>` mentions."""
        return self.name

    def to_api(self, team_id: str) -> JsonDict:
        """The `user` object of users.info / users.lookupByEmail."""
        profile: JsonDict = {
            "real_name": self.real_name,
            "display_name": self.display_name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.display_name,
            "image_48": "",
            "team": team_id,
        }
        if not self.is_bot:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": self.is_admin,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }


@dataclass
class Channel:
    id: str
    name: str
    created: int
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_im: bool = False
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False

    def to_api(self, viewer: str) -> JsonDict:
        """The `channel` object of conversations.info for `viewer` (the token's user)."""
        base: JsonDict = {
            "id": self.id,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_member": viewer in self.members,
        }
        if self.is_im:
            other = next((m for m in self.members if m != viewer), viewer)
            return {**base, "is_im": True, "user": other, "is_open": True}
        return {
            **base,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "creator": "",
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "num_members": len(self.members),
        }


@dataclass
class Edit:
    """One earlier version of a message, kept when chat.update replaces it."""

    text: str
    blocks: list[JsonDict] | None
    replaced_at: str


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JsonDict] | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    files: list[str] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)  # the latest MAX_EDITS_KEPT versions
    edit_count: int = 0
    edited_ts: str | None = None
    reply_broadcast: bool = False
    deleted: bool = False  # a deleted thread parent stays as a tombstone

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack never lets anyone read it back through the API."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JsonDict] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    deleted: bool = False


@dataclass
class View:
    id: str
    user: str
    body: JsonDict
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    # {block_id: {action_id: {"type": ..., "value" | "selected_option": ...}}}
    values: JsonDict = field(default_factory=dict)
    # Errors shown under input blocks after a `response_action: errors` ack.
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.body.get("type", "modal"))

    @property
    def external_id(self) -> str:
        return str(self.body.get("external_id") or "")


@dataclass
class File:
    id: str
    name: str
    title: str
    length: int
    user: str
    created: int
    snippet_type: str | None = None
    alt_txt: str | None = None
    content: bytes | None = None
    # [channel, ts] pairs of the messages it was shared in.
    shares: list[list[str]] = field(default_factory=list)

    @property
    def uploaded(self) -> bool:
        return self.content is not None


@dataclass
class Trigger:
    user: str
    created: float
    used: bool = False


@dataclass
class ResponseUrl:
    """What a response_url may do: reply in `channel` to `user`, maybe about one message."""

    channel: str
    user: str
    created: float
    message_ts: str | None = None
    is_ephemeral: bool = False
    thread_ts: str | None = None
    uses: int = 0


@dataclass
class App:
    team_id: str = "T0SANDBOX1"
    team_name: str = "Forest Sandbox"
    team_domain: str = "forest-sandbox"
    app_id: str = "A0FOREST01"
    bot_user_id: str = "U0FOREST01"
    bot_id: str = "B0FOREST01"
    bot_name: str = "forest"
    bot_token: str = "xoxb-sandbox-forest"
    app_token: str = "xapp-1-sandbox-forest"
    # Tokens revoked (the app uninstalled, or an admin revoked them): every call with one
    # answers token_revoked, as Slack does.
    revoked_tokens: list[str] = field(default_factory=list)
