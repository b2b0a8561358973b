"""`compat`: forestd as intended (the default) and as the real Forest (`forest`), each gap in
both modes, through real gRPC and NATS on SQLite and PostgreSQL (forestd/compat.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from nats.aio.msg import Msg
from sqlalchemy import func, select

from bot.cli import main
from forest.v1 import (
    policies_pb2,
    policies_pb2_grpc,
    releases_pb2,
    releases_pb2_grpc,
    users_pb2,
    users_pb2_grpc,
)
from forestd.auth import SERVICE_ACCOUNT_ID
from forestd.bus import INTENT_EVALUATE
from forestd.compat import MISSING_CLAIMS, CompatMode
from forestd.config import ForestSettings
from forestd.db.models import ApprovalDecision, OrgEvent, PipelineStageState
from forestd.seed import seed_demo
from forestd.server import ForestServer
from forestd.uow import Database
from sandbox.testing import eventually

from .conftest import bearer
from .factories import World, add_policy, create_intent, provision
from .releases_helpers import (
    FAILED,
    SUCCEEDED,
    Stubs,
    awaiting_plan,
    configure_destinations,
    create_pipeline,
    intent_events,
    intent_state,
    release,
    stage_is,
    stage_of,
    wait_for,
)

PRODUCTION = "production"


@pytest.fixture(params=["intended", "forest"])
def mode(request: pytest.FixtureRequest) -> CompatMode:
    mode: CompatMode = request.param
    return mode


@pytest.fixture
def forest_settings(forest_settings: ForestSettings, mode: CompatMode) -> ForestSettings:
    """conftest's settings, in the mode under test (every server here uses them)."""
    return forest_settings.model_copy(update={"compat": mode})


def approvals(required: int) -> policies_pb2.ExternalApprovalConfig:
    return policies_pb2.ExternalApprovalConfig(
        target_environment=PRODUCTION, required_approvals=required
    )


def approve_request(
    project: releases_pb2.Project, intent_id: str, *, bypass: bool = False
) -> policies_pb2.ExternalApproveReleaseRequest:
    return policies_pb2.ExternalApproveReleaseRequest(
        project=project,
        release_intent_id=intent_id,
        target_environment=PRODUCTION,
        force_bypass=bypass,
    )


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value


def entries(state: policies_pb2.ExternalApprovalState) -> list[tuple[str, str, str | None]]:
    return [
        (d.username, d.decision, d.comment if d.HasField("comment") else None)
        for d in state.decisions
    ]


def test_the_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ForestSettings().compat == "intended"
    monkeypatch.setenv("FORESTD_COMPAT", "forest")
    assert ForestSettings().compat == "forest"
    monkeypatch.setenv("FORESTD_COMPAT", "kind")
    with pytest.raises(ValueError, match="compat"):
        ForestSettings()


# ---- ExternalApproveRelease force_bypass ------------------------------------------------------


