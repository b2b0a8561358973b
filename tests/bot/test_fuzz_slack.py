"""Malformed Slack input, fuzzed with hypothesis, signed as Slack signs and POSTed to the bot's
/slack/events (Bolt's aiohttp adapter, as in production), against one running system: NATS,
forestd, the sandbox and the bot in HTTP mode, with a release of bob's waiting at its gate.

Properties, for every payload: the bot answers 200 (acked), 404 (Bolt found no listener for it),
400 (a payload Bolt itself cannot read) or 413 (a body over 1 MiB); the listener's work after
the ack ends, and nothing is logged at ERROR (an exception reaching the bot's error handler is
logged there); nothing is recorded in Forest, since no generated payload is a valid click by a
linked user; and afterwards a real click through the sandbox still records a vote and updates
the message. Last, a bot in Socket Mode acks the unreadable payloads found here.

POSTing to the real /slack/events rather than calling `app.async_dispatch` keeps what Bolt
raises before our code runs (answered by `handlers.payloads.answer_unreadable`) in reach.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from blocks import ids
from bot.app import Bot
from bot.devsystem import SIGNING_SECRET, DevSystem
from handlers.payloads import MALFORMED, unreadable
from sandbox.delivery import Kind
from sandbox.state import Workspace
from sandbox.testing import eventually
from tests.e2e.conftest import options
from tests.e2e.story import buttons, release_message, shown
from tests.e2e.test_bypass import _gate_open
from tests.e2e.test_story import approval_state

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 60.0
# 200: acked (possibly with a modal's errors); 404: Bolt's "unhandled request" (no listener);
# 400: a payload Bolt cannot read (handlers.payloads.answer_unreadable); 413: a body over
# aiohttp's 1 MiB limit, refused before Bolt reads it (Slack's own payloads are far smaller).
ACCEPTED = {200, 400, 404, 413}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LINKED = ("U0ALICE001", "U0BOB00001", "U0CAROL001")  # the demo users DevSystem links
EXISTING_PROJECTS = {"acme/api", "globex/web"}


# -- placeholders for what only the running system knows -----------------------------------------


class Live:
    """Strings replaced by the running system's values when a payload is sent."""

    TEAM = "<team>"
    CHANNEL = "<channel>"
    TS = "<message-ts>"
    TRIGGER = "<trigger>"
    RESPONSE_URL = "<response-url>"


@dataclass(frozen=True)
class RefSpec:
    """A button value (or modal metadata) in the bot's own format; intent None is the live one."""

    organisation: str
    project: str
    intent_id: str | None
    environment: str = ""
    stage_id: str = ""
    channel: str = ""  # metadata only
    ts: str = ""

    def fields(self, intent: str) -> list[str]:
        parts = [self.organisation, self.project, self.intent_id or intent]
        return [quote(p, safe="-._~@:/ ") for p in [*parts, self.environment, self.stage_id]]


@dataclass(frozen=True)
class ValueSpec(RefSpec):
    def render(self, intent: str) -> str:
        return "|".join(["r1", *self.fields(intent)])


@dataclass(frozen=True)
class MetadataSpec(RefSpec):
    def render(self, intent: str) -> str:
        return "|".join(["m1", *self.fields(intent), self.channel, self.ts])


# -- strategies ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
HUGE = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1_000, 8_000))
TEXT = st.one_of(
    st.text(max_size=60),
    HUGE,
    st.lists(st.text(max_size=8), max_size=12).map("|".join),  # separator-stuffed
    st.sampled_from(["", " ", "r1", "m1", "r1|||||", "m1|||||||", "\x00", "%ZZ", "%C3%28"]),
)
NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
USER_IDS = st.one_of(st.sampled_from([*LINKED, "U0NOBODY01", "UNLINKED42"]), TEXT)


