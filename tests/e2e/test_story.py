"""The whole story, as users live it in Slack, against both forestd behaviours.

Every intermediate state is checked in the message the sandbox holds (what the channel shows),
and votes in what Forest holds.
"""

from __future__ import annotations

import grpc

from blocks import ids
from bot.devsystem import DevSystem
from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2
from sandbox.testing import eventually

from .story import buttons, last_ephemeral, release_message, shown, thread_text

WAIT = 30.0


async def approval_state(system: DevSystem, intent_id: str) -> policies_pb2.ExternalApprovalState:
    """What Forest holds, read with the service token."""
    assert system.forest is not None
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        stub = policies_pb2_grpc.PolicyServiceStub(channel)
        response = await stub.GetExternalApprovalState(
            policies_pb2.GetExternalApprovalStateRequest(
                project=releases_pb2.Project(organisation="acme", project="api"),
                release_intent_id=intent_id,
                target_environment="production",
            ),
            metadata=(("authorization", f"Bearer {system.service_token}"),),
            timeout=5,
        )
    return response.state


async def test_the_whole_story(tmp_path, nats_url, compat) -> None:  # type: ignore[no-untyped-def]
    from .conftest import options

    async with DevSystem(options(tmp_path, nats_url, compat=compat, subscribe=False)) as system:
        assert system.sandbox is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver

        # /forest subscribe acme/api in #deploys
        await driver.command("alice", "subscribe acme/api")
        await eventually(lambda: "now follows" in last_ephemeral(ws, "alice"), WAIT)

        # bob releases: the message appears
        intent = await system.release("bob", title="Fix checkout rounding")
        await eventually(lambda: "Fix checkout rounding" in shown(release_message(ws)), WAIT)
        message = release_message(ws)
        assert message is not None and "acme/api" in shown(message)

        # the plan awaits: its diff is in the thread, and the message offers the plan buttons
        await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(release_message(ws)), WAIT)
        await eventually(lambda: "to add" in thread_text(ws, message), WAIT)

        # carol approves the plan
        ack = await driver.click(
            "carol", message=release_message(ws), action_id=ids.ACTION_PLAN_APPROVE
        )
        assert ack.ok
        await eventually(lambda: "You approved the plan" in last_ephemeral(ws, "carol"), WAIT)
        await eventually(lambda: ids.ACTION_PLAN_APPROVE not in buttons(release_message(ws)), WAIT)
        await eventually(lambda: "approved the plan" in thread_text(ws, message), WAIT)
        carol_id = system.users["carol"].slack_id
        await eventually(lambda: f"approved by <@{carol_id}>" in shown(release_message(ws)), WAIT)

        # soak passes and the gate waits for votes
        await eventually(lambda: ids.ACTION_APPROVE in buttons(release_message(ws)), WAIT)
        assert "0/2" in shown(release_message(ws))

        # bob approves his own release: told why not, nothing recorded
        await driver.click("bob", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "own release" in last_ephemeral(ws, "bob"), WAIT)
        assert (await approval_state(system, intent)).current_approvals == 0

        # alice approves: 1/2
        await driver.click("alice", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
        assert "is recorded" in last_ephemeral(ws, "alice")

        # carol rejects with a comment: the history shows it, the count stays
        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_REJECT)
        carol = ws.user("carol")
        assert carol is not None
        await eventually(lambda: ws.top_view(carol.id) is not None, WAIT)  # opened after the ack
        view = ws.top_view(carol.id)
        assert view is not None
        await driver.submit_view("carol", view.id, {ids.COMMENT_INPUT: "wait for <!channel> #812"})
        await eventually(lambda: "rejected" in shown(release_message(ws)), WAIT)
        text = shown(release_message(ws))
        assert "wait for &lt;!channel&gt; #812" in text and "<!channel>" not in text
        assert (await approval_state(system, intent)).current_approvals == 1

        # carol changes her mind: 2/2, the release finishes
        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "succeeded" in shown(release_message(ws)), 60.0)
        final = release_message(ws)
        assert final is not None and final.ts == message.ts  # the same message, kept current
        assert not buttons(final)
        assert "2/2" in shown(final)
        assert len(ws.top_level(final.channel)) == 1  # one message per release, no duplicate
        state = await approval_state(system, intent)
        assert [d.decision for d in state.decisions] == ["approved", "approved"]