async def test_force_bypass_needs_admin_only_as_intended(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database, mode: CompatMode
) -> None:
    await add_policy(db, world, "gate", approvals(2))
    bobs = await create_intent(db, world, author="bob")
    alices = await create_intent(db, world, author="alice")

    # Without force_bypass the author is refused in both modes.
    error = await refused(
        policies.ExternalApproveRelease(
            approve_request(world.project_msg(), bobs), metadata=world.auth("bob")
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "your own release" in (error.details() or "")

    bypass = policies.ExternalApproveRelease(
        approve_request(world.project_msg(), bobs, bypass=True), metadata=world.auth("bob")
    )
    admin_bypass = await policies.ExternalApproveRelease(
        approve_request(world.project_msg(), alices, bypass=True), metadata=world.auth("alice")
    )
    if mode == "intended":
        error = await refused(bypass)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "admin" in (error.details() or "")
        assert entries(admin_bypass.state) == [("alice", "approved", "[bypass]")]
        recorded = {alices: True}
    else:
        # Forest: any member's force_bypass is one ordinary, unmarked vote.
        assert entries((await bypass).state) == [("bob", "approved", None)]
        assert entries(admin_bypass.state) == [("alice", "approved", None)]
        recorded = {bobs: False, alices: False}
    assert admin_bypass.state.current_approvals == 1
    assert admin_bypass.state.required_approvals == 2
    async with db.read() as session:
        rows = await session.scalars(select(ApprovalDecision))
        assert {row.release_intent_id: row.bypass for row in rows} == recorded


# ---- the vote's intent and the request's project ----------------------------------------------


async def test_a_member_of_another_org_votes_on_any_intent_only_in_forest_mode(
    policies: policies_pb2_grpc.PolicyServiceStub, world: World, db: Database, mode: CompatMode
) -> None:
    await add_policy(db, world, "gate", approvals(2))
    globex = await provision(db, org="globex", project="web", members={"dave": "admin"})
    await add_policy(db, globex, "approval-production", approvals(1))
    intent_id = await create_intent(db, world, author="bob")

    # Membership is checked on the request's organisation in both modes.
    error = await refused(
        policies.ExternalApproveRelease(
            approve_request(world.project_msg(), intent_id), metadata=globex.auth("dave")
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not a member" in (error.details() or "")

    vote = policies.ExternalApproveRelease(
        approve_request(globex.project_msg(), intent_id), metadata=globex.auth("dave")
    )

    def seen_by_acme() -> Any:
        # a grpc.aio call starts when it is created: create it only after the vote is answered
        return policies.GetExternalApprovalState(
            policies_pb2.GetExternalApprovalStateRequest(
                project=world.project_msg(),
                release_intent_id=intent_id,
                target_environment=PRODUCTION,
            ),
            metadata=world.auth("alice"),
        )

    if mode == "intended":
        error = await refused(vote)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "globex/web" in (error.details() or "")
        assert entries((await seen_by_acme()).state) == []
        return
    # Forest: the policy (and so `required`) comes from the voter's project, the vote lands on
    # acme's intent and counts towards acme's gate.
    state = (await vote).state
    assert (state.required_approvals, state.current_approvals) == (1, 1)
    assert entries(state) == [("dave", "approved", None)]
    acme = (await seen_by_acme()).state
    assert (acme.required_approvals, acme.current_approvals) == (2, 1)
    assert [d.user_id for d in acme.decisions] == [globex.user_id("dave")]

    # An intent id that exists nowhere is still NOT_FOUND.
    error = await refused(
        policies.ExternalApproveRelease(
            approve_request(globex.project_msg(), str(uuid.uuid4())), metadata=globex.auth("dave")
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


# ---- TokenInfo ------------------------------------------------------------------------------


async def test_token_info_refuses_personal_access_tokens_in_forest_mode(
    users: users_pb2_grpc.UsersServiceStub, world: World, mode: CompatMode
) -> None:
    service = await users.TokenInfo(
        users_pb2.TokenInfoRequest(), metadata=bearer("test-service-token")
    )
    assert (service.user_id, service.expires_at) == (SERVICE_ACCOUNT_ID, 0)

    call = users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=world.auth("bob"))
    if mode == "intended":
        assert (await call).user_id == world.user_id("bob")
        return
    error = await refused(call)
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == MISSING_CLAIMS
    # The token itself still works everywhere else.
    found = await users.GetUser(
        users_pb2.GetUserRequest(username="bob"), metadata=world.auth("bob")
    )
    assert found.user.user_id == world.user_id("bob")


async def test_refresh_token_is_unimplemented_and_open(
    users: users_pb2_grpc.UsersServiceStub, world: World
) -> None:
    request = users_pb2.RefreshTokenRequest(refresh_token="whatever")
    for metadata in ((), world.auth("bob")):
        error = await refused(users.RefreshToken(request, metadata=metadata))
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "personal access token" in (error.details() or "")


# ---- votes: events and nudges ---------------------------------------------------------------


MARK = "forest.test.mark"


@pytest.fixture
async def nats_messages(nats_url: str) -> AsyncIterator[list[Msg]]:
    """Every forest.* message published from now on, in order."""
    received: list[Msg] = []

    async def keep(msg: Msg) -> None:
        received.append(msg)

    client = await nats.connect(nats_url)
    try:
        await client.subscribe("forest.>", cb=keep)
        await client.flush()
        yield received
    finally:
        await client.close()


async def mark(db: Database, received: list[Msg]) -> None:
    """Forget what the server published so far: a mark sent on the server's own connection
    arrives after everything it published before (NATS keeps one publisher's order)."""
    token = uuid.uuid4().hex.encode()
    await db.bus.publish(MARK, token)
    await eventually(lambda: any((m.subject, m.data) == (MARK, token) for m in received))
    del received[:]


async def test_votes_write_an_org_event_only_as_intended(
    policies: policies_pb2_grpc.PolicyServiceStub,
    db: Database,
    mode: CompatMode,
    nats_messages: list[Msg],
) -> None:
    # An organisation of its own, so no other test's forest.events.* can be mistaken for ours.
    world = await provision(db, org=f"votes-{uuid.uuid4().hex[:8]}")
    await add_policy(db, world, "gate", approvals(2))
    intent_id = await create_intent(db, world, author="bob")
    await mark(db, nats_messages)
    await policies.ExternalApproveRelease(
        approve_request(world.project_msg(), intent_id), metadata=world.auth("alice")
    )
    await policies.ExternalRejectRelease(
        policies_pb2.ExternalRejectReleaseRequest(
            project=world.project_msg(), release_intent_id=intent_id, target_environment=PRODUCTION
        ),
        metadata=world.auth("carol"),
    )

    def evaluations() -> int:
        return sum(
            1 for m in nats_messages if (m.subject, m.data) == (INTENT_EVALUATE, intent_id.encode())
        )

    # The coordinator is nudged in both modes; the org event nudge (published before it, on the
    # same connection, so already here) only as intended.
    await eventually(lambda: evaluations() == 2)
    nudges = [m for m in nats_messages if m.subject == f"forest.events.{world.org_name}"]
    async with db.read() as session:
        events = await session.scalar(
            select(func.count()).where(
                OrgEvent.organisation == world.org_name, OrgEvent.resource_type == "approval"
            )
        )
    if mode == "intended":
        assert (events, len(nudges)) == (2, 2)
    else:
        assert (events, nudges) == (0, [])


# ---- plan decisions ---------------------------------------------------------------------------


@pytest.fixture
async def plan_world(machine: ForestServer) -> World:
    """acme with fast demo destinations, on the server with the coordinator and runner."""
    assert machine.ctx is not None
    world = await provision(machine.ctx.db)
    await configure_destinations(machine.ctx.db, world)
    return world


async def decided_stage(db: Database, intent_id: str) -> PipelineStageState:
    async with db.read() as session:
        stage = await session.scalar(
            select(PipelineStageState).where(
                PipelineStageState.release_intent_id == intent_id,
                PipelineStageState.stage_id == "plan-production",
            )
        )
    assert stage is not None
    return stage


async def plan_event(db: Database, intent_id: str, status: str) -> dict[str, str]:
    [metadata] = [
        m
        for _, action, m in await intent_events(db, intent_id)
        if action == "stage_changed"
        and (m["stage_id"], m["stage_status"]) == ("plan-production", status)
    ]
    return metadata


async def test_plan_approver_is_recorded_only_as_intended(
    rpc: Stubs, plan_world: World, mode: CompatMode
) -> None:
    await create_pipeline(rpc, plan_world)
    intent_id = await release(rpc, plan_world)
    await wait_for(rpc, plan_world, intent_id, awaiting_plan("plan-production"))
    await rpc.releases.ApprovePlanStage(
        releases_pb2.ApprovePlanStageRequest(
            release_intent_id=intent_id, stage_id="plan-production"
        ),
        metadata=plan_world.auth("carol"),
    )
    state = await wait_for(rpc, plan_world, intent_id, stage_is("deploy-production", SUCCEEDED))
    assert stage_of(state, "plan-production").approval_status == "APPROVED"

    stage = await decided_stage(rpc.db, intent_id)
    event = await plan_event(rpc.db, intent_id, "SUCCEEDED")
    if mode == "intended":
        assert stage.plan_decided_by == plan_world.user_id("carol")
        assert stage.plan_decided_at is not None
        assert event["decided_by_username"] == "carol"
    else:
        assert (stage.plan_decided_by, stage.plan_decided_at) == (None, None)
        assert event == {
            "intent_id": intent_id,
            "stage_id": "plan-production",
            "stage_status": "SUCCEEDED",
        }


async def test_plan_rejection_keeps_who_and_why_only_as_intended(
    rpc: Stubs, plan_world: World, mode: CompatMode
) -> None:
    await create_pipeline(rpc, plan_world)
    intent_id = await release(rpc, plan_world)
    await wait_for(rpc, plan_world, intent_id, awaiting_plan("plan-production"))
    await rpc.releases.RejectPlanStage(
        releases_pb2.RejectPlanStageRequest(
            release_intent_id=intent_id, stage_id="plan-production", reason="drops a table"
        ),
        metadata=plan_world.auth("alice"),
    )
    rejected = stage_of(await intent_state(rpc, plan_world, intent_id), "plan-production")
    assert (rejected.status, rejected.approval_status) == (FAILED, "REJECTED")

    stage = await decided_stage(rpc.db, intent_id)
    event = await plan_event(rpc.db, intent_id, "FAILED")
    if mode == "intended":
        assert rejected.error_message == "plan rejected: drops a table"
        assert stage.plan_decided_by == plan_world.user_id("alice")
        assert stage.plan_decision_reason == "drops a table"
        assert (event["decided_by_username"], event["reason"]) == ("alice", "drops a table")
    else:
        assert rejected.error_message == "plan rejected"
        assert (stage.plan_decided_by, stage.plan_decision_reason) == (None, None)
        assert not {"decided_by", "decided_by_username", "reason"} & set(event)


# ---- the seeded second organisation ------------------------------------------------------------


async def test_seeded_globex_member_votes_across_orgs_only_in_forest_mode(
    channel: grpc.aio.Channel,
    db: Database,
    policies: policies_pb2_grpc.PolicyServiceStub,
    users: users_pb2_grpc.UsersServiceStub,
    mode: CompatMode,
) -> None:
    seed = await seed_demo(db)
    seeded = seed.as_json()
    assert (seeded["organisation"], seeded["project"]) == ("acme", "api")
    assert (seeded["other_organisation"], seeded["other_project"]) == ("globex", "web")
    assert set(seeded["tokens"]) == set(seeded["user_ids"]) == {"alice", "bob", "carol", "dave"}
    assert "globex" in seed.describe()
    dave = bearer(seed.tokens["dave"])
    found = await users.GetUser(
        users_pb2.GetUserRequest(email="dave@example.com"), metadata=bearer("test-service-token")
    )
    assert found.user.user_id == seed.user_ids["dave"]

    response = await releases_pb2_grpc.ReleaseServiceStub(channel).Release(
        releases_pb2.ReleaseRequest(artifact_id=seed.artifacts["main"], use_pipeline=True),
        metadata=bearer(seed.tokens["bob"]),
    )
    intent_id = response.intents[0].release_intent_id
    web = releases_pb2.Project(organisation="globex", project="web")
    vote = policies.ExternalApproveRelease(approve_request(web, intent_id), metadata=dave)
    if mode == "intended":
        assert (await refused(vote)).code() == grpc.StatusCode.NOT_FOUND
    else:
        state = (await vote).state
        assert (state.required_approvals, state.current_approvals) == (1, 1)


# ---- the command line ---------------------------------------------------------------------------


def test_serve_accepts_compat_forest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    assert main(["forest", "seed-demo", "--database-url", url, "--json"]) == 0
    seeded = json.loads(capsys.readouterr().out)
    serve = ["forest", "serve", "--database-url", url, "--grpc-address", "127.0.0.1:0"]
    with pytest.raises(SystemExit) as bad:
        main([*serve, "--compat", "kind"])
    assert bad.value.code == 2 and "invalid choice: 'kind'" in capsys.readouterr().err

    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *serve, "--nats-url", "", "--compat", "forest"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        found = None
        for line in server.stdout:  # ends if the server exits; pytest-timeout bounds a hang
            found = re.search(r"forestd listening on (\S+) \(compat forest\)", line)
            if found:
                break
        assert found, "forestd did not start in compat forest"
        with grpc.insecure_channel(found.group(1)) as channel, pytest.raises(grpc.RpcError) as err:
            users_pb2_grpc.UsersServiceStub(channel).TokenInfo(
                users_pb2.TokenInfoRequest(), metadata=bearer(seeded["tokens"]["bob"])
            )
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert err.value.details() == MISSING_CLAIMS
    finally:
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate()
    assert server.returncode == 0, rest
