"""AnnotateRelease / GetArtifactBySlug / GetArtifactsByProject over real gRPC, then Release.

The only-gRPC path a client of Forest's API takes: annotate a build, release it by id.
"""

from __future__ import annotations

import uuid

import grpc
import pytest

from forest.v1 import events_pb2, events_pb2_grpc, releases_pb2, releases_pb2_grpc

from .conftest import SERVICE_TOKEN, bearer
from .factories import World, provision
from .releases_helpers import (
    ACTIVE,
    Stubs,
    create_pipeline,
    stage_is,
    wait_for,
)

SHA = "ab12" * 10


def annotate_request(
    release_world: World, **overrides: object
) -> releases_pb2.AnnotateReleaseRequest:
    request = releases_pb2.AnnotateReleaseRequest(
        project=release_world.project_msg(),
        ref=releases_pb2.Ref(
            commit_sha=SHA,
            branch="main",
            commit_message="Add rate limiting\n\nLong body.",
            repo_url="https://git.example/acme/api",
        ),
        context=releases_pb2.ArtifactContext(web="https://ci.example/run/7"),
        source=releases_pb2.Source(source_type="github-actions", run_url="https://ci/7"),
        metadata={"build": "7"},
    )
    for name, value in overrides.items():
        setattr(request, name, value)
    return request


@pytest.fixture
def stub(rpc: Stubs) -> releases_pb2_grpc.ReleaseServiceStub:
    return rpc.releases


async def test_annotate_records_the_build_and_who_annotated(
    stub: releases_pb2_grpc.ReleaseServiceStub, release_world: World
) -> None:
    annotated = await stub.AnnotateRelease(
        annotate_request(release_world), metadata=release_world.auth("bob")
    )
    artifact = annotated.artifact
    assert uuid.UUID(artifact.id) and artifact.artifact_id == artifact.id
    assert artifact.slug.startswith("api-ab12ab12-")
    assert (artifact.project.organisation, artifact.project.project) == ("acme", "api")
    assert artifact.ref.commit_sha == SHA and artifact.ref.branch == "main"
    assert artifact.ref.repo_url == "https://git.example/acme/api"
    assert artifact.context.title == "Add rate limiting"  # the commit's first line by default
    assert artifact.context.web == "https://ci.example/run/7"
    assert artifact.source.user_id == release_world.user_id("bob")  # set by the server
    assert artifact.source.source_type == "github-actions"
    assert dict(artifact.metadata) == {"build": "7"}

    by_slug = await stub.GetArtifactBySlug(
        releases_pb2.GetArtifactBySlugRequest(slug=artifact.slug),
        metadata=release_world.auth("carol"),
    )
    assert by_slug.artifact == artifact
    listed = await stub.GetArtifactsByProject(
        releases_pb2.GetArtifactsByProjectRequest(project=release_world.project_msg()),
        metadata=release_world.auth("alice"),
    )
    assert [a.id for a in listed.artifact] == [artifact.id]


async def test_an_annotated_artifact_is_released_through_the_pipeline(
    rpc: Stubs, release_world: World
) -> None:
    stubs = rpc
    await create_pipeline(stubs, release_world)
    annotated = await stubs.releases.AnnotateRelease(
        annotate_request(release_world), metadata=release_world.auth("bob")
    )
    response = await stubs.releases.Release(
        releases_pb2.ReleaseRequest(artifact_id=annotated.artifact.id, use_pipeline=True),
        metadata=release_world.auth("bob"),
    )
    intent_id = response.intents[0].release_intent_id
    await wait_for(stubs, release_world, intent_id, stage_is("deploy-staging", ACTIVE))


async def test_client_chosen_artifact_id_is_kept_once(
    stub: releases_pb2_grpc.ReleaseServiceStub, release_world: World
) -> None:
    chosen = str(uuid.uuid4())
    request = annotate_request(release_world, artifact_id=chosen)
    first = await stub.AnnotateRelease(request, metadata=release_world.auth("bob"))
    assert first.artifact.id == chosen
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.AnnotateRelease(request, metadata=release_world.auth("bob"))
    assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert chosen in (again.value.details() or "")


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"ref": releases_pb2.Ref()}, grpc.StatusCode.INVALID_ARGUMENT, "ref.commit_sha"),
        ({"artifact_id": "build-7"}, grpc.StatusCode.INVALID_ARGUMENT, "artifact_id"),
        ({"project": releases_pb2.Project()}, grpc.StatusCode.INVALID_ARGUMENT, "project"),
        (
            {"project": releases_pb2.Project(organisation="acme", project="nope")},
            grpc.StatusCode.NOT_FOUND,
            "acme/nope",
        ),
        (
            {"ref": releases_pb2.Ref(commit_sha=SHA, branch="b" * 301)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "ref.branch",
        ),
    ],
)
async def test_bad_annotations_are_refused_clearly(
    stub: releases_pb2_grpc.ReleaseServiceStub,
    release_world: World,
    change: dict[str, object],
    code: grpc.StatusCode,
    says: str,
) -> None:
    request = annotate_request(release_world)
    for name, value in change.items():
        if isinstance(value, releases_pb2.Ref | releases_pb2.Project):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.AnnotateRelease(request, metadata=release_world.auth("bob"))
    assert refused.value.code() == code
    assert says in (refused.value.details() or "")


async def test_other_organisations_cannot_annotate_or_read_artifacts(
    stub: releases_pb2_grpc.ReleaseServiceStub, release_world: World, rpc: Stubs
) -> None:
    other = await provision(rpc.db, org="globex", project="web", members={"mallory": "admin"})
    with pytest.raises(grpc.aio.AioRpcError) as annotating:
        await stub.AnnotateRelease(annotate_request(release_world), metadata=other.auth("mallory"))
    assert annotating.value.code() == grpc.StatusCode.PERMISSION_DENIED
    annotated = await stub.AnnotateRelease(
        annotate_request(release_world), metadata=release_world.auth("bob")
    )
    artifact = annotated.artifact
    for call in (
        stub.GetArtifactBySlug(
            releases_pb2.GetArtifactBySlugRequest(slug=artifact.slug),
            metadata=other.auth("mallory"),
        ),
        stub.GetArtifactsByProject(
            releases_pb2.GetArtifactsByProjectRequest(project=release_world.project_msg()),
            metadata=other.auth("mallory"),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as reading:
            await call
        assert reading.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetArtifactBySlug(
            releases_pb2.GetArtifactBySlugRequest(slug="api-nope"),
            metadata=release_world.auth("bob"),
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_annotating_writes_an_artifact_created_event(
    stub: releases_pb2_grpc.ReleaseServiceStub, rpc: Stubs, release_world: World
) -> None:
    annotated = await stub.AnnotateRelease(
        annotate_request(release_world), metadata=release_world.auth("bob")
    )
    artifact = annotated.artifact
    events = events_pb2_grpc.EventServiceStub(rpc.channel).Subscribe(
        events_pb2.SubscribeEventsRequest(
            organisation="acme", resource_types=["artifact"], since_sequence=1
        ),
        metadata=bearer(SERVICE_TOKEN),
    )
    event = await events.read()
    events.cancel()
    assert (event.resource_type, event.action, event.resource_id) == (
        "artifact",
        "created",
        artifact.id,
    )
    assert event.metadata["slug"] == artifact.slug and event.project == "api"
