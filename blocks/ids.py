"""Stable, versioned identifiers and the codecs for button values and modal metadata.

Changing what an id means needs a new version suffix (`.v2`): messages posted by an older bot
stay in channels for months and their buttons must keep working or fail clearly.

A button `value` and a modal's `private_metadata` carry **only ids to look up** (organisation,
project, intent, environment, stage, and for modals the originating message). Who clicked and
what they may do comes from Slack's signed payload and from Forest, never from these strings:
a client can send any value it likes.

What the ids may be. Forest puts no rule on the characters of environment or stage names (the
real Forest validates none; forestd bounds environments and stage ids to 200 characters of any
Unicode), so a value cannot assume slugs. Each field is percent-encoded as UTF-8 (one byte
becomes at most three ASCII characters, so Slack's character limit is a byte count here) and
has a budget in UTF-8 bytes (`FIELD_BYTES`: 100 for organisation and project, 64 for the intent
id, a UUID, 200 for environment and stage id, which holds every ASCII name forestd accepts).
The budgets add up to 664 bytes, so the longest value is `r1` + 5 separators + 3 × 664 = 1,999
characters (`WORST_VALUE_CHARS`), within MAX_BUTTON_VALUE whatever the text; private_metadata
adds a channel id and a ts and stays far below MAX_PRIVATE_METADATA. A field over its budget is
refused with a ValueError naming it, when the message is rendered; it is never cut, since a cut
name would point at another environment. The release message then shows a note instead of the
buttons (blocks.release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from blocks.limits import MAX_BUTTON_VALUE, MAX_PRIVATE_METADATA

# Buttons on the release message.
ACTION_APPROVE = "forest.approve.v1"
ACTION_REJECT = "forest.reject.v1"
ACTION_BYPASS = "forest.bypass.v1"
ACTION_PLAN_APPROVE = "forest.plan_approve.v1"
ACTION_PLAN_REJECT = "forest.plan_reject.v1"
ACTION_PLAN_VIEW = "forest.plan_view.v1"
# Buttons elsewhere (ephemerals, Home tab, help).
ACTION_LINK_ACCOUNT = "forest.link_account_open.v1"
ACTION_OPEN_LINK = "forest.open_link.v1"  # URL buttons: Slack still sends an action; ack it.

# Modals (view callback_id).
CALLBACK_REJECT = "forest.reject_modal.v1"
CALLBACK_BYPASS = "forest.bypass_modal.v1"
CALLBACK_PLAN_REJECT = "forest.plan_reject_modal.v1"
CALLBACK_LINK_ACCOUNT = "forest.link_account.v1"

# Modal inputs: view.state.values[block_id][action_id].value
COMMENT_BLOCK = "forest.comment.v1"
COMMENT_INPUT = "forest.comment_input.v1"
REASON_BLOCK = "forest.reason.v1"
REASON_INPUT = "forest.reason_input.v1"
TOKEN_BLOCK = "forest.token.v1"
TOKEN_INPUT = "forest.token_input.v1"
USERNAME_BLOCK = "forest.username.v1"
USERNAME_INPUT = "forest.username_input.v1"

# Upper bounds the modals ask Slack to enforce on typed text.
MAX_COMMENT_CHARS = 1000
MAX_REASON_CHARS = 1000
MAX_TOKEN_CHARS = 500
MAX_USERNAME_CHARS = 200

_VALUE_VERSION = "r1"
_METADATA_VERSION = "m1"
_SEP = "|"
FIELD_BYTES = {
    "organisation": 100,
    "project": 100,
    "intent_id": 64,
    "environment": 200,
    "stage_id": 200,
}
_MAX_ENCODED_PER_BYTE = len("%FF")
WORST_VALUE_CHARS = (
    len(_VALUE_VERSION) + len(FIELD_BYTES) + _MAX_ENCODED_PER_BYTE * sum(FIELD_BYTES.values())
)
_CHANNEL = re.compile(r"[CDG][A-Z0-9]{2,30}")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")  # not \d: it accepts any script's digits


class MalformedPayload(ValueError):
    """A button value or private_metadata that this bot did not produce (or a newer one did)."""


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """What a button points at. `environment` and `stage_id` are empty when not relevant."""

    organisation: str
    project: str
    intent_id: str
    environment: str = ""
    stage_id: str = ""


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What a modal carries: the release ref and the message it was opened from (if any)."""

    ref: ReleaseRef
    channel_id: str = ""
    message_ts: str = ""


def _field(value: str, name: str) -> str:
    try:
        size = len(value.encode())
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid Unicode text") from exc
    if size > FIELD_BYTES[name]:
        raise ValueError(
            f"{name} is {size} bytes of UTF-8; a button value has room for {FIELD_BYTES[name]}"
        )
    return quote(value, safe="-._~@:/ ")


