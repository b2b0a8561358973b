"""Creating organisations, users, tokens, projects, destinations and artifacts.

Each function works inside a caller's UnitOfWork so several steps commit together.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from .auth import hash_token
from .db.models import (
    Artifact,
    Destination,
    Organisation,
    OrganisationMember,
    PersonalAccessToken,
    Project,
    User,
    UserEmail,
)
from .db.types import utcnow
from .errors import AlreadyExists, InvalidArgument
from .uow import UnitOfWork

ROLES = ("admin", "member")
TOKEN_PREFIX = "fpat_"


async def create_organisation(uow: UnitOfWork, name: str) -> Organisation:
    if await uow.session.scalar(select(Organisation).where(Organisation.name == name)):
        raise AlreadyExists(f"organisation {name!r} already exists")
    org = Organisation(name=name)
    uow.session.add(org)
    await uow.session.flush()
    uow.record_event(name, "organisation", "created", org.id, metadata={"name": name})
    return org


async def create_user(
    uow: UnitOfWork, username: str, email: str | None = None, *, verified: bool = True
) -> User:
    if await uow.session.scalar(select(User).where(User.username == username)):
        raise AlreadyExists(f"user {username!r} already exists")
    user = User(username=username)
    uow.session.add(user)
    await uow.session.flush()
    if email:
        uow.session.add(UserEmail(user_id=user.id, email=email, verified=verified))
    return user


async def add_member(
    uow: UnitOfWork, organisation: Organisation, user: User, role: str = "member"
) -> OrganisationMember:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    member = OrganisationMember(organisation_id=organisation.id, user_id=user.id, role=role)
    uow.session.add(member)
    await uow.session.flush()
    return member


async def create_token(
    uow: UnitOfWork,
    user: User,
    name: str = "default",
    *,
    expires_in: timedelta | None = None,
    scopes: list[str] | None = None,
) -> tuple[PersonalAccessToken, str]:
    """A personal access token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(raw),
        scopes=list(scopes or []),
        expires_at=utcnow() + expires_in if expires_in else None,
    )
    uow.session.add(token)
    await uow.session.flush()
    return token, raw


async def create_project(uow: UnitOfWork, organisation: Organisation, name: str) -> Project:
    project = Project(organisation_id=organisation.id, name=name)
    uow.session.add(project)
    await uow.session.flush()
    uow.record_event(organisation.name, "project", "created", project.id, project=name)
    return project


async def create_destination(
    uow: UnitOfWork,
    organisation: Organisation,
    name: str,
    environment: str,
    *,
    kind: str = "demo",
    config: dict | None = None,
) -> Destination:
    """`kind` demo (built-in, config e.g. {"plan_lines": 40, "deploy_seconds": 1}) or script
    (config {"deploy": [argv...], "plan": [argv...]})."""
    destination = Destination(
        organisation_id=organisation.id,
        name=name,
        environment=environment,
        kind=kind,
        config=dict(config or {}),
    )
    uow.session.add(destination)
    await uow.session.flush()
    uow.record_event(
        organisation.name,
        "destination",
        "created",
        destination.id,
        metadata={"name": name, "environment": environment},
    )
    return destination


async def create_artifact(
    uow: UnitOfWork,
    organisation: Organisation,
    project: Project,
    *,
    commit_sha: str,
    branch: str | None,
    commit_message: str | None,
    title: str = "",
    source_user_id: str | None = None,
    annotation: dict | None = None,
    artifact_id: str | None = None,
) -> Artifact:
    """A build of a commit, ready for `Release`; title defaults to the message's first line.

    `artifact_id`: an id the client chose (the caller checks it is free); otherwise a new one.
    """
    artifact = Artifact(
        project_id=project.id,
        slug=f"{project.name}-{commit_sha[:8]}-{secrets.token_hex(3)}",
        commit_sha=commit_sha,
        branch=branch,
        commit_message=commit_message,
        title=title or (commit_message or "").split("\n", 1)[0],
        source_user_id=source_user_id,
        annotation=dict(annotation or {}),
    )
    if artifact_id is not None:
        artifact.id = artifact_id
    uow.session.add(artifact)
    await uow.session.flush()
    uow.record_event(
        organisation.name,
        "artifact",
        "created",
        artifact.id,
        project=project.name,
        metadata={"slug": artifact.slug, "commit_sha": commit_sha, "branch": branch or ""},
    )
    return artifact
