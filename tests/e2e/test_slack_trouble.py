"""Slack pushing back: rate limits never lose the final state, and a deleted message is posted
again and kept current."""

from __future__ import annotations

from pathlib import Path

from blocks import ids
from bot.devsystem import DevSystem
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, release_message, shown, thread_text
from .test_bypass import _gate_open
from .test_resilience import vote_over_grpc
from .test_story import WAIT


async def test_rate_limited_updates_still_reach_the_final_state(
    tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await _gate_open(system, "bob")
        faults = system.sandbox.faults
        faults.methods = frozenset({"chat.update", "chat.postMessage"})
        faults.retry_after = 1
        faults.ratelimit_fraction = 0.5
        await vote_over_grpc(system, "carol", intent)
        await vote_over_grpc(system, "alice", intent)
        await eventually(lambda: "succeeded" in shown(release_message(ws)), 60.0)
        final = release_message(ws)
        assert final is not None and not buttons(final) and "2/2" in shown(final)
        assert len(ws.top_level(final.channel)) == 1


async def test_a_deleted_message_is_posted_again_and_kept_current(
    tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await _gate_open(system, "bob")
        deleted = release_message(ws)
        assert deleted is not None
        ws.delete(deleted)  # someone deleted the bot's message

        await vote_over_grpc(system, "carol", intent)
        await eventually(
            lambda: (
                (m := release_message(ws)) is not None
                and m.ts != deleted.ts
                and not m.deleted
                and "1/2" in shown(m)
            ),
            WAIT,
        )
        await system.sandbox.driver.click(
            "alice", message=release_message(ws), action_id=ids.ACTION_APPROVE
        )
        await eventually(lambda: "succeeded" in shown(release_message(ws)), 60.0)
        live = [m for m in ws.top_level(deleted.channel) if not m.deleted]
        assert len(live) == 1


async def test_a_plan_awaiting_approval_follows_its_reposted_message(
    tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await system.release("bob")
        await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(release_message(ws)), WAIT)
        first = release_message(ws)
        assert first is not None
        await eventually(lambda: "to add" in thread_text(ws, first), WAIT)
        ws.delete(first)
        # Unchanged state costs no Slack call, so the deletion is noticed at the next change.
        await vote_over_grpc(system, "carol", intent)
        await eventually(lambda: (m := release_message(ws)) is not None and m.ts != first.ts, WAIT)
        reposted = release_message(ws)
        assert reposted is not None and ids.ACTION_PLAN_APPROVE in buttons(reposted)
        await eventually(lambda: "to add" in thread_text(ws, reposted), WAIT)
