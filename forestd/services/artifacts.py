"""ReleaseService's artifact RPCs: AnnotateRelease, GetArtifactBySlug, GetArtifactsByProject.

An artifact is a build of a commit in a project; `Release` names one by id. CI records it with
`AnnotateRelease` (Forest's `forest release annotate`): the caller must be a member of the
project's organisation; the server sets `source.user_id` to the caller. Forest's triggers
(auto-release on annotate) do not exist here, so `annotation_only` changes nothing.
"""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy import select

from forest.v1 import releases_pb2

from ..auth import current_actor
from ..authz import member_project, require_member
from ..db.models import Artifact, Organisation, Project
from ..db.types import rfc3339
from ..errors import AlreadyExists, InvalidArgument, NotFound, bounded, parse_uuid, rpc
from ..provisioning import create_artifact
from ..uow import Database

MAX_LISTED = 100  # GetArtifactsByProject: the newest this many
MAX_SHA = 64
MAX_BRANCH = 300
MAX_TEXT = 10_000  # titles, descriptions, commit messages, metadata values
SOURCE_FIELDS = ("user", "email", "source_type", "run_url")
CONTEXT_FIELDS = ("description", "web", "pr")
REF_FIELDS = ("version", "repo_url")


def _annotation(request: releases_pb2.AnnotateReleaseRequest) -> dict[str, Any]:
    """What the artifacts table has no column for, kept as given."""
    def present(message: Any, fields: tuple[str, ...], prefix: str) -> dict[str, str]:
        return {
            name: bounded(getattr(message, name), f"{prefix}.{name}", MAX_TEXT)
            for name in fields
            if message.HasField(name)
        }

    for key, value in request.metadata.items():
        bounded(key, "metadata key", 200)
        bounded(value, f"metadata[{key!r}]", MAX_TEXT)
    return {
        "metadata": dict(request.metadata),
        "source": present(request.source, SOURCE_FIELDS, "source"),
        "context": present(request.context, CONTEXT_FIELDS, "context"),
        "ref": present(request.ref, REF_FIELDS, "ref"),
    }


def artifact_message(artifact: Artifact, organisation: str, project: str) -> releases_pb2.Artifact:
    annotation = artifact.annotation or {}
    message = releases_pb2.Artifact(
        id=artifact.id,
        artifact_id=artifact.id,
        slug=artifact.slug,
        metadata=annotation.get("metadata", {}),
        source=releases_pb2.Source(**annotation.get("source", {})),
        context=releases_pb2.ArtifactContext(title=artifact.title, **annotation.get("context", {})),
        project=releases_pb2.Project(organisation=organisation, project=project),
        created_at=rfc3339(artifact.created_at),
        ref=releases_pb2.Ref(commit_sha=artifact.commit_sha, **annotation.get("ref", {})),
    )
    if artifact.source_user_id is not None:
        message.source.user_id = artifact.source_user_id
    if artifact.branch is not None:
        message.ref.branch = artifact.branch
    if artifact.commit_message is not None:
        message.ref.commit_message = artifact.commit_message
    return message


class ArtifactRpcs:
    """Mixed into ReleaseService (one gRPC service in Forest's API)."""

    _db: Database

    @rpc
    async def AnnotateRelease(
        self, request: releases_pb2.AnnotateReleaseRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.AnnotateReleaseResponse:
        actor = current_actor()
        ref = request.ref
        sha = bounded(ref.commit_sha.strip(), "ref.commit_sha", MAX_SHA)
        if not sha:
            raise InvalidArgument("ref.commit_sha is required")
        branch = bounded(ref.branch, "ref.branch", MAX_BRANCH) if ref.HasField("branch") else None
        message = (
            bounded(ref.commit_message, "ref.commit_message", MAX_TEXT)
            if ref.HasField("commit_message")
            else None
        )
        title = bounded(request.context.title, "context.title", MAX_TEXT)
        annotation = _annotation(request)
        async with self._db.transaction() as uow:
            session = uow.session
            org, project = await member_project(session, actor, request.project)
            artifact_id = None
            if request.artifact_id:
                artifact_id = parse_uuid(request.artifact_id, "artifact_id")
                if await session.get(Artifact, artifact_id) is not None:
                    raise AlreadyExists(f"artifact {artifact_id} already exists")
            artifact = await create_artifact(
                uow,
                org,
                project,
                commit_sha=sha,
                branch=branch,
                commit_message=message,
                title=title,
                source_user_id=actor.id if actor.is_user else None,
                annotation=annotation,
                artifact_id=artifact_id,
            )
            return releases_pb2.AnnotateReleaseResponse(
                artifact=artifact_message(artifact, org.name, project.name)
            )

    @rpc
    async def GetArtifactBySlug(
        self, request: releases_pb2.GetArtifactBySlugRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.GetArtifactBySlugResponse:
        if not request.slug:
            raise InvalidArgument("slug is required")
        actor = current_actor()
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Artifact, Project.name, Organisation)
                    .join(Project, Project.id == Artifact.project_id)
                    .join(Organisation, Organisation.id == Project.organisation_id)
                    .where(Artifact.slug == request.slug)
                )
            ).first()
            if row is None:
                raise NotFound(f"artifact {request.slug!r} does not exist")
            artifact, project_name, org = row
            await require_member(session, actor, org)
            return releases_pb2.GetArtifactBySlugResponse(
                artifact=artifact_message(artifact, org.name, project_name)
            )

    @rpc
    async def GetArtifactsByProject(
        self, request: releases_pb2.GetArtifactsByProjectRequest, context: grpc.aio.ServicerContext
    ) -> releases_pb2.GetArtifactsByProjectResponse:
        actor = current_actor()
        async with self._db.read() as session:
            org, project = await member_project(session, actor, request.project)
            artifacts = await session.scalars(
                select(Artifact)
                .where(Artifact.project_id == project.id)
                .order_by(Artifact.created_at.desc(), Artifact.id.desc())
                .limit(MAX_LISTED)
            )
            return releases_pb2.GetArtifactsByProjectResponse(
                artifact=[artifact_message(a, org.name, project.name) for a in artifacts]
            )
