"""A 5 MB plan in one release's thread while 100 other release messages in the same channel
refresh: the plan is posted whole as a file, and every other message reaches its final state.
(How long the others wait meanwhile is a figure for bench/, not asserted here.)

The 100 are spread over four projects of 25: Forest lists at most 50 intents of a project
(GetReleaseIntentStates), so one project with 100 open releases cannot be followed whole."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
from sqlalchemy import select

from blocks.terraform import strip_ansi
from bot.devsystem import DevSystem
from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2, releases_pb2_grpc
from forestd.db.models import Organisation
from forestd.seed import seed_gated_project
from sandbox.records import Message
from sandbox.state import Workspace
from sandbox.testing import eventually

from .conftest import options
from .story import shown
from .test_kill import WITHIN
from .test_slack_errors import answered

PROJECTS = ("load1", "load2", "load3", "load4")
PER_PROJECT = 25
PLAN_LINES = 140_000  # the demo runner's terraform-looking lines: a little over 5 MB
FIVE_MB = 5_000_000
GRPC_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


async def seed_open_releases(system: DevSystem) -> dict[str, list[str]]:
    """Four more acme projects, each gated on 2 approvals for production, each with 25 open
    releases waiting at that gate (written through forestd's models, as bench/load does)."""
    assert system.forest is not None and system.forest.ctx is not None
    intents: dict[str, list[str]] = {}
    async with system.forest.ctx.db.transaction() as uow:
        org = (
            await uow.session.execute(select(Organisation).where(Organisation.name == "acme"))
        ).scalar_one()
        for name in PROJECTS:
            intents[name] = await seed_gated_project(
                uow,
                org,
                name,
                environment="production",
                required_approvals=2,
                open_intents=PER_PROJECT,
            )
    return intents


def by_intent(ws: Workspace, channel_id: str, intents: list[str]) -> dict[str, Message]:
    """Each intent's top-level message (its buttons carry the intent id)."""
    found: dict[str, Message] = {}
    for message in ws.top_level(channel_id):
        text = json.dumps(message.blocks or [])
        for intent in intents:
            if intent in text:
                found[intent] = message
    return found


async def vote(system: DevSystem, user: str, project: str, intent: str) -> None:
    """As Forest's web UI would: ExternalApproveRelease with the user's own token."""
    assert system.forest is not None
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        await policies_pb2_grpc.PolicyServiceStub(channel).ExternalApproveRelease(
            policies_pb2.ExternalApproveReleaseRequest(
                project=releases_pb2.Project(organisation="acme", project=project),
                release_intent_id=intent,
                target_environment="production",
            ),
            metadata=(("authorization", f"Bearer {system.users[user].token}"),),
            timeout=10,
        )


async def approvals(system: DevSystem, project: str, intent: str) -> int:
    assert system.forest is not None
    async with grpc.aio.insecure_channel(system.forest.address) as channel:
        response = await policies_pb2_grpc.PolicyServiceStub(channel).GetExternalApprovalState(
            policies_pb2.GetExternalApprovalStateRequest(
                project=releases_pb2.Project(organisation="acme", project=project),
                release_intent_id=intent,
                target_environment="production",
            ),
            metadata=(("authorization", f"Bearer {system.service_token}"),),
            timeout=10,
        )
    return response.state.current_approvals


async def forest_plans(system: DevSystem, intent: str) -> list[bytes]:
    """The plan outputs Forest holds for the intent's plan stage, as bytes."""
    assert system.forest is not None
    service = (("authorization", f"Bearer {system.service_token}"),)
    async with grpc.aio.insecure_channel(system.forest.address, options=GRPC_OPTIONS) as channel:
        stub = releases_pb2_grpc.ReleaseServiceStub(channel)
        states = await stub.GetReleaseIntentStates(
            releases_pb2.GetReleaseIntentStatesRequest(organisation="acme", project="api"),
            metadata=service,
            timeout=10,
        )
        state = next(i for i in states.release_intents if i.release_intent_id == intent)
        stage = next(s for s in state.stages if s.HasField("approval_status"))
        plan = await stub.GetPlanOutput(
            releases_pb2.GetPlanOutputRequest(release_intent_id=intent, stage_id=stage.stage_id),
            metadata=service,
            timeout=30,
        )
    return [o.plan_output.encode() for o in plan.outputs if o.plan_output]


def as_shown(plan: bytes) -> bytes:
    return strip_ansi(plan.decode()).replace("\r\n", "\n").rstrip("\n").encode()


async def test_a_5mb_plan_is_posted_whole_while_100_messages_refresh(
    tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, plan_lines=PLAN_LINES)) as system:
        assert system.sandbox is not None
        ws = system.sandbox.workspace
        deploys = ws.channel("deploys")
        assert deploys is not None
        seeded = await seed_open_releases(system)
        others = [i for intents in seeded.values() for i in intents]
        for project in PROJECTS:  # #deploys follows them too
            answer = await answered(system, "alice", f"subscribe acme/{project}", "deploys")
            assert "now follows" in answer
        await eventually(
            lambda: len(by_intent(ws, deploys.id, others)) == len(others),
            WITHIN,
            what="100 release messages",
        )

        gate = asyncio.Semaphore(10)

        async def voted(user: str, project: str, intent: str) -> None:
            async with gate:
                await vote(system, user, project, intent)

        votes = asyncio.gather(
            *(
                voted(user, project, intent)
                for project, intents in seeded.items()
                for intent in intents
                for user in ("carol", "alice")
            )
        )
        big = await system.release("bob", title="a plan of five megabytes")
        await votes

        await eventually(lambda: big in by_intent(ws, deploys.id, [big]), WITHIN)
        parent = by_intent(ws, deploys.id, [big])[big]
        await eventually(
            lambda: any(r.files for r in ws.replies(deploys.id, parent.ts)), WITHIN, what="a file"
        )
        [file_id] = [f for r in ws.replies(deploys.id, parent.ts) for f in r.files]
        content = ws.files[file_id].content
        assert content is not None and len(content) >= FIVE_MB
        # Whole, byte for byte, after the one normalisation the bot applies to every plan
        # (blocks/plan_thread.py): no ANSI colours, LF line ends, no trailing newline.
        assert content in [as_shown(plan) for plan in await forest_plans(system, big)]

        await eventually(
            lambda: all(
                "approvals 2/2" in shown(m) for m in by_intent(ws, deploys.id, others).values()
            ),
            WITHIN,
            what="every other message at 2/2",
        )
        for project, intents in seeded.items():
            for intent in intents:
                assert await approvals(system, project, intent) == 2
        assert len(ws.top_level(deploys.id)) == len(others) + 1
