"""Reads with the service token against a real forestd: intents, policies, evaluations,
artifacts, organisation roles, project existence and health."""

from __future__ import annotations

import grpc
import pytest

from bot.forest import ForestClient, ForestError
from bot.forest import client as client_module
from forest.v1 import policies_pb2
from forestd.seed import DemoSeed
from forestd.server import ForestServer

from .conftest import ORG, PROJECT, release


@pytest.mark.parametrize(
    "forest_db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_reads_after_a_release(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    artifact_id, intent_id = await release(forestd, demo.tokens["bob"])

    (intent,) = await client.intent_states(ORG, PROJECT)
    assert intent.release_intent_id == intent_id
    assert intent.artifact_id == artifact_id
    assert intent.project == PROJECT
    assert [s.stage_id for s in intent.stages] == [
        "deploy-staging",
        "plan-production",
        "deploy-production",
    ]
    whole_org = await client.intent_states(ORG)
    assert [i.release_intent_id for i in whole_org] == [intent_id]
    live = await client.intent_states(ORG, PROJECT, include_completed=False)
    assert [i.release_intent_id for i in live] == [intent_id]

    policies = await client.list_policies(ORG, PROJECT)
    assert {p.name for p in policies} == {
        "soak-staging-production",
        "main-only-production",
        "two-approvals-production",
    }

    evaluation = await client.evaluate(ORG, PROJECT, "production", intent_id, branch="main")
    gate = next(
        e
        for e in evaluation.evaluations
        if e.policy_type == policies_pb2.POLICY_TYPE_EXTERNAL_APPROVAL
    )
    assert not gate.passed
    assert gate.external_approval_state.required_approvals == 2
    assert gate.external_approval_state.current_approvals == 0
    branch = next(e for e in evaluation.evaluations if e.policy_name == "main-only-production")
    assert branch.passed

    artifacts = {a.id: a for a in await client.artifacts(ORG, PROJECT)}
    assert artifacts[artifact_id].source.user_id == demo.user_ids["bob"]
    assert artifacts[artifact_id].project.project == PROJECT


async def test_roles_of_admin_member_and_stranger(demo: DemoSeed, client: ForestClient) -> None:
    assert await client.role(ORG, demo.user_ids["alice"]) == "admin"
    assert await client.role(ORG, demo.user_ids["bob"]) == "member"
    assert await client.role(ORG, demo.user_ids["carol"].upper()) == "member"
    assert await client.role(ORG, "7b0c4f7e-0000-4000-8000-000000000000") is None


async def test_role_reads_every_page_of_members(
    demo: DemoSeed, client: ForestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MEMBERS_PAGE_SIZE", 1)
    # members come by username: carol is on the third page of one
    assert await client.role(ORG, demo.user_ids["carol"]) == "member"
    assert await client.role(ORG, "7b0c4f7e-0000-4000-8000-000000000000") is None


async def test_role_in_an_unknown_organisation_is_an_error(
    demo: DemoSeed, client: ForestClient
) -> None:
    with pytest.raises(ForestError) as caught:
        await client.role("nowhere", demo.user_ids["alice"])
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


async def test_organisation_id_is_the_one_members_are_listed_by(
    demo: DemoSeed, client: ForestClient
) -> None:
    first = await client.organisation_id(ORG)
    assert first == await client.organisation_id(ORG)
    assert len(first) == 36


async def test_project_exists(demo: DemoSeed, client: ForestClient) -> None:
    assert await client.project_exists(ORG, PROJECT)
    assert not await client.project_exists(ORG, "no-such-project")
    assert not await client.project_exists("no-such-org", PROJECT)


async def test_health(demo: DemoSeed, client: ForestClient) -> None:
    await client.check_health()
