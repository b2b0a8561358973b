"""Two bot replicas (`forest-bot run` child processes) on one PostgreSQL and one NATS, a release
train of 1,000 releases and clicks on the gated ones: no duplicate post, every message at its
final state, each click handled exactly once (one answer, one audit row, one vote in Forest).

The train comes in waves of `WAVE`: Forest lists only a project's newest 50 intents (and its live
ones), so a release that starts and ends while 50 newer ones are created is invisible to every
client of Forest's API, this bot included (docs/bot.md, "Limits"). The count can be lowered for a
quick local run with FOREST_TEST_REPLICA_RELEASES.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from blocks import ids
from bot.botprocess import BotProcess, free_port
from bot.devsystem import DevSystem
from forestd.db.engine import make_engine
from sandbox.records import Message
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, listed_intents, shown
from .test_story import approval_state

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

RELEASES = int(os.environ.get("FOREST_TEST_REPLICA_RELEASES", "1000"))
WAVE = 40  # inside Forest's page of 50 newest intents, with the gated ones
GATED = 4  # releases through the pipeline: a plan to approve, then 2 approvals, all by clicks
WAIT = float(
    os.environ.get("FOREST_TEST_REPLICA_WAIT", "600")
)  # give-up bound for a hung test on a loaded 2-core machine, not a speed goal
TITLE = re.compile(r"train-(\d{4})")


@pytest.fixture
async def replicas(tmp_path: Path, nats_url: str, pg_url: str) -> AsyncIterator[DevSystem]:
    """The system with the bot's store on PostgreSQL and two replicas of the bot running."""
    opts = options(tmp_path, nats_url, run_bot=False, bot_database_url=pg_url, deploy_seconds=0.0)
    async with DevSystem(opts) as system:
        processes: list[BotProcess] = []
        try:
            for name in ("replica-a", "replica-b"):
                settings = system.bot_settings().model_copy(
                    update={"replica_name": name, "http_port": free_port()}
                )
                home = tmp_path / name
                home.mkdir()
                processes.append(await BotProcess.start(settings, cwd=home))
            for process in processes:
                await process.wait_healthy(within=120)
            assert system.sandbox is not None
            system.sandbox.driver.use_socket_mode()  # Slack hands each click to one connection
            await eventually(
                lambda: (
                    system.sandbox is not None and system.sandbox.socket_mode.connection_count >= 2
                ),
                60,
            )
            yield system
        finally:
            for process in processes:
                await process.stop()


async def _release_train(system: DevSystem, first: int, count: int) -> None:
    """bob releases `count` commits straight to staging (no gate: each finishes in moments)."""
    limit = asyncio.Semaphore(8)

    async def one(n: int) -> None:
        async with limit:
            await system.release("bob", title=f"train-{n:04d}", environments=("staging",))

    await asyncio.gather(*(one(n) for n in range(first, first + count)))


async def _only_gated_live(system: DevSystem, gated: list[str]) -> bool:
    return await listed_intents(system, include_completed=False) <= set(gated)


def _by_title(messages: list[Message], title: str) -> Message | None:
    found = [m for m in messages if title in shown(m)]
    return found[0] if len(found) == 1 else None


async def _audit_rows(url: str) -> Counter[tuple[str, str, str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT intent_id, slack_user_id, action FROM bot_audit_log")
            )
            return Counter((r[0], r[1], r[2]) for r in rows)
    finally:
        await engine.dispose()


async def test_two_replicas_post_once_converge_and_handle_each_click_once(
    replicas: DevSystem, pg_url: str
) -> None:
    system = replicas
    assert system.sandbox is not None
    ws, driver = system.sandbox.workspace, system.sandbox.driver
    deploys = ws.channel("deploys")
    assert deploys is not None

    def top_level() -> list[Message]:
        return ws.top_level(deploys.id)

    gated = [await system.release("bob", title=f"gated-{n}") for n in range(GATED)]

    def succeeded(first: int, count: int) -> bool:
        wanted = {f"train-{n:04d}" for n in range(first, first + count)}
        for message in top_level():
            match = TITLE.search(shown(message))
            if match and match.group(0) in wanted and "succeeded" in shown(message):
                wanted.discard(match.group(0))
        return not wanted

    for first in range(0, RELEASES, WAVE):
        count = min(WAVE, RELEASES - first)
        await _release_train(system, first, count)
        # Forest's live list is capped at 50 too: the wave must have ended in Forest (not only
        # in its messages) before the next, or the gated releases would fall off that list
        await eventually(
            lambda: _only_gated_live(system, gated), WAIT, what="the wave ended in Forest"
        )
        await eventually(
            functools.partial(succeeded, first, count),
            WAIT,
            what=f"train {first}..{first + count} shown",
        )

    async def offering(title: str, action_id: str) -> Message:
        def offered() -> Message | None:
            message = _by_title(top_level(), title)
            return message if action_id in buttons(message) else None

        found: Message = await eventually(offered, WAIT, what=f"{title} offers {action_id}")
        return found

    # the plan of each gated release, approved by carol's click
    for n in range(GATED):
        message = await offering(f"gated-{n}", ids.ACTION_PLAN_APPROVE)
        assert (await driver.click("carol", message=message, action_id=ids.ACTION_PLAN_APPROVE)).ok
    # then the gate: alice and carol approve each by clicking
    for n in range(GATED):
        for voter in ("alice", "carol"):
            message = await offering(f"gated-{n}", ids.ACTION_APPROVE)
            assert (await driver.click(voter, message=message, action_id=ids.ACTION_APPROVE)).ok

    # every release shown exactly once, each at its final state
    def all_final() -> bool:
        messages = top_level()
        open_ones = [shown(m)[:300] for m in messages if "succeeded" not in shown(m) or buttons(m)]
        carol = ws.user("carol")
        said = [e.text for e in ws.ephemerals_for(carol.id)] if carol else []
        assert not open_ones, (
            f"{len(open_ones)} not final, e.g. {open_ones[:2]}; carol was told {said}"
        )
        return len(messages) >= RELEASES + GATED

    await eventually(all_final, WAIT, what="every release shown once, at its final state")
    titles = Counter(
        match.group(0) if (match := TITLE.search(shown(m))) else shown(m).split("\n")[0]
        for m in top_level()
    )
    assert len(top_level()) == RELEASES + GATED
    assert [t for t, n in titles.items() if n > 1] == []  # no duplicate post

    # each click handled exactly once: one answer, one audit row, one vote in Forest
    carol, alice = system.users["carol"].slack_id, system.users["alice"].slack_id
    audit = await _audit_rows(pg_url)
    for intent in gated:
        assert audit[(intent, carol, "plan_approve")] == 1
        assert audit[(intent, carol, "approve")] == 1
        assert audit[(intent, alice, "approve")] == 1
        state = await approval_state(system, intent)
        assert sorted((d.username, d.decision) for d in state.decisions) == [
            ("alice", "approved"),
            ("carol", "approved"),
        ]
    for voter, answers in (("carol", 2 * GATED), ("alice", GATED)):
        person = ws.user(voter)
        assert person is not None
        assert len(ws.ephemerals_for(person.id)) == answers
