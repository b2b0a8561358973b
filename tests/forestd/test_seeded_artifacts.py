"""A client that only speaks forest.v1 over gRPC can release the artifacts seed-demo prints.

Our proto subset has no RPC that creates artifacts, so `seed-demo --json` hands out two:
a build of `main` and one of a feature branch. Nothing here touches the database directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from bot.cli import main
from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2, releases_pb2_grpc
from forestd.cli import build_server
from forestd.config import ForestSettings

from .conftest import bearer


@pytest.fixture
def seeded(database_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["forest", "seed-demo", "--database-url", database_url, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
async def channel_to_seeded(
    seeded: dict[str, Any], forest_settings: ForestSettings
) -> AsyncIterator[grpc.aio.Channel]:
    server = build_server(forest_settings)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield channel
    finally:
        await server.stop(grace=0.5)


async def test_seed_json_lists_tokens_users_and_both_artifacts(seeded: dict[str, Any]) -> None:
    assert set(seeded["tokens"]) == {"alice", "bob", "carol", "dave"}
    assert set(seeded["user_ids"]) == set(seeded["tokens"])
    assert (seeded["organisation"], seeded["project"]) == ("acme", "api")
    assert (seeded["other_organisation"], seeded["other_project"]) == ("globex", "web")
    assert all(token.startswith("fpat_") for token in seeded["tokens"].values())
    assert set(seeded["artifacts"]) == {"main", "feature/search"}


async def test_releasing_seeded_main_artifact_walks_the_pipeline(
    seeded: dict[str, Any], channel_to_seeded: grpc.aio.Channel
) -> None:
    bob = bearer(seeded["tokens"]["bob"])
    releases = releases_pb2_grpc.ReleaseServiceStub(channel_to_seeded)
    response = await releases.Release(
        releases_pb2.ReleaseRequest(artifact_id=seeded["artifacts"]["main"], use_pipeline=True),
        metadata=bob,
    )
    intent_id = response.intents[0].release_intent_id
    states = await releases.GetReleaseIntentStates(
        releases_pb2.GetReleaseIntentStatesRequest(organisation="acme", project="api"),
        metadata=bob,
    )
    (intent,) = states.release_intents
    assert intent.release_intent_id == intent_id
    assert intent.artifact_id == seeded["artifacts"]["main"]
    assert [stage.stage_id for stage in intent.stages] == [
        "deploy-staging",
        "plan-production",
        "deploy-production",
    ]


async def test_seeded_feature_branch_artifact_is_held_by_the_branch_policy(
    seeded: dict[str, Any], channel_to_seeded: grpc.aio.Channel
) -> None:
    carol = bearer(seeded["tokens"]["carol"])
    response = await releases_pb2_grpc.ReleaseServiceStub(channel_to_seeded).Release(
        releases_pb2.ReleaseRequest(
            artifact_id=seeded["artifacts"]["feature/search"], use_pipeline=True
        ),
        metadata=carol,
    )
    evaluation = await policies_pb2_grpc.PolicyServiceStub(channel_to_seeded).EvaluatePolicies(
        policies_pb2.EvaluatePoliciesRequest(
            project=releases_pb2.Project(organisation="acme", project="api"),
            target_environment="production",
            branch="feature/search",
            release_intent_id=response.intents[0].release_intent_id,
        ),
        metadata=carol,
    )
    assert not evaluation.all_passed
    branch = next(e for e in evaluation.evaluations if e.policy_name == "main-only-production")
    assert not branch.passed
    assert "feature/search" in branch.reason