@st.composite
def ref_fields(draw: st.DrawFn, *, linked: bool) -> dict[str, Any]:
    """Ids in the bot's format: other orgs' and projects, unknown intents, the live intent (only
    for users who are not linked: a linked user's click on it would be a valid vote)."""
    organisation = draw(
        st.sampled_from(["acme", "globex"]) | NAME | st.text(min_size=1, max_size=30)
    )
    project = draw(st.sampled_from(["api", "web"]) | NAME | st.text(min_size=1, max_size=30))
    intent = draw(
        st.none() | st.uuids().map(str) | st.text(min_size=1, max_size=40)  # None: the live one
    )
    if linked and intent is None and (organisation, project) == ("acme", "api"):
        organisation = "globex"
    return {
        "organisation": organisation,
        "project": project,
        "intent_id": intent,
        "environment": draw(st.sampled_from(["production", "staging", ""]) | st.text(max_size=20)),
        "stage_id": draw(st.just("") | st.uuids().map(str) | st.text(max_size=20)),
    }


@st.composite
def mangled(draw: st.DrawFn, value: Any) -> Any:
    """`value` with some keys dropped, replaced by any JSON (wrong types) or mangled in turn.
    Mangling never turns an invalid payload into a valid one: it only removes or garbles."""
    if isinstance(value, list):
        return [draw(mangled(v)) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, inner in value.items():
        roll = draw(st.integers(0, 11))
        if roll == 0:
            continue
        out[key] = draw(JSON) if roll == 1 else draw(mangled(inner)) if roll == 2 else inner
    return out


def _base(kind: str, user: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": Live.TEAM},
        "api_app_id": "A0SANDBOX1",
        "token": "sandbox-verification-token",
        "team": {"id": Live.TEAM, "domain": "sandbox"},
        "trigger_id": Live.TRIGGER,
    }


@st.composite
def block_actions(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(USER_IDS)
    value = draw(
        st.builds(
            ValueSpec, **{k: st.just(v) for k, v in draw(ref_fields(linked=user in LINKED)).items()}
        )
        | TEXT
        | JSON
    )
    action_ids = [
        ids.ACTION_APPROVE,
        ids.ACTION_REJECT,
        ids.ACTION_BYPASS,
        ids.ACTION_PLAN_APPROVE,
        ids.ACTION_PLAN_REJECT,
        ids.ACTION_PLAN_VIEW,
        ids.ACTION_LINK_ACCOUNT,
        ids.ACTION_OPEN_LINK,
    ]
    payload = {
        **_base("block_actions", user),
        "container": {
            "type": "message",
            "message_ts": draw(st.just(Live.TS) | TEXT),
            "channel_id": draw(st.just(Live.CHANNEL) | TEXT),
            "is_ephemeral": draw(st.booleans() | JSON),
        },
        "channel": {"id": draw(st.just(Live.CHANNEL) | TEXT), "name": "deploys"},
        "response_url": draw(st.just(Live.RESPONSE_URL) | TEXT),
        "state": {"values": {}},
        "actions": [
            {
                "action_id": draw(st.sampled_from(action_ids) | TEXT),
                "block_id": draw(TEXT),
                "type": "button",
                "value": value,
                "action_ts": "1764500000.000001",
            }
        ],
    }
    return dict(draw(mangled(payload)))


CALLBACKS = [
    ids.CALLBACK_REJECT,
    ids.CALLBACK_PLAN_REJECT,
    ids.CALLBACK_BYPASS,
    ids.CALLBACK_LINK_ACCOUNT,
]
INPUTS = [
    (ids.COMMENT_BLOCK, ids.COMMENT_INPUT),
    (ids.REASON_BLOCK, ids.REASON_INPUT),
    (ids.TOKEN_BLOCK, ids.TOKEN_INPUT),
    (ids.USERNAME_BLOCK, ids.USERNAME_INPUT),
]


@st.composite
def view_submissions(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(USER_IDS)
    ref = draw(ref_fields(linked=user in LINKED))
    metadata = draw(
        st.builds(
            MetadataSpec,
            channel=st.sampled_from([Live.CHANNEL, ""]) | st.text(max_size=12),
            ts=st.sampled_from([Live.TS, ""]) | st.text(max_size=20),
            **{k: st.just(v) for k, v in ref.items()},
        )
        | TEXT
        | JSON
    )
    values = {
        block: {action: {"type": "plain_text_input", "value": draw(TEXT | JSON)}}
        for block, action in INPUTS
    }
    payload = {
        **_base("view_submission", user),
        "view": {
            "id": "V0FUZZ0001",
            "type": "modal",
            "team_id": Live.TEAM,
            "callback_id": draw(st.sampled_from(CALLBACKS) | TEXT),
            "private_metadata": metadata,
            "state": {"values": values},
            "hash": "1764500000.abcdef",
        },
        "response_urls": [],
    }
    return dict(draw(mangled(payload)))


VERBS = ["help", "list", "whoami", "pending", "subscribe", "unsubscribe", "login", "logout"]
PROJECT_SYNTAX = st.one_of(
    st.builds(lambda a, b: f"{a}/{b}", NAME, NAME).filter(lambda t: t not in EXISTING_PROJECTS),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=12), st.text(max_size=12)),
    st.sampled_from(["/", "acme/", "/api", "acme//api", "acme/api/x", "-a/b", "acme api"]),
)


@st.composite
def slash_commands(draw: st.DrawFn) -> dict[str, str]:
    user = draw(USER_IDS)
    words = [
        draw(st.sampled_from(VERBS) | TEXT),
        *draw(st.lists(PROJECT_SYNTAX | TEXT, max_size=3)),
    ]
    text = " ".join(str(w) for w in words)
    first = text.split()[0].lower() if text.split() else ""
    if user in LINKED and first == "logout":
        user = "U0NOBODY01"  # a linked user's logout is a valid command with an effect
    fields: dict[str, Any] = {
        "token": "sandbox-verification-token",
        "team_id": Live.TEAM,
        "team_domain": "sandbox",
        "channel_id": draw(st.just(Live.CHANNEL) | TEXT),
        "channel_name": "deploys",
        "user_id": user,
        "user_name": "someone",
        "command": draw(st.just("/forest") | TEXT),
        "text": text,
        "api_app_id": "A0SANDBOX1",
        "is_enterprise_install": "false",
        "response_url": draw(st.just(Live.RESPONSE_URL) | TEXT),
        "trigger_id": Live.TRIGGER,
    }
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in draw(mangled(fields)).items()}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event = {
        "type": draw(st.sampled_from(["app_home_opened", "message", "app_mention"]) | TEXT),
        "user": draw(USER_IDS),
        "channel": draw(st.just(Live.CHANNEL) | TEXT),
        "tab": draw(st.sampled_from(["home", "messages"]) | TEXT),
        "event_ts": "1764500000.000001",
        "view": draw(JSON),
    }
    payload = {
        "token": "sandbox-verification-token",
        "team_id": draw(st.just(Live.TEAM) | TEXT),
        "api_app_id": "A0SANDBOX1",
        "event": event,
        "type": draw(
            st.sampled_from(["event_callback", "url_verification", "app_rate_limited"]) | TEXT
        ),
        "challenge": draw(TEXT),
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": 1764500000,
    }
    return dict(draw(mangled(payload)))


