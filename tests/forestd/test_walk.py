"""The issue's acceptance walk, through real gRPC + real NATS on SQLite and PostgreSQL.

seed-demo; bob releases; staging deploys; the production plan runs and awaits approval; the
plan is approved; soak passes; alice approves; carol rejects then approves; production
deploys; the intent SUCCEEDED with the expected org_events sequence, read back through
EventService. On the way, the refusals: bob approving his own release, carol bypassing on
hers (not an admin), a member of another org voting; alice (admin) bypasses on her own
release and it is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import grpc
import pytest

from forest.v1 import events_pb2, events_pb2_grpc, policies_pb2, policies_pb2_grpc, releases_pb2
from forestd.cli import build_server
from forestd.config import ForestSettings
from forestd.seed import seed_demo
from forestd.server import ForestServer
from sandbox.testing import eventually

from .releases_helpers import (
    SUCCEEDED,
    Stubs,
    awaiting_plan,
    stage_is,
    stage_of,
    wait_for,
)

PROJECT = releases_pb2.Project(organisation="acme", project="api")
# seed-demo's second organisation: dave, and a project gating `production` too.
OTHER_PROJECT = releases_pb2.Project(organisation="globex", project="web")


@pytest.fixture
async def walk_server(forest_settings: ForestSettings) -> AsyncIterator[ForestServer]:
    server = build_server(forest_settings.model_copy(update={"sweep_interval_seconds": 0.2}))
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


class Seeded:
    """The seeded world, shaped like tests.forestd.factories.World for the shared helpers."""

    org_name = "acme"
    project_name = "api"

    def __init__(self, tokens: dict[str, str]):
        self.tokens = tokens

    def auth(self, user: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.tokens[user]}"),)


async def test_the_acceptance_walk(walk_server: ForestServer) -> None:
    assert walk_server.ctx is not None
    db = walk_server.ctx.db
    seed = await seed_demo(
        db, soak_seconds=1, destination_config={"deploy_seconds": 0.05, "plan_seconds": 0.05}
    )
    people = Seeded(seed.tokens)

    async with grpc.aio.insecure_channel(walk_server.address) as channel:
        stubs = Stubs(channel, db)
        releases = stubs.releases
        policies = policies_pb2_grpc.PolicyServiceStub(channel)

        async def start(user: str) -> str:
            annotated = await releases.AnnotateRelease(
                releases_pb2.AnnotateReleaseRequest(
                    project=PROJECT,
                    ref=releases_pb2.Ref(
                        commit_sha="5e1f" * 10, branch="main", commit_message="Ship the walk"
                    ),
                ),
                metadata=people.auth(user),
            )
            response = await releases.Release(
                releases_pb2.ReleaseRequest(artifact_id=annotated.artifact.id, use_pipeline=True),
                metadata=people.auth(user),
            )
            return response.intents[0].release_intent_id

        async def vote(
            user: str,
            intent: str,
            approve: bool = True,
            *,
            bypass: bool = False,
            project: releases_pb2.Project = PROJECT,
        ) -> policies_pb2.ExternalApprovalState:
            if approve:
                reply = await policies.ExternalApproveRelease(
                    policies_pb2.ExternalApproveReleaseRequest(
                        project=project,
                        release_intent_id=intent,
                        target_environment="production",
                        force_bypass=bypass,
                    ),
                    metadata=people.auth(user),
                )
            else:
                reply = await policies.ExternalRejectRelease(
                    policies_pb2.ExternalRejectReleaseRequest(
                        project=PROJECT,
                        release_intent_id=intent,
                        target_environment="production",
                        comment="not before the freeze ends",
                    ),
                    metadata=people.auth(user),
                )
            return reply.state

        async def refusal(call: Awaitable[object]) -> tuple[grpc.StatusCode, str]:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call
            return error.value.code(), error.value.details() or ""

        # Watch the organisation's events from here on, through EventService.
        events = events_pb2_grpc.EventServiceStub(channel).Subscribe(
            events_pb2.SubscribeEventsRequest(organisation="acme", since_sequence=1),
            metadata=people.auth("alice"),
        )

        # bob releases; staging deploys; the plan runs and awaits approval.
        intent = await start("bob")
        state = await wait_for(stubs, people, intent, awaiting_plan("plan-production"))
        assert stage_of(state, "deploy-staging").status == SUCCEEDED
        assert (
            stage_of(state, "deploy-production").status
            == releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING
        )

        async def soak_passed(intent: str) -> bool:
            evaluation = await policies.EvaluatePolicies(
                policies_pb2.EvaluatePoliciesRequest(
                    project=PROJECT, target_environment="production", release_intent_id=intent
                ),
                metadata=people.auth("alice"),
            )
            soak = policies_pb2.POLICY_TYPE_SOAK_TIME
            return any(e.passed for e in evaluation.evaluations if e.policy_type == soak)

        # The refusals, each with a clear message.
        code, message = await refusal(vote("bob", intent))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "your own release" in message
        code, message = await refusal(vote("dave", intent))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "not a member" in message
        code, message = await refusal(vote("dave", intent, project=OTHER_PROJECT))
        assert code == grpc.StatusCode.NOT_FOUND and "globex/web" in message
        carols = await start("carol")
        code, message = await refusal(vote("carol", carols, bypass=True))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "admin" in message

        # The plan is approved (plans have no self-check and no quorum: one decision).
        await releases.ApprovePlanStage(
            releases_pb2.ApprovePlanStageRequest(
                release_intent_id=intent, stage_id="plan-production"
            ),
            metadata=people.auth("alice"),
        )
        await eventually(lambda: soak_passed(intent), 60, what="production's soak passing")
        state = await wait_for(stubs, people, intent, stage_is("plan-production", SUCCEEDED))
        assert (
            stage_of(state, "deploy-production").status
            == releases_pb2.PIPELINE_RUN_STAGE_STATUS_PENDING
        )

        # alice approves, carol rejects then approves: 2 of 2, production deploys.
        assert (await vote("alice", intent)).current_approvals == 1
        assert (await vote("carol", intent, approve=False)).current_approvals == 1
        state_after = await vote("carol", intent)
        assert state_after.current_approvals == 2 and state_after.required_approvals == 2
        state = await wait_for(stubs, people, intent, stage_is("deploy-production", SUCCEEDED))
        assert all(s.status == SUCCEEDED for s in state.stages)

        # alice (admin) bypasses on her own release, and it is recorded.
        alices = await start("alice")
        bypassed = await vote("alice", alices, bypass=True)
        assert [(d.username, d.decision, d.comment) for d in bypassed.decisions] == [
            ("alice", "approved", "[bypass]")
        ]

        # The org_events of bob's intent, in order, as EventService streams them.
        names = {user_id: name for name, user_id in seed.user_ids.items()}
        seen: list[tuple[str, str, str]] = []
        async with asyncio.timeout(60):  # only bounds a hung test
            while not seen or seen[-1][:2] != ("pipeline", "completed"):
                event = await events.read()
                assert event is not grpc.aio.EOF
                if event.resource_id == intent or event.metadata.get("intent_id") == intent:
                    seen.append((event.resource_type, event.action, _detail(event, names)))
        events.cancel()

    assert seen == [
        ("release", "created", ""),
        ("pipeline", "stage_changed", "deploy-staging ACTIVE"),
        ("release", "status_changed", "RUNNING"),
        ("release", "status_changed", "SUCCEEDED"),
        ("pipeline", "stage_changed", "deploy-staging SUCCEEDED"),
        ("pipeline", "stage_changed", "plan-production ACTIVE"),
        ("release", "status_changed", "RUNNING"),
        ("release", "status_changed", "SUCCEEDED"),
        ("pipeline", "stage_changed", "plan-production AWAITING_APPROVAL"),
        ("pipeline", "stage_changed", "plan-production SUCCEEDED"),
        ("approval", "decided", "alice approved"),
        ("approval", "decided", "carol rejected"),
        ("approval", "decided", "carol approved"),
        ("pipeline", "stage_changed", "deploy-production ACTIVE"),
        ("release", "status_changed", "RUNNING"),
        ("release", "status_changed", "SUCCEEDED"),
        ("pipeline", "stage_changed", "deploy-production SUCCEEDED"),
        ("pipeline", "completed", "SUCCEEDED"),
    ]


def _detail(event: events_pb2.OrgEvent, names: dict[str, str]) -> str:
    meta = event.metadata
    if event.resource_type == "pipeline" and event.action == "stage_changed":
        return f"{meta['stage_id']} {meta['stage_status']}"
    if event.resource_type == "release" and event.action == "status_changed":
        return meta["status"]
    if event.resource_type == "approval":
        return f"{names.get(meta['user_id'], meta['user_id'])} {meta['decision']}"
    if event.action == "completed":
        return meta["pipeline_status"]
    return ""
