"""Bypass: only an admin author, through the modal with a reason; recorded, audited, announced,
and counted honestly. A non-admin author is offered none, and a forged submission never reaches
Forest (checked in Forest's own state, also where Forest itself would accept it)."""

from __future__ import annotations

from pathlib import Path

from blocks import ids, modals
from blocks.ids import ModalContext, ReleaseRef
from bot.devsystem import DevSystem
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, last_ephemeral, release_message, shown, thread_text
from .test_story import WAIT, approval_state


async def _gate_open(system: DevSystem, author: str) -> str:
    """`author` releases; carol approves the plan; wait until the gate takes votes."""
    assert system.sandbox is not None
    ws, driver = system.sandbox.workspace, system.sandbox.driver
    intent = await system.release(author, title=f"Release by {author}")
    await eventually(lambda: f"Release by {author}" in shown(release_message(ws)), WAIT)
    await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(release_message(ws)), WAIT)
    plan_approver = "carol" if author != "carol" else "bob"
    await driver.click(
        plan_approver, message=release_message(ws), action_id=ids.ACTION_PLAN_APPROVE
    )
    await eventually(lambda: "approved the plan" in last_ephemeral(ws, plan_approver), WAIT)
    await eventually(lambda: ids.ACTION_PLAN_APPROVE not in buttons(release_message(ws)), WAIT)
    await eventually(lambda: ids.ACTION_APPROVE in buttons(release_message(ws)), WAIT)
    return intent


async def test_admin_author_bypasses_with_a_reason(
    tmp_path: Path, nats_url: str, compat: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, compat=compat, soak_seconds=1)) as system:
        assert system.sandbox is not None and system.bot is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        intent = await _gate_open(system, "alice")
        message = release_message(ws)
        assert message is not None

        # Approve on her own release: told why not, and offered Bypass (she is an admin)
        await driver.click("alice", message=message, action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "own release" in last_ephemeral(ws, "alice"), WAIT)
        assert ids.ACTION_BYPASS in last_ephemeral(ws, "alice")

        await driver.click("alice", message=release_message(ws), action_id=ids.ACTION_BYPASS)
        alice = ws.user("alice")
        assert alice is not None
        await eventually(lambda: ws.top_view(alice.id) is not None, WAIT)
        view = ws.top_view(alice.id)
        assert view is not None and "bypass" in str(view.body).lower()
        result = await driver.submit_view("alice", view.id, {ids.REASON_INPUT: "hotfix for INC-42"})
        assert result.closed

        await eventually(lambda: "INC-42" in thread_text(ws, message), WAIT)
        notice = thread_text(ws, message)
        assert "approvals 1/2" in notice and "bypass" in notice
        await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
        # the gate's history says bypass, from the bot's audit (Forest records a plain vote)
        await eventually(lambda: "bypassed the gate" in shown(release_message(ws)), WAIT)
        state = await approval_state(system, intent)
        assert [(d.username, d.decision) for d in state.decisions] == [("alice", "approved")]
        audit = await system.bot.ctx.store.audit_entries(intent)
        assert [(a.action, a.result, a.comment) for a in audit if a.action == "bypass"] == [
            ("bypass", "recorded", "hotfix for INC-42")
        ]
        assert ids.ACTION_APPROVE in buttons(release_message(ws))  # the gate is still open


async def test_member_author_gets_no_bypass_and_a_forged_one_is_refused(
    tmp_path: Path, nats_url: str, compat: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, compat=compat, soak_seconds=1)) as system:
        assert system.sandbox is not None and system.bot is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        intent = await _gate_open(system, "carol")
        carol = ws.user("carol")
        assert carol is not None

        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "own release" in last_ephemeral(ws, "carol"), WAIT)
        assert ids.ACTION_BYPASS not in last_ephemeral(ws, "carol")

        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_BYPASS)
        await eventually(lambda: "Only admins" in last_ephemeral(ws, "carol"), WAIT)
        assert ws.top_view(carol.id) is None  # no modal was opened

        # a client that forges the bypass modal and submits it
        message = release_message(ws)
        assert message is not None
        forged = modals.bypass_modal(
            ModalContext(
                ReleaseRef("acme", "api", intent, "production"), message.channel, message.ts
            )
        )
        view = ws.open_view(carol.id, forged)
        result = await driver.submit_view("carol", view.id, {ids.REASON_INPUT: "trust me"})
        assert result.response_action == "errors"
        assert "admin" in str(result.errors).lower()

        state = await approval_state(system, intent)
        assert list(state.decisions) == []  # nothing reached Forest
        audit = await system.bot.ctx.store.audit_entries(intent)
        assert [a.action for a in audit] == ["plan_approve"]  # bob's; no bypass, no vote
        assert "trust me" not in thread_text(ws, message)