# -- the running system --------------------------------------------------------------------------


class Problems(logging.Handler):
    """Every record at ERROR or above, from any logger (the bot's error handler logs there)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Gate:
    system: DevSystem
    intent: str
    problems: Problems
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bot.http_port}/slack/events"

    @property
    def bot(self) -> Bot:
        assert self.system.bot is not None
        return self.system.bot

    @property
    def ws(self) -> Workspace:
        assert self.system.sandbox is not None
        return self.system.sandbox.workspace

    def live(self, value: Any) -> Any:
        """The payload with its placeholders replaced by the running system's values."""
        if isinstance(value, ValueSpec | MetadataSpec):
            return self.live(value.render(self.intent))
        if isinstance(value, dict):
            return {k: self.live(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.live(v) for v in value]
        if not isinstance(value, str) or "<" not in value:
            return value
        message = release_message(self.ws)
        assert message is not None and self.system.sandbox is not None
        known = {
            Live.TEAM: self.ws.app.team_id,
            Live.CHANNEL: message.channel,
            Live.TS: message.ts,
            Live.TRIGGER: self.ws.new_trigger(LINKED[0]),
            Live.RESPONSE_URL: f"{self.system.sandbox.base_url}_sandbox/respond/T0/nothing",
        }
        for placeholder, actual in known.items():
            value = value.replace(placeholder, actual)
        return value


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gate(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> AsyncIterator[Gate]:
    state: Path = tmp_path_factory.mktemp("fuzz-slack")
    problems = Problems()
    logging.getLogger().addHandler(problems)
    try:
        async with DevSystem(options(state, nats_url, mode="http", soak_seconds=1)) as system:
            intent = await _gate_open(system, "bob")
            problems.records.clear()  # from here on, everything is the fuzzer's
            async with aiohttp.ClientSession() as http:
                yield Gate(system, intent, problems, http)
    finally:
        logging.getLogger().removeHandler(problems)


def _bolt_listeners() -> set[asyncio.Task[Any]]:
    """Bolt runs a listener after its ack (and reports its exception) in these tasks."""
    return {
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__name__", "") == "run_ack_function_asynchronously"
    }


async def dispatch(gate: Gate, body: str, content_type: str) -> tuple[int, str]:
    """Sign `body` as Slack does, POST it to the bot's /slack/events (Bolt's aiohttp adapter, as
    in production) and wait for the work its listener goes on with after the ack; check the
    properties every request must keep. Returns the HTTP status and body."""
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    before = len(gate.problems.records)
    async with gate.http.post(gate.url, data=body.encode(), headers=headers) as response:
        status, text = response.status, await response.text()
    running = _bolt_listeners()
    if running:
        _, stuck = await asyncio.wait(running, timeout=WAIT)
        assert not stuck, f"a listener never finished: {stuck}"
    problems = gate.problems.records[before:]
    assert not problems, "\n".join(logging.Formatter().format(r) for r in problems)
    assert status in ACCEPTED, (status, text)
    assert status != 400 or text == MALFORMED
    return status, text


async def send_interactive(gate: Gate, payload: Any) -> tuple[int, str]:
    body = urlencode({"payload": json.dumps(gate.live(payload))})
    return await dispatch(gate, body, "application/x-www-form-urlencoded")


# -- properties ----------------------------------------------------------------------------------


@FUZZ
@given(payload=block_actions())
@example(payload={**_base("block_actions", "U0NOBODY01"), "actions": [[]]})
@example(payload={**_base("block_actions", LINKED[0]), "actions": [{"action_id": None}]})
@example(payload={**_base("block_actions", LINKED[0]), "actions": [{"value": "x"}]})
@example(payload={"team": 1.0})  # Bolt raised building its context: 500 before the fix
@example(  # the refusal's answer read body["user"]["id"] whatever its type
    payload={
        **_base("block_actions", LINKED[0]),
        "user": [None],
        "actions": [{"action_id": ids.ACTION_APPROVE, "value": "x"}],
    }
)
@example(  # a channel id not in Slack's format raised encoding the Reject modal's metadata
    payload={
        **_base("block_actions", LINKED[0]),
        "container": {"type": "message", "message_ts": Live.TS, "channel_id": "0"},
        "actions": [{"action_id": ids.ACTION_REJECT, "value": ValueSpec("globex", "api", None)}],
    }
)
async def test_clicks_with_malformed_payloads(gate: Gate, payload: dict[str, Any]) -> None:
    await send_interactive(gate, payload)


@FUZZ
@given(payload=view_submissions())
async def test_modal_submissions_with_malformed_payloads(
    gate: Gate, payload: dict[str, Any]
) -> None:
    status, text = await send_interactive(gate, payload)
    if status == 200 and text:
        answer = json.loads(text)
        assert answer.get("response_action") in ("errors", "update", None), answer


def _command(user: str, text: str, **fields: str) -> dict[str, str]:
    return {"team_id": Live.TEAM, "user_id": user, "command": "/forest", "text": text, **fields}


@FUZZ
@given(fields=slash_commands())
# respond() raised without a response_url, or with one that is not a URL or is unreachable
@example(fields={"team_id": "null", "user_id": LINKED[0], "command": "/forest"})
@example(fields=_command(LINKED[0], "whoami", response_url="abc"))
@example(fields=_command(LINKED[0], "help", response_url="http://127.0.0.1:9/x"))
@example(fields=_command(LINKED[0], "help", response_url="ftp://x/y"))
async def test_slash_commands_with_malformed_fields(gate: Gate, fields: dict[str, str]) -> None:
    body = urlencode({k: gate.live(v) for k, v in fields.items()})
    await dispatch(gate, body, "application/x-www-form-urlencoded")


@FUZZ
@given(payload=events())
@example(payload={"event": None})
@example(payload={"event": None, "type": "url_verification", "challenge": ""})
async def test_events_with_malformed_payloads(gate: Gate, payload: dict[str, Any]) -> None:
    status, _ = await dispatch(gate, json.dumps(gate.live(payload)), "application/json")
    verification = payload.get("type") == "url_verification"
    if verification and isinstance(payload.get("challenge"), str) and unreadable(payload) is None:
        assert status == 200


@FUZZ
@given(
    body=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
)
async def test_bodies_that_are_not_slack_payloads(gate: Gate, body: str, content_type: str) -> None:
    await dispatch(gate, body, content_type)


async def test_nothing_was_recorded_and_a_real_click_still_counts(gate: Gate) -> None:
    state = await approval_state(gate.system, gate.intent)
    assert [d.username for d in state.decisions] == [] and state.current_approvals == 0
    assert ids.ACTION_APPROVE in buttons(release_message(gate.ws))
    assert gate.system.sandbox is not None
    await gate.system.sandbox.driver.click(
        "alice", message=release_message(gate.ws), action_id=ids.ACTION_APPROVE
    )
    await eventually(lambda: "1/2" in shown(release_message(gate.ws)), WAIT)
    state = await approval_state(gate.system, gate.intent)
    assert [d.username for d in state.decisions] == ["alice"]
    assert not gate.problems.records, [r.getMessage() for r in gate.problems.records]


# Payloads Bolt cannot read (found above), as Socket Mode envelopes: Bolt raises them out of its
# Socket Mode handler, where nothing acks them (Slack shows an error, or redelivers an event).
UNREADABLE: list[tuple[Kind, dict[str, Any]]] = [
    ("interactive", {"team": 1.0}),
    ("interactive", {**_base("block_actions", "U0NOBODY01"), "actions": [[]]}),
    ("interactive", {**_base("block_actions", LINKED[0]), "actions": [{"value": "x"}]}),
    ("interactive", {**_base("view_submission", LINKED[0]), "view": []}),
    ("events_api", {"type": "event_callback", "event": None}),
    ("events_api", {"type": "event_callback", "event": ["app_home_opened"]}),
]


async def test_socket_mode_acks_what_it_cannot_read(tmp_path: Path, nats_url: str) -> None:
    problems = Problems()
    logging.getLogger().addHandler(problems)
    try:
        async with DevSystem(options(tmp_path, nats_url, mode="socket")) as system:
            assert system.sandbox is not None and system.sandbox.driver.delivery is not None
            for kind, payload in UNREADABLE:
                ack = await system.sandbox.driver.delivery.deliver(kind, payload)
                assert ack.ok, (payload, ack.error)
            assert not problems.records, [r.getMessage() for r in problems.records]
    finally:
        logging.getLogger().removeHandler(problems)
