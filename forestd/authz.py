"""Authorization and look-ups shared by the services: org membership, projects, intents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import releases_pb2

from .auth import Actor
from .db.models import Organisation, OrganisationMember, Project
from .errors import InvalidArgument, NotFound, PermissionDenied


async def organisation_by_name(session: AsyncSession, name: str) -> Organisation:
    if not name:
        raise InvalidArgument("organisation is required")
    org = await session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound(f"organisation {name!r} does not exist")
    return org


async def member_role(session: AsyncSession, organisation_id: str, user_id: str) -> str | None:
    return await session.scalar(
        select(OrganisationMember.role).where(
            OrganisationMember.organisation_id == organisation_id,
            OrganisationMember.user_id == user_id,
        )
    )


async def require_member(
    session: AsyncSession, actor: Actor, organisation: Organisation, *, admin: bool = False
) -> str:
    """The actor's role in the organisation, or PERMISSION_DENIED. The service account passes."""
    if actor.kind == "service":
        return "admin"
    role = await member_role(session, organisation.id, actor.id)
    if role is None:
        raise PermissionDenied(f"you are not a member of organisation {organisation.name!r}")
    if admin and role != "admin":
        raise PermissionDenied(f"this needs the admin role in organisation {organisation.name!r}")
    return role


async def project_from_request(
    session: AsyncSession, project: releases_pb2.Project
) -> tuple[Organisation, Project]:
    """The organisation and project named by a forest.v1 Project message."""
    if not project.organisation or not project.project:
        raise InvalidArgument("project.organisation and project.project are required")
    org = await organisation_by_name(session, project.organisation)
    row = await session.scalar(
        select(Project).where(Project.organisation_id == org.id, Project.name == project.project)
    )
    if row is None:
        raise NotFound(f"project {project.organisation}/{project.project} does not exist")
    return org, row


async def member_project(
    session: AsyncSession, actor: Actor, project_msg: releases_pb2.Project
) -> tuple[Organisation, Project]:
    """The named organisation and project, when the actor is a member (or the service)."""
    org, project = await project_from_request(session, project_msg)
    await require_member(session, actor, org)
    return org, project
