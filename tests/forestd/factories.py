"""Test helpers: provision an organisation with users, tokens, a project and policies, and
write release intents (and their finished deploys) straight into a running forestd's database.

Stable API, shared by the forestd tests:
- `await provision(db, org=..., project=..., members={"alice": "admin", ...}) -> World`
- `await add_project(db, world, name) -> World` (same org and people, another project)
- `await add_policy(db, world, name, config, enabled=True) -> str` (policy id)
- `await create_intent(db, world, author="bob", branch="main", status="ACTIVE") -> str`
- `await record_deploy(db, world, intent_id, environment, status=..., completed_at=...) -> str`
- `world.project_msg()`, `world.token("alice")`, `world.user_id("alice")`, `world.auth("alice")`
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from forest.v1 import releases_pb2
from forestd.auth import SERVICE_ACCOUNT_ID
from forestd.db.models import Artifact, Organisation, ReleaseIntent, ReleaseState
from forestd.db.types import new_id, utcnow
from forestd.policy_engine import ConfigMessage, policy_row
from forestd.provisioning import (
    add_member,
    create_destination,
    create_organisation,
    create_project,
    create_token,
    create_user,
)
from forestd.uow import Database

DEFAULT_MEMBERS = {"alice": "admin", "bob": "member", "carol": "member"}
DEFAULT_ENVIRONMENTS = ("staging", "production")


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    role: str
    token: str


@dataclass
class World:
    """An organisation, its members (with raw tokens) and one project with destinations."""

    org_id: str
    org_name: str
    project_id: str
    project_name: str
    people: dict[str, Person] = field(default_factory=dict)
    destinations: dict[str, str] = field(default_factory=dict)  # environment -> destination id

    def project_msg(self, project: str | None = None) -> releases_pb2.Project:
        return releases_pb2.Project(
            organisation=self.org_name, project=project or self.project_name
        )

    def token(self, username: str) -> str:
        return self.people[username].token

    def user_id(self, username: str) -> str:
        return self.people[username].id

    def auth(self, username: str) -> tuple[tuple[str, str], ...]:
        """gRPC call metadata authenticating as `username`."""
        return (("authorization", f"Bearer {self.token(username)}"),)


async def provision(
    db: Database,
    *,
    org: str = "acme",
    project: str = "api",
    members: dict[str, str] | None = None,
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS,
) -> World:
    """An organisation with users (`members`: username -> role, each with a PAT), a project
    and a demo destination per environment (named `{org}-{environment}`)."""
    async with db.transaction() as uow:
        organisation = await create_organisation(uow, org)
        proj = await create_project(uow, organisation, project)
        world = World(organisation.id, organisation.name, proj.id, proj.name)
        for username, role in (DEFAULT_MEMBERS if members is None else members).items():
            user = await create_user(uow, username, f"{username}@{org}.example")
            await add_member(uow, organisation, user, role)
            _, raw = await create_token(uow, user)
            world.people[username] = Person(user.id, username, role, raw)
        for environment in environments:
            destination = await create_destination(
                uow, organisation, f"{org}-{environment}", environment
            )
            world.destinations[environment] = destination.id
    return world


async def add_project(db: Database, world: World, name: str) -> World:
    """Another project of the same organisation: a World sharing people and destinations."""
    async with db.transaction() as uow:
        organisation = await uow.session.get(Organisation, world.org_id)
        assert organisation is not None
        proj = await create_project(uow, organisation, name)
    return replace(world, project_id=proj.id, project_name=proj.name)


async def add_policy(
    db: Database, world: World, name: str, config: ConfigMessage, *, enabled: bool = True
) -> str:
    async with db.transaction() as uow:
        policy = policy_row(world.project_id, name, config, enabled=enabled)
        uow.session.add(policy)
        await uow.session.flush()
        return policy.id


async def create_intent(
    db: Database,
    world: World,
    *,
    author: str | None = "bob",
    branch: str | None = "main",
    status: str = "ACTIVE",
) -> str:
    """A release intent row (no pipeline) by `author`, or by the service account when None."""
    async with db.transaction() as uow:
        artifact = Artifact(
            project_id=world.project_id,
            slug=f"{world.project_name}-{new_id()[:8]}",
            commit_sha="0" * 40,
            branch=branch,
            title="a release",
        )
        uow.session.add(artifact)
        await uow.session.flush()
        intent = ReleaseIntent(
            project_id=world.project_id,
            artifact_id=artifact.id,
            actor_id=world.user_id(author) if author else SERVICE_ACCOUNT_ID,
            actor_type="user" if author else "service",
            branch=branch,
            commit_sha=artifact.commit_sha,
            status=status,
            completed_at=None if status == "ACTIVE" else utcnow(),
        )
        uow.session.add(intent)
        await uow.session.flush()
        return intent.id


async def record_deploy(
    db: Database,
    world: World,
    intent_id: str,
    environment: str,
    *,
    status: str = "SUCCEEDED",
    completed_at: datetime | None = None,
) -> str:
    """A finished deploy step of the intent on the environment's destination."""
    async with db.transaction() as uow:
        step = ReleaseState(
            release_intent_id=intent_id,
            destination_id=world.destinations[environment],
            destination_name=f"{world.org_name}-{environment}",
            environment=environment,
            mode="deploy",
            status=status,
            completed_at=completed_at or utcnow(),
        )
        uow.session.add(step)
        await uow.session.flush()
        return step.id
