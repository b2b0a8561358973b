"""A real forestd (gRPC on 127.0.0.1:0, real NATS, SQLite or PostgreSQL) seeded with the demo
organisation (acme: alice admin, bob, carol; project api), and a ForestClient pointed at it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from bot.forest import ForestClient
from forest.v1 import releases_pb2, releases_pb2_grpc
from forestd.cli import build_server
from forestd.config import ForestSettings
from forestd.seed import DemoSeed, seed_demo
from forestd.server import ForestServer
from sandbox.testing import eventually

SERVICE_TOKEN = "bot-forest-client-test-service-token"
ORG = "acme"
PROJECT = "api"
PLAN_STAGE = "plan-production"
# fast demo destinations: the pipeline reaches its plan approval in about a second
FAST = {"deploy_seconds": 0.1, "plan_seconds": 0.1}

T = TypeVar("T")


@pytest.fixture
def forest_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, unless a test asks for "postgres" (indirect parametrisation)."""
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'forest.db'}"


@pytest.fixture
async def forestd(forest_db_url: str, nats_url: str) -> AsyncIterator[ForestServer]:
    server = build_server(
        ForestSettings(
            database_url=forest_db_url,
            grpc_address="127.0.0.1:0",
            nats_url=nats_url,
            service_token=SERVICE_TOKEN,
            sweep_interval_seconds=0.5,
        )
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


async def seed(server: ForestServer, **destination_config: Any) -> DemoSeed:
    """The demo organisation, with no soak time and fast demo destinations."""
    assert server.ctx is not None
    return await seed_demo(
        server.ctx.db, soak_seconds=0, destination_config={**FAST, **destination_config}
    )


@pytest.fixture
async def demo(forestd: ForestServer) -> DemoSeed:
    return await seed(forestd)


@pytest.fixture
async def client(forestd: ForestServer) -> AsyncIterator[ForestClient]:
    async with ForestClient(forestd.address, SERVICE_TOKEN) as forest:
        yield forest


async def release(server: ForestServer, token: str, *, branch: str = "main") -> tuple[str, str]:
    """AnnotateRelease + Release through the pipeline as the token's user, as Forest's CLI
    does (forestd.cli.release_command); (artifact id, release intent id)."""
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = releases_pb2_grpc.ReleaseServiceStub(channel)
        annotated = await stub.AnnotateRelease(
            releases_pb2.AnnotateReleaseRequest(
                project=releases_pb2.Project(organisation=ORG, project=PROJECT),
                ref=releases_pb2.Ref(
                    commit_sha=secrets.token_hex(20), branch=branch, commit_message="Fix it"
                ),
                context=releases_pb2.ArtifactContext(title="Fix it"),
            ),
            metadata=metadata,
            timeout=10,
        )
        released = await stub.Release(
            releases_pb2.ReleaseRequest(artifact_id=annotated.artifact.id, use_pipeline=True),
            metadata=metadata,
            timeout=10,
        )
    return annotated.artifact.id, released.intents[0].release_intent_id


async def stage(
    client: ForestClient, intent_id: str, stage_id: str
) -> releases_pb2.PipelineStageState | None:
    for intent in await client.intent_states(ORG, PROJECT):
        if intent.release_intent_id == intent_id:
            return next((s for s in intent.stages if s.stage_id == stage_id), None)
    return None


async def plan_awaiting_approval(client: ForestClient, intent_id: str) -> None:
    """Wait until the intent's plan stage is ACTIVE and AWAITINGAPPROVAL (Forest's shape)."""

    async def awaiting() -> bool:
        state = await stage(client, intent_id, PLAN_STAGE)
        return state is not None and state.approval_status == "AWAITINGAPPROVAL"

    await eventually(awaiting, 60, what=f"intent {intent_id}'s plan awaiting approval")
