"""The sandbox workspace: everything Slack would remember, held in memory.

One `Workspace` is the single source of truth for the Web API (`webapi.py`), the interaction
driver (`driver.py`) and the browser UI (`ui_api.py`). It knows nothing about HTTP. Every
change bumps `version` and calls the `listeners`, which is how the UI hears about a
`chat.update` without reloading. `save()` / `load()` persist it to a JSON file.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from sandbox.records import (
    App,
    Channel,
    Edit,
    Ephemeral,
    File,
    JsonDict,
    Message,
    ResponseUrl,
    Trigger,
    User,
    View,
)

__all__ = [
    "App", "Channel", "Edit", "Ephemeral", "File", "JsonDict", "Message", "ResponseUrl",
    "Trigger", "User", "View", "Workspace",
]

# Earlier versions kept per message: enough to inspect, bounded for long benchmarks.
MAX_EDITS_KEPT = 100

SEED_USERS = (
    ("U0ALICE001", "alice", "Alice Admin", True),
    ("U0BOB00001", "bob", "Bob Builder", False),
    ("U0CAROL001", "carol", "Carol Reviewer", False),
)


class Workspace:
    """In-memory Slack workspace state. Not thread-safe: use it from one event loop."""

    def __init__(self, app: App | None = None, *, email_domain: str = "example.com") -> None:
        self.app = app or App()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}  # channel id -> messages, oldest first
        # Indexes, so lookups stay O(1) with thousands of messages (benchmarks).
        self._by_ts: dict[tuple[str, str], Message] = {}
        self._threads: dict[tuple[str, str], list[Message]] = {}  # (channel, parent ts) -> replies
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.view_stacks: dict[str, list[str]] = {}  # user -> modal view ids, bottom first
        self.home_views: dict[str, str] = {}  # user -> home view id
        self.files: dict[str, File] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.version = 0
        self.base_url = ""  # the server's root URL, for file links (set by the Sandbox)
        self.listeners: list[Callable[[JsonDict], None]] = []
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._lock = threading.Lock()
        self._seed(email_domain)

    # -- seeding and ids ------------------------------------------------------------------

    def _seed(self, email_domain: str) -> None:
        app = self.app
        self.users[app.bot_user_id] = User(
            app.bot_user_id, app.bot_name, "Forest", f"{app.bot_name}@bots.invalid", is_bot=True
        )
        for uid, name, real, admin in SEED_USERS:
            self.users[uid] = User(uid, name, real, f"{name}@{email_domain}", is_admin=admin)
        humans = [u for u, *_ in SEED_USERS]
        self.add_channel("deploys", members=[*humans, app.bot_user_id], purpose="Releases")
        self.add_channel("general", members=humans, purpose="Everything else")

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08X}"

    def next_ts(self) -> str:
        """A unique, increasing Slack timestamp ("seconds.micros")."""
        with self._lock:
            now = max(int(time.time() * 1_000_000), self._last_ts + 1)
            self._last_ts = now
        return f"{now // 1_000_000}.{now % 1_000_000:06d}"

    def add_user(self, name: str, *, email: str | None = None, is_admin: bool = False) -> User:
        user = User(self.new_id("U"), name, name.title(), email or f"{name}@example.com", is_admin)
        self.users[user.id] = user
        self.changed("users")
        return user

    def add_channel(
        self, name: str, *, members: Iterable[str] = (), is_private: bool = False, purpose: str = ""
    ) -> Channel:
        channel = Channel(
            self.new_id("C"),
            name,
            int(time.time()),
            list(members),
            is_private=is_private,
            purpose=purpose,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self.changed("channels")
        return channel

    def im_with(self, user_id: str) -> Channel:
        """The bot's direct-message channel with a user (created on first use)."""
        for channel in self.channels.values():
            if channel.is_im and user_id in channel.members:
                return channel
        channel = Channel(
            self.new_id("D"), user_id, int(time.time()), [user_id, self.app.bot_user_id], is_im=True
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self.changed("channels")
        return channel

    # -- what a workspace admin does to the app ------------------------------------------------

    def archive_channel(self, ref: str) -> Channel:
        """Archive a channel: posting answers is_archived, updating is_inactive."""
        channel = self.channel(ref)
        if channel is None or channel.is_im:
            raise KeyError(f"no such channel: {ref!r}")
        channel.is_archived = True
        self.changed("channels")
        return channel

    def remove_member(self, ref: str, user_id: str) -> Channel:
        """Remove someone (the bot too) from a channel; the bot then no longer sees a private
        channel at all (channel_not_found)."""
        channel = self.channel(ref)
        if channel is None or user_id not in channel.members:
            raise KeyError(f"{user_id} is not in {ref!r}")
        channel.members.remove(user_id)
        self.changed("channels")
        return channel

    def revoke_bot_token(self) -> None:
        """Revoke the bot token: every Web API call with it answers token_revoked."""
        if self.app.bot_token not in self.app.revoked_tokens:
            self.app.revoked_tokens.append(self.app.bot_token)
        self.changed("app")

    def rotate_bot_token(self) -> str:
        """Issue a new bot token: the old one becomes unknown (invalid_auth)."""
        self.app.bot_token = f"xoxb-sandbox-{secrets.token_hex(6)}"
        self.changed("app")
        return self.app.bot_token

    # -- change notification ----------------------------------------------------------------

    def changed(self, kind: str, **details: Any) -> None:
        self.version += 1
        event = {"kind": kind, "version": self.version, **details}
        for listener in list(self.listeners):
            listener(event)

    # -- lookups ----------------------------------------------------------------------------

    def user(self, ref: str) -> User | None:
        """A user by id, name ("bob", "@bob") or e-mail."""
        ref = ref.lstrip("@")
        if ref in self.users:
            return self.users[ref]
        for user in self.users.values():
            if ref in (user.name, user.email):
                return user
        return None

    def channel(self, ref: str) -> Channel | None:
        """A channel by id or name ("deploys", "#deploys")."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        return None

    def message(self, channel_id: str, ts: str) -> Message | None:
        return self._by_ts.get((channel_id, ts))

    def last_message(self, channel_ref: str) -> Message | None:
        """The newest top-level message of a channel (by id or name), if any."""
        channel = self.channel(channel_ref)
        messages = self.top_level(channel.id) if channel else []
        return messages[-1] if messages else None

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        """The replies in a thread (without its parent), oldest first."""
        return list(self._threads.get((channel_id, thread_ts), ()))

    def _index(self, message: Message) -> None:
        self._by_ts[(message.channel, message.ts)] = message
        if message.is_reply:
            self._threads.setdefault((message.channel, str(message.thread_ts)), []).append(message)

    def top_level(self, channel_id: str) -> list[Message]:
        """Channel history: thread parents and plain messages, plus broadcast replies."""
        return [
            m for m in self.messages.get(channel_id, ()) if not m.is_reply or m.reply_broadcast
        ]

    def ephemerals_for(self, user_id: str, channel_id: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self.ephemerals
            if e.user == user_id and not e.deleted and channel_id in (None, e.channel)
        ]

    def ephemeral(self, channel_id: str, ts: str) -> Ephemeral | None:
        for eph in self.ephemerals:
            if eph.channel == channel_id and eph.ts == ts and not eph.deleted:
                return eph
        return None

    def view_stack(self, user_id: str) -> list[View]:
        return [self.views[v] for v in self.view_stacks.get(user_id, []) if v in self.views]

    def top_view(self, user_id: str) -> View | None:
        stack = self.view_stack(user_id)
        return stack[-1] if stack else None

    def home_view(self, user_id: str) -> View | None:
        view_id = self.home_views.get(user_id)
        return self.views.get(view_id) if view_id else None

    # -- message rendering (Slack's API shapes) ---------------------------------------------

    def message_to_api(self, message: Message) -> JsonDict:
        out: JsonDict = {
            "type": "message",
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": self.app.team_id,
        }
        if message.blocks is not None:
            out["blocks"] = message.blocks
        if message.bot_id:
            out["bot_id"] = message.bot_id
            out["app_id"] = self.app.app_id
        if message.thread_ts:
            out["thread_ts"] = message.thread_ts
        if message.reply_broadcast:
            out["subtype"] = "thread_broadcast"
        if message.edited_ts:
            out["edited"] = {"user": message.user, "ts": message.edited_ts}
        if message.files:
            out["files"] = [self.file_to_api(self.files[f], self.base_url) for f in message.files]
            out.setdefault("subtype", "file_share")
        if message.deleted:
            out.update({"subtype": "tombstone", "user": "USLACKBOT", "hidden": True})
            out.pop("bot_id", None)
            out.pop("app_id", None)
        if message.thread_ts == message.ts:
            replies = self.replies(message.channel, message.ts)
            if replies:
                out["reply_count"] = len(replies)
                out["reply_users"] = sorted({r.user for r in replies})
                out["reply_users_count"] = len(out["reply_users"])
                out["latest_reply"] = replies[-1].ts
        return out

    def file_to_api(self, file: File, base_url: str = "") -> JsonDict:
        mimetype = "text/plain" if file.snippet_type or file.name.endswith(".txt") else ""
        url = f"{base_url}_sandbox/files/{file.id}/{file.name}"
        public: dict[str, list[JsonDict]] = {}
        for channel_id, ts in file.shares:
            public.setdefault(channel_id, []).append({"ts": ts, "channel_name": channel_id})
        return {
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title,
            "mimetype": mimetype or "application/octet-stream",
            "filetype": file.snippet_type or file.name.rsplit(".", 1)[-1],
            "pretty_type": file.snippet_type or "File",
            "user": file.user,
            "size": file.length,
            "mode": "snippet" if file.snippet_type else "hosted",
            "is_external": False,
            "is_public": bool(file.shares),
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "alt_txt": file.alt_txt,
            "shares": {"public": public} if public else {},
            "channels": sorted({c for c, _ in file.shares}),
        }

    # -- writes -----------------------------------------------------------------------------

    def post(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        blocks: list[JsonDict] | None = None,
        *,
        thread_ts: str | None = None,
        bot: bool = False,
        files: list[str] | None = None,
        reply_broadcast: bool = False,
    ) -> Message:
        message = Message(
            channel=channel_id,
            ts=self.next_ts(),
            user=user_id,
            text=text,
            blocks=blocks,
            bot_id=self.app.bot_id if bot else None,
            thread_ts=thread_ts,
            files=list(files or []),
            reply_broadcast=reply_broadcast,
        )
        if thread_ts:
            parent = self.message(channel_id, thread_ts)
            if parent is not None:
                parent.thread_ts = parent.ts
        self.messages.setdefault(channel_id, []).append(message)
        self._index(message)
        for file_id in message.files:
            self.files[file_id].shares.append([channel_id, message.ts])
        self.changed("message", channel=channel_id, ts=message.ts)
        return message

    def update(self, message: Message, text: str, blocks: list[JsonDict] | None) -> Message:
        message.edits.append(Edit(message.text, message.blocks, self.next_ts()))
        del message.edits[:-MAX_EDITS_KEPT]
        message.edit_count += 1
        message.text = text
        message.blocks = blocks
        message.edited_ts = message.edits[-1].replaced_at
        self.changed("message_changed", channel=message.channel, ts=message.ts)
        return message

    def delete(self, message: Message) -> None:
        """Remove a message; a thread parent with replies becomes a tombstone, as on Slack."""
        if message.thread_ts == message.ts and self.replies(message.channel, message.ts):
            message.deleted = True
            message.text, message.blocks, message.files = "This message was deleted.", None, []
        else:
            self.messages[message.channel].remove(message)
            del self._by_ts[(message.channel, message.ts)]
            if message.is_reply:
                self._threads[(message.channel, str(message.thread_ts))].remove(message)
        self.changed("message_deleted", channel=message.channel, ts=message.ts)

    def post_ephemeral(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        blocks: list[JsonDict] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        eph = Ephemeral(
            channel_id, self.next_ts(), user_id, text, blocks, thread_ts, self.app.bot_id
        )
        self.ephemerals.append(eph)
        self.changed("ephemeral", channel=channel_id, user=user_id, ts=eph.ts)
        return eph

    def replace_ephemeral(
        self, eph: Ephemeral, text: str, blocks: list[JsonDict] | None
    ) -> Ephemeral:
        eph.text, eph.blocks = text, blocks
        self.changed("ephemeral", channel=eph.channel, user=eph.user, ts=eph.ts)
        return eph

    def delete_ephemeral(self, eph: Ephemeral) -> None:
        eph.deleted = True
        self.changed("ephemeral", channel=eph.channel, user=eph.user, ts=eph.ts)

    def _prune(self) -> None:
        """Forget trigger ids and response_urls long past their use-by time."""
        now = time.monotonic()
        if len(self.triggers) > 1000:
            self.triggers = {k: t for k, t in self.triggers.items() if now - t.created < 60}
        if len(self.response_urls) > 1000:
            self.response_urls = {
                k: r for k, r in self.response_urls.items() if now - r.created < 1800}

    def new_trigger(self, user_id: str) -> str:
        self._prune()
        trigger_id = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user_id, time.monotonic())
        return trigger_id

    def new_response_url(self, base_url: str, info: ResponseUrl) -> str:
        self._prune()
        token = secrets.token_urlsafe(18)
        self.response_urls[token] = info
        return f"{base_url}_sandbox/respond/{self.app.team_id}/{token}"

    def new_hash(self) -> str:
        return f"{int(time.time())}.{secrets.token_hex(6)}"

    def open_view(self, user_id: str, body: JsonDict, *, push: bool = False) -> View:
        stack = self.view_stacks.setdefault(user_id, [])
        if not push:  # a new modal replaces whatever the user had open
            for old in stack:
                self.views.pop(old, None)
            stack.clear()
        view_id = self.new_id("V")
        root = self.views[stack[0]].root_view_id if stack else view_id
        view = View(view_id, user_id, body, self.new_hash(), root, stack[-1] if stack else None)
        self.views[view_id] = view
        stack.append(view_id)
        self.changed("view", user=user_id, view_id=view_id)
        return view

    def replace_view(self, view: View, body: JsonDict) -> View:
        view.body = body
        view.hash = self.new_hash()
        view.errors = {}
        self.changed("view", user=view.user, view_id=view.id)
        return view

    def close_view(self, view: View, *, clear: bool = False) -> None:
        stack = self.view_stacks.get(view.user, [])
        if clear or view.body.get("clear_on_close"):
            closed, stack[:] = list(stack), []
        else:
            closed = [view.id]
            if view.id in stack:
                stack.remove(view.id)
        for view_id in closed:
            self.views.pop(view_id, None)
        self.changed("view", user=view.user, view_id=view.id)

    def publish_home(self, user_id: str, body: JsonDict) -> View:
        existing = self.home_view(user_id)
        if existing is not None:
            return self.replace_view(existing, body)
        view_id = self.new_id("V")
        view = View(view_id, user_id, body, self.new_hash(), view_id)
        self.views[view_id] = view
        self.home_views[user_id] = view_id
        self.changed("home", user=user_id, view_id=view_id)
        return view

    def view_to_api(self, view: View) -> JsonDict:
        body = view.body
        out: JsonDict = {
            "id": view.id,
            "team_id": self.app.team_id,
            "type": view.type,
            "blocks": body.get("blocks", []),
            "private_metadata": body.get("private_metadata", ""),
            "callback_id": body.get("callback_id", ""),
            "state": {"values": view.values},
            "hash": view.hash,
            "title": body.get("title"),
            "clear_on_close": bool(body.get("clear_on_close", False)),
            "notify_on_close": bool(body.get("notify_on_close", False)),
            "close": body.get("close"),
            "submit": body.get("submit"),
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id,
            "app_id": self.app.app_id,
            "external_id": view.external_id,
            "app_installed_team_id": self.app.team_id,
            "bot_id": self.app.bot_id,
        }
        return out

    # -- persistence ------------------------------------------------------------------------

    def to_json(self) -> JsonDict:
        def file_dict(f: File) -> JsonDict:
            d = asdict(f)
            d["content"] = base64.b64encode(f.content).decode() if f.content is not None else None
            return d

        return {
            "format": 1,
            "app": asdict(self.app),
            "users": [asdict(u) for u in self.users.values()],
            "channels": [asdict(c) for c in self.channels.values()],
            "messages": [asdict(m) for ms in self.messages.values() for m in ms],
            "ephemerals": [asdict(e) for e in self.ephemerals if not e.deleted],
            "views": [asdict(v) for v in self.views.values()],
            "view_stacks": self.view_stacks,
            "home_views": self.home_views,
            "files": [file_dict(f) for f in self.files.values()],
            "next_id": next(self._ids),
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> Workspace:
        # Files saved before the app's scopes came from the manifest hold a chat_write_public
        # flag: keep only the fields App still has.
        known = {f.name for f in fields(App)}
        ws = cls(App(**{k: v for k, v in data["app"].items() if k in known}))
        ws.users = {u["id"]: User(**u) for u in data["users"]}
        ws.channels = {c["id"]: Channel(**c) for c in data["channels"]}
        ws.messages = {c: [] for c in ws.channels}
        for m in data["messages"]:
            edits = [Edit(**e) for e in m.pop("edits")]
            message = Message(**m, edits=edits)
            ws.messages.setdefault(message.channel, []).append(message)
            ws._index(message)
        ws.ephemerals = [Ephemeral(**e) for e in data["ephemerals"]]
        ws.views = {v["id"]: View(**v) for v in data["views"]}
        ws.view_stacks = data["view_stacks"]
        ws.home_views = data["home_views"]
        for f in data["files"]:
            content = f.pop("content")
            ws.files[f["id"]] = File(**f, content=base64.b64decode(content) if content else None)
        ws._ids = itertools.count(int(data["next_id"]))
        return ws

    def save(self, path: str | Path) -> None:
        """Write the state atomically (a temporary file renamed over the old one)."""
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path) -> Workspace:
        return cls.from_json(json.loads(Path(path).read_text()))
