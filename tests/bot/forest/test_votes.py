"""Votes and plan decisions go out with the clicking user's own token."""

from __future__ import annotations

import grpc
import pytest

from bot.forest import ForestClient, ForestError
from forest.v1 import releases_pb2
from forestd.seed import DemoSeed
from forestd.server import ForestServer
from sandbox.testing import eventually

from .conftest import (
    ORG,
    PLAN_STAGE,
    PROJECT,
    SERVICE_TOKEN,
    plan_awaiting_approval,
    release,
    stage,
)


async def test_a_colleague_approves_and_then_rejects(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])

    state = await client.approve(
        demo.tokens["carol"], ORG, PROJECT, intent_id, "production", comment="lgtm"
    )
    assert (state.current_approvals, state.required_approvals) == (1, 2)
    (vote,) = state.decisions
    assert (vote.user_id, vote.username, vote.decision, vote.comment) == (
        demo.user_ids["carol"],
        "carol",
        "approved",
        "lgtm",
    )

    state = await client.reject(demo.tokens["carol"], ORG, PROJECT, intent_id, "production")
    assert state.current_approvals == 0
    assert [d.decision for d in state.decisions] == ["rejected"]
    assert not state.decisions[0].HasField("comment")


async def test_the_author_cannot_approve_their_own_release(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    with pytest.raises(ForestError) as caught:
        await client.approve(demo.tokens["bob"], ORG, PROJECT, intent_id, "production")
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert not caught.value.unreachable
    assert str(caught.value).startswith("Forest refused the request (PERMISSION_DENIED: ")


async def test_the_service_token_cannot_vote(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    with pytest.raises(ForestError) as caught:
        await client.approve(SERVICE_TOKEN, ORG, PROJECT, intent_id, "production")
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    state = await client.evaluate(ORG, PROJECT, "production", intent_id)
    assert all(not e.external_approval_state.decisions for e in state.evaluations)


async def test_an_empty_user_token_is_refused_not_replaced(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await plan_awaiting_approval(client, intent_id)
    with pytest.raises(ForestError) as caught:
        await client.approve_plan("", intent_id, PLAN_STAGE)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    still = await stage(client, intent_id, PLAN_STAGE)
    assert still is not None and still.approval_status == "AWAITINGAPPROVAL"


async def test_approving_a_plan_lets_the_pipeline_go_on(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await plan_awaiting_approval(client, intent_id)

    await client.approve_plan(demo.tokens["carol"], intent_id, PLAN_STAGE)

    async def succeeded() -> bool:
        state = await stage(client, intent_id, PLAN_STAGE)
        return (
            state is not None and state.status == releases_pb2.PIPELINE_RUN_STAGE_STATUS_SUCCEEDED
        )

    await eventually(succeeded)
    with pytest.raises(ForestError) as caught:
        await client.approve_plan(demo.tokens["carol"], intent_id, PLAN_STAGE)
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_rejecting_a_plan_fails_the_release(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await plan_awaiting_approval(client, intent_id)

    await client.reject_plan(demo.tokens["alice"], intent_id, PLAN_STAGE, reason="drops a table")

    async def failed() -> bool:
        state = await stage(client, intent_id, PLAN_STAGE)
        return state is not None and state.status == releases_pb2.PIPELINE_RUN_STAGE_STATUS_FAILED

    await eventually(failed)
    output = await client.plan_output(intent_id, PLAN_STAGE)
    assert output.status == "REJECTED"
