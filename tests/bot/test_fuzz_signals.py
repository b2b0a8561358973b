"""Malformed NATS signals, fuzzed with hypothesis and published on a real NATS to a running system
(forestd, the sandbox and the bot) with a release of bob's waiting at its production gate.

Properties: whatever arrives on forest.intent.evaluate, forest.release.status.> or
forest.events.> (random bytes, invalid JSON, JSON of any shape, huge payloads, unknown or real
ids, subjects of unknown organisations), nothing is logged at ERROR and no exception reaches the
NATS client's error callback; bad input is logged as a warning naming it; and afterwards a real
vote on the real release still updates its message.

Forest's EventService stream is not fuzzed: it is gRPC from Forest, so nothing outside Forest can
put garbage into it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient

from blocks import ids
from bot.devsystem import DevSystem
from sandbox.testing import eventually
from tests.e2e.conftest import options
from tests.e2e.story import release_message, shown
from tests.e2e.test_bypass import _gate_open
from tests.e2e.test_story import approval_state

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 60.0
REAL = "<the live intent>"  # replaced by the running release's intent id

TOKEN = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True) | st.text(
    alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20
)
INTENTS = st.just(REAL) | st.uuids().map(str) | TOKEN
SUBJECTS = st.one_of(
    st.just("forest.intent.evaluate"),
    st.builds(lambda t: f"forest.release.status.{t}", INTENTS),
    st.builds(lambda t: f"forest.events.{t}", st.sampled_from(["acme", "globex"]) | TOKEN),
    st.builds(lambda a, b: f"forest.events.{a}.{b}", TOKEN, TOKEN),
    st.builds(lambda a, b: f"forest.release.status.{a}.{b}", TOKEN, INTENTS),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    JSON.map(lambda v: repr(v).encode()),  # Python reprs: mostly invalid JSON
    JSON.map(lambda v: __import__("json").dumps(v).encode()),
    INTENTS.map(str.encode),
    st.builds(lambda i: f"  {i}\n".encode(), INTENTS),
    st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=8), st.integers(10_000, 120_000)),
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        """ERROR records, and warnings from the NATS error callback (an exception in a
        subscription's callback lands there)."""
        return [
            r.getMessage()
            for r in self.records
            if r.levelno >= logging.ERROR or r.getMessage().startswith("NATS: ")
        ]

    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


@dataclass
class Running:
    system: DevSystem
    intent: str
    nc: NatsClient
    records: Records


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str
) -> AsyncIterator[Running]:
    state: Path = tmp_path_factory.mktemp("fuzz-signals")
    records = Records()
    logging.getLogger().addHandler(records)
    try:
        async with DevSystem(options(state, nats_url, soak_seconds=1)) as system:
            intent = await _gate_open(system, "bob")
            nc = await nats.connect(system.nats_url, name="fuzzer")
            records.records.clear()
            try:
                yield Running(system, intent, nc, records)
            finally:
                await nc.close()
    finally:
        logging.getLogger().removeHandler(records)


def _live(running: Running, text: str) -> str:
    return text.replace(REAL, running.intent)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(subject=SUBJECTS, payload=PAYLOADS)
@example(subject="forest.intent.evaluate", payload=REAL.encode())
@example(subject=f"forest.release.status.{REAL}", payload=b"")
@example(subject="forest.events.acme", payload=b"\xff\xfe{")
async def test_fuzzed_signals_are_published(running: Running, subject: str, payload: bytes) -> None:
    await running.nc.publish(
        _live(running, subject), _live(running, payload.decode("latin-1")).encode("latin-1")
    )
    await running.nc.flush()
    assert not running.records.errors()


async def test_bad_signals_were_logged_and_a_vote_still_updates_the_message(
    running: Running,
) -> None:
    # One bad signal per subscription, published last: once each is logged, the bot has handled
    # everything published before it on that subscription (a subscription's callbacks run in order).
    marker = uuid.uuid4().hex
    bad = {
        "forest.intent.evaluate": f"not-an-intent-{marker}".encode(),
        f"forest.release.status.not-an-intent-{marker}": b"",
        f"forest.events.not.an-org-{marker}": b"",
    }
    for subject, payload in bad.items():
        await running.nc.publish(subject, payload)
    await running.nc.flush()
    await eventually(lambda: running.records.text().count(marker) >= len(bad), WAIT)
    assert not running.records.errors()

    system = running.system
    assert system.sandbox is not None
    ws = system.sandbox.workspace
    await system.sandbox.driver.click(
        "alice", message=release_message(ws), action_id=ids.ACTION_APPROVE
    )
    await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
    state = await approval_state(system, running.intent)
    assert [d.username for d in state.decisions] == ["alice"]
    assert not running.records.errors()
