"""ReleasePipelineService over real gRPC: DAG validation with clear messages, CRUD, events."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import release_pipelines_pb2 as pipelines_pb2
from forestd.db.models import OrgEvent
from forestd.server import ForestServer
from forestd.services.pipelines import validate_stages

from .factories import World, provision
from .releases_helpers import (
    STANDARD,
    Stubs,
    deploy,
    plan,
    wait,
)

NO_CONFIG = pipelines_pb2.PipelineStage(id="empty")


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([deploy("", "staging")], "stage #1 has no id"),
        ([deploy("a", "staging"), deploy("a", "production")], "stage id 'a' is used twice"),
        ([deploy("a", "staging", "ghost")], "depends on 'ghost', which is not a stage"),
        ([deploy("a", "staging", "a")], "stage 'a' depends on itself"),
        ([deploy("a", "staging"), deploy("b", "x", "a", "a")], "lists 'a' twice"),
        ([NO_CONFIG], "needs exactly one of deploy, wait or plan"),
        ([deploy("a", "")], "deploy stage 'a' needs an environment"),
        ([plan("p", " ")], "plan stage 'p' needs an environment"),
        ([wait("w", -5)], "negative duration"),
        (
            [deploy("a", "s", "c"), deploy("b", "s", "a"), deploy("c", "s", "b")],
            "the stages form a cycle: a -> c -> b -> a",
        ),
    ],
)
def test_malformed_pipelines_are_refused_with_a_reason(
    stages: list[pipelines_pb2.PipelineStage], message: str
) -> None:
    from forestd.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as refused:
        validate_stages(stages)
    assert message in refused.value.message


def test_a_diamond_is_a_valid_dag() -> None:
    validate_stages(
        [
            deploy("staging", "staging"),
            wait("soak", 60, "staging"),
            plan("plan", "production", "staging"),
            deploy("production", "production", "soak", "plan"),
        ]
    )


async def test_pipeline_crud_over_grpc(
    rpc: Stubs, release_world: World, machine: ForestServer
) -> None:
    project = release_world.project_msg()
    created = await rpc.pipelines.CreateReleasePipeline(
        pipelines_pb2.CreateReleasePipelineRequest(project=project, name="main", stages=STANDARD),
        metadata=release_world.auth("bob"),
    )
    assert created.pipeline.enabled and created.pipeline.created_at.endswith("Z")
    assert [s.id for s in created.pipeline.stages] == [s.id for s in STANDARD]
    assert created.pipeline.stages[1].plan.environment == "production"
    assert list(created.pipeline.stages[2].depends_on) == ["plan-production"]

    with pytest.raises(grpc.aio.AioRpcError) as duplicate:
        await rpc.pipelines.CreateReleasePipeline(
            pipelines_pb2.CreateReleasePipelineRequest(project=project, name="main"),
            metadata=release_world.auth("bob"),
        )
    assert duplicate.value.code() == grpc.StatusCode.ALREADY_EXISTS

    with pytest.raises(grpc.aio.AioRpcError) as cyclic:
        await rpc.pipelines.CreateReleasePipeline(
            pipelines_pb2.CreateReleasePipelineRequest(
                project=project, name="bad", stages=[deploy("a", "s", "a")]
            ),
            metadata=release_world.auth("bob"),
        )
    assert cyclic.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "depends on itself" in (cyclic.value.details() or "")

    # enabled alone leaves the stages; update_stages replaces them.
    updated = await rpc.pipelines.UpdateReleasePipeline(
        pipelines_pb2.UpdateReleasePipelineRequest(project=project, name="main", enabled=False),
        metadata=release_world.auth("carol"),
    )
    assert not updated.pipeline.enabled and len(updated.pipeline.stages) == 3
    updated = await rpc.pipelines.UpdateReleasePipeline(
        pipelines_pb2.UpdateReleasePipelineRequest(
            project=project, name="main", stages=[wait("w", 30)], update_stages=True
        ),
        metadata=release_world.auth("carol"),
    )
    assert not updated.pipeline.enabled
    assert [(s.id, s.wait.duration_seconds) for s in updated.pipeline.stages] == [("w", 30)]

    listed = await rpc.pipelines.ListReleasePipelines(
        pipelines_pb2.ListReleasePipelinesRequest(project=project),
        metadata=release_world.auth("bob"),
    )
    assert [p.name for p in listed.pipelines] == ["main"]

    await rpc.pipelines.DeleteReleasePipeline(
        pipelines_pb2.DeleteReleasePipelineRequest(project=project, name="main"),
        metadata=release_world.auth("bob"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await rpc.pipelines.DeleteReleasePipeline(
            pipelines_pb2.DeleteReleasePipelineRequest(project=project, name="main"),
            metadata=release_world.auth("bob"),
        )
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND

    assert machine.ctx is not None
    async with machine.ctx.db.read() as session:
        events = (
            await session.execute(
                select(OrgEvent.action, OrgEvent.event_metadata)
                .where(OrgEvent.resource_type == "release_pipeline")
                .order_by(OrgEvent.sequence)
            )
        ).all()
    assert [(a, m["name"]) for a, m in events] == [
        ("created", "main"),
        ("updated", "main"),
        ("updated", "main"),
        ("deleted", "main"),
    ]


async def test_pipelines_need_membership(
    rpc: Stubs, release_world: World, machine: ForestServer
) -> None:
    assert machine.ctx is not None
    other = await provision(machine.ctx.db, org="globex", members={"mallory": "admin"})
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await rpc.pipelines.ListReleasePipelines(
            pipelines_pb2.ListReleasePipelinesRequest(project=release_world.project_msg()),
            metadata=other.auth("mallory"),
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await rpc.pipelines.ListReleasePipelines(
            pipelines_pb2.ListReleasePipelinesRequest(project=release_world.project_msg("nope")),
            metadata=release_world.auth("bob"),
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
