"""Typed views of Slack's signed payloads, parsed once per request.

Who acted (team and user) comes from the payload Slack signed; what they acted on comes from a
button value or a modal's private_metadata, which are only pointers (`blocks.ids`) to look up in
Forest again. Anything that does not parse raises `MalformedPayload`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks import ids
from blocks.ids import MalformedPayload, ModalContext, ReleaseRef


def text_at(body: dict[str, Any], *path: str) -> str:
    """The string at `path` in `body`; "" when any step is missing or of another type."""
    node: Any = body
    for key in path:
        if not isinstance(node, dict):
            return ""
        node = node.get(key)
    return node if isinstance(node, str) else ""


def _required(value: str, what: str) -> str:
    if not value:
        raise MalformedPayload(f"{what} missing from Slack's payload")
    return value


@dataclass(frozen=True, slots=True)
class Actor:
    team_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A button click (block_actions) on a release message, an ephemeral or the Home tab."""

    actor: Actor
    action_id: str
    value: str
    trigger_id: str
    channel_id: str  # "" on the Home tab
    message_ts: str  # the message holding the button ("" for ephemerals and views)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ActionRequest:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise MalformedPayload("no action in the payload")
        action = actions[0]
        team = text_at(body, "team", "id") or text_at(body, "user", "team_id")
        container = body.get("container") if isinstance(body.get("container"), dict) else {}
        is_ephemeral = bool(container.get("is_ephemeral")) if container else False
        return cls(
            actor=Actor(_required(team, "team id"), _required(text_at(body, "user", "id"), "user")),
            action_id=_required(action.get("action_id") or "", "action id"),
            value=str(action.get("value") or ""),
            trigger_id=text_at(body, "trigger_id"),
            channel_id=text_at(body, "channel", "id") or text_at(body, "container", "channel_id"),
            message_ts="" if is_ephemeral else text_at(body, "container", "message_ts"),
        )

    @property
    def ref(self) -> ReleaseRef:
        return ids.decode_value(self.value)

    def origin(self) -> ModalContext:
        """What a modal opened from this click carries back to its submission: the message it
        came from, when Slack named one in Slack's own formats (`encode_metadata` refuses any
        other, which raised out of the handler for a payload with a garbage channel id)."""
        located = ModalContext(ref=self.ref, channel_id=self.channel_id, message_ts=self.message_ts)
        try:
            ids.encode_metadata(located)
        except ValueError:
            return ModalContext(ref=located.ref, channel_id="", message_ts="")
        return located


@dataclass(frozen=True, slots=True)
class ViewSubmission:
    actor: Actor
    callback_id: str
    private_metadata: str
    values: dict[str, Any]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ViewSubmission:
        view = body.get("view")
        if not isinstance(view, dict):
            raise MalformedPayload("no view in the payload")
        state = view.get("state") if isinstance(view.get("state"), dict) else {}
        values = state.get("values") if state and isinstance(state.get("values"), dict) else {}
        team = text_at(body, "team", "id") or text_at(body, "user", "team_id")
        return cls(
            actor=Actor(_required(team, "team id"), _required(text_at(body, "user", "id"), "user")),
            callback_id=text_at(view, "callback_id"),
            private_metadata=text_at(view, "private_metadata"),
            values=values or {},
        )

    @property
    def origin(self) -> ModalContext:
        return ids.decode_metadata(self.private_metadata)

    def input(self, block_id: str, action_id: str) -> str:
        return ids.modal_input(self.values, block_id, action_id)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A `/forest ...` slash command."""

    actor: Actor
    channel_id: str
    trigger_id: str
    response_url: str  # where the answer goes; Slack always sends one
    verb: str
    args: tuple[str, ...]
    text: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CommandRequest:
        text = text_at(body, "text").strip()
        words = text.split()
        return cls(
            actor=Actor(
                _required(text_at(body, "team_id"), "team id"),
                _required(text_at(body, "user_id"), "user"),
            ),
            channel_id=text_at(body, "channel_id"),
            trigger_id=text_at(body, "trigger_id"),
            response_url=_required(text_at(body, "response_url"), "response url"),
            verb=words[0].lower() if words else "help",
            args=tuple(words[1:]),
            text=text,
        )
