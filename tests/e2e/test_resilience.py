"""Votes from elsewhere, parts going down: the message still tells the truth, nothing is lost,
nothing is doubled, and a vote that was not recorded is said so."""

from __future__ import annotations

from pathlib import Path

import grpc

from blocks import ids
from bot.devsystem import DevSystem
from bot.embedded_nats import EmbeddedNats
from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, last_ephemeral, listed_intents, release_message, shown
from .test_bypass import _gate_open
from .test_story import WAIT, approval_state


async def vote_over_grpc(system: DevSystem, username: str, intent_id: str) -> None:
    """As Forest's web UI or CLI would: ExternalApproveRelease with the user's own token."""
    assert system.forest is not None
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        await policies_pb2_grpc.PolicyServiceStub(channel).ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=releases_pb2.Project(organisation="acme", project="api"),
                release_intent_id=intent_id,
                target_environment="production",
                comment=f"from the web UI by {username}",
            ),
            metadata=(("authorization", f"Bearer {system.users[username].token}"),),
            timeout=5,
        )


async def test_a_vote_cast_in_forest_shows_in_slack(
    tmp_path: Path, nats_url: str, compat: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, compat=compat, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await _gate_open(system, "bob")
        await vote_over_grpc(system, "carol", intent)
        await eventually(lambda: "from the web UI by carol" in shown(release_message(ws)), WAIT)
        assert "1/2" in shown(release_message(ws))


async def test_with_nats_down_votes_still_arrive_by_reconciliation(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as nats:
        opts = options(tmp_path, nats.url, soak_seconds=1, reconcile_seconds=0.5)
        async with DevSystem(opts) as system:
            assert system.sandbox is not None
            ws = system.sandbox.workspace
            intent = await _gate_open(system, "bob")
            nats.stop()
            await vote_over_grpc(system, "carol", intent)
            await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)


async def test_restarting_the_bot_mid_release_loses_nothing(tmp_path: Path, nats_url: str) -> None:
    async with DevSystem(options(tmp_path, nats_url, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await _gate_open(system, "bob")
        first = release_message(ws)
        assert first is not None

        await system.stop_bot()
        await vote_over_grpc(system, "carol", intent)  # while no bot is running
        await system.start_bot()

        await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
        ack = await system.sandbox.driver.click(
            "alice", message=release_message(ws), action_id=ids.ACTION_APPROVE
        )
        assert ack.ok, ack.error
        await eventually(lambda: "is recorded" in last_ephemeral(ws, "alice"), WAIT)
        await eventually(lambda: "succeeded" in shown(release_message(ws)), 60.0)
        assert len(ws.top_level(first.channel)) == 1  # the same message, never a second one
        assert release_message(ws).ts == first.ts  # type: ignore[union-attr]
        assert len((await approval_state(system, intent)).decisions) == 2


async def test_forest_down_during_a_click_is_said_and_no_phantom_vote(
    tmp_path: Path, nats_url: str, compat: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, compat=compat, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        intent = await _gate_open(system, "bob")
        message = release_message(ws)

        await system.stop_forest()
        ack = await driver.click("alice", message=message, action_id=ids.ACTION_APPROVE)
        assert ack.ok  # acked at once, even with Forest gone
        await eventually(lambda: "NOT" in last_ephemeral(ws, "alice"), WAIT)
        assert "unreachable" in last_ephemeral(ws, "alice")

        await system.start_forest()
        assert list((await approval_state(system, intent)).decisions) == []
        assert ids.ACTION_APPROVE in buttons(release_message(ws))
        assert "0/2" in shown(release_message(ws))


async def test_an_open_release_older_than_forests_page_still_updates(
    tmp_path: Path, nats_url: str
) -> None:
    """GetReleaseIntentStates lists the newest 50 intents; an older live one is found among
    the live intents, so its message keeps up."""
    async with DevSystem(options(tmp_path, nats_url, soak_seconds=1)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        intent = await _gate_open(system, "bob")
        original = release_message(ws)
        assert original is not None
        for n in range(50):
            await system.release("bob", title=f"hotfix {n}", environments=("staging",))
        assert intent not in await listed_intents(system, include_completed=True)

        await vote_over_grpc(system, "carol", intent)
        await eventually(
            lambda: "approvals 1/2" in shown(ws.message(original.channel, original.ts)), WAIT
        )