def _ref_fields(ref: ReleaseRef) -> list[str]:
    return [
        _field(ref.organisation, "organisation"),
        _field(ref.project, "project"),
        _field(ref.intent_id, "intent_id"),
        _field(ref.environment, "environment"),
        _field(ref.stage_id, "stage_id"),
    ]


def _ref_from_parts(parts: list[str], raw: str) -> ReleaseRef:
    try:
        values = [unquote(p, errors="strict") for p in parts]
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"undecodable field in {raw[:80]!r}") from exc
    ref = ReleaseRef(*values)
    if not (ref.organisation and ref.project and ref.intent_id):
        raise MalformedPayload("organisation, project and intent id are required")
    try:
        canonical = _ref_fields(ref)
    except ValueError as exc:
        raise MalformedPayload(str(exc)) from exc
    if canonical != parts:
        raise MalformedPayload(f"not in canonical form: {raw[:80]!r}")
    return ref


def encode_value(ref: ReleaseRef) -> str:
    """`r1|org|project|intent|environment|stage`, each field percent-encoded."""
    if not (ref.organisation and ref.project and ref.intent_id):
        raise ValueError("organisation, project and intent id are required")
    value = _SEP.join([_VALUE_VERSION, *_ref_fields(ref)])
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"button value longer than {MAX_BUTTON_VALUE} characters")
    return value


def decode_value(value: str | None) -> ReleaseRef:
    """The inverse of `encode_value`; raises MalformedPayload for anything else."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload("empty button value")
    if len(value) > MAX_BUTTON_VALUE:
        raise MalformedPayload("button value too long")
    parts = value.split(_SEP)
    if parts[0] != _VALUE_VERSION:
        raise MalformedPayload(f"unknown button value version {parts[0][:10]!r}")
    if len(parts) != 6:
        raise MalformedPayload(f"expected 6 fields in a button value, got {len(parts)}")
    return _ref_from_parts(parts[1:], value)


def encode_metadata(context: ModalContext) -> str:
    """`m1|org|project|intent|environment|stage|channel|ts` for a modal's private_metadata."""
    if bool(context.channel_id) != bool(context.message_ts):
        raise ValueError("channel_id and message_ts go together")
    if context.channel_id and not _CHANNEL.fullmatch(context.channel_id):
        raise ValueError(f"not a Slack channel id: {context.channel_id!r}")
    if context.message_ts and not _TS.fullmatch(context.message_ts):
        raise ValueError(f"not a Slack message ts: {context.message_ts!r}")
    if not (context.ref.organisation and context.ref.project and context.ref.intent_id):
        raise ValueError("organisation, project and intent id are required")
    metadata = _SEP.join(
        [_METADATA_VERSION, *_ref_fields(context.ref), context.channel_id, context.message_ts]
    )
    if len(metadata) > MAX_PRIVATE_METADATA:
        raise ValueError(f"private_metadata longer than {MAX_PRIVATE_METADATA} characters")
    return metadata


def decode_metadata(metadata: str | None) -> ModalContext:
    """The inverse of `encode_metadata`; raises MalformedPayload for anything else."""
    if not isinstance(metadata, str) or not metadata:
        raise MalformedPayload("empty private_metadata")
    if len(metadata) > MAX_PRIVATE_METADATA:
        raise MalformedPayload("private_metadata too long")
    parts = metadata.split(_SEP)
    if parts[0] != _METADATA_VERSION:
        raise MalformedPayload(f"unknown private_metadata version {parts[0][:10]!r}")
    if len(parts) != 8:
        raise MalformedPayload(f"expected 8 fields in private_metadata, got {len(parts)}")
    ref = _ref_from_parts(parts[1:6], metadata)
    channel_id, message_ts = parts[6], parts[7]
    if bool(channel_id) != bool(message_ts):
        raise MalformedPayload("channel id and message ts go together")
    if channel_id and not _CHANNEL.fullmatch(channel_id):
        raise MalformedPayload(f"not a Slack channel id: {channel_id[:40]!r}")
    if message_ts and not _TS.fullmatch(message_ts):
        raise MalformedPayload(f"not a Slack message ts: {message_ts[:40]!r}")
    return ModalContext(ref=ref, channel_id=channel_id, message_ts=message_ts)


def modal_input(state_values: object, block_id: str, action_id: str) -> str:
    """The typed text of one input from `view.state.values`; "" when absent or empty."""
    if not isinstance(state_values, dict):
        return ""
    block = state_values.get(block_id)
    if not isinstance(block, dict):
        return ""
    element = block.get(action_id)
    if not isinstance(element, dict):
        return ""
    value = element.get("value")
    return value.strip() if isinstance(value, str) else ""
