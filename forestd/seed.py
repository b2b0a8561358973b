"""`seed-demo`: the demo organisation the bot, `forest-bot dev` and the walk test start from.

Organisation `acme` with alice (admin), bob and carol (members), each with a verified
`@example.com` email and a personal access token (returned once, never stored in clear);
project `api` with demo destinations `api-staging` and `api-production`, the pipeline
deploy staging → plan production → deploy production, and the policies: soak 60 s
staging → production, branch `^main$` on production, 2 approvals on production.
Two artifacts are seeded too (a build of `main` and one of a feature branch) and their ids
printed, so a client can call `ReleaseService.Release` straight away (new builds come from
`AnnotateRelease`).

A second organisation `globex` has one member, dave (its admin, verified dave@example.com, a
personal access token), and project `web` with one external approval required on
`production`: a member of another organisation whose project gates an environment of the same
name, so cross-organisation votes can be tried (refused by default, accepted by Forest and
by `--compat forest`).

Seeding twice is refused with a clear message (the tokens cannot be shown again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from forest.v1 import policies_pb2

from .auth import SERVICE_ACCOUNT_ID
from .db.models import (
    Organisation,
    PipelineStageState,
    Project,
    ReleaseIntent,
    ReleasePipeline,
)
from .db.types import utcnow
from .errors import AlreadyExists
from .policy_engine import ConfigMessage, policy_row
from .provisioning import (
    add_member,
    create_artifact,
    create_destination,
    create_organisation,
    create_project,
    create_token,
    create_user,
)
from .uow import Database, UnitOfWork

ORGANISATION = "acme"
PROJECT = "api"
PIPELINE = "default"
USERS = (("alice", "admin"), ("bob", "member"), ("carol", "member"))
OTHER_ORGANISATION = "globex"
OTHER_PROJECT = "web"
OTHER_USER = "dave"
# branch -> (commit sha, commit message) of the artifacts seeded for releasing
ARTIFACTS = {
    "main": ("5eed0000c0ffee00000000000000000000000001", "Add rate limiting to the public API"),
    "feature/search": (
        "5eed0000c0ffee00000000000000000000000002",
        "WIP: search endpoint (not for production)",
    ),
}
STAGES: list[dict[str, Any]] = [
    {"id": "deploy-staging", "depends_on": [], "deploy": {"environment": "staging"}},
    {
        "id": "plan-production",
        "depends_on": ["deploy-staging"],
        "plan": {"environment": "production", "auto_approve": False},
    },
    {
        "id": "deploy-production",
        "depends_on": ["plan-production"],
        "deploy": {"environment": "production"},
    },
]


@dataclass
class DemoSeed:
    organisation: str
    project: str
    tokens: dict[str, str] = field(default_factory=dict)  # username -> raw PAT (shown once)
    user_ids: dict[str, str] = field(default_factory=dict)
    destinations: dict[str, str] = field(default_factory=dict)  # environment -> name
    artifacts: dict[str, str] = field(default_factory=dict)  # branch -> artifact id
    # The second organisation and its project (its one user is in tokens and user_ids).
    other_organisation: str = ""
    other_project: str = ""

    def describe(self) -> str:
        lines = [
            f"Seeded organisation {self.organisation!r}, "
            f"project {self.organisation}/{self.project}",
            "pipeline: deploy staging -> plan production -> deploy production",
            "policies on production: soak after staging, branch ^main$, 2 approvals",
            f"and organisation {self.other_organisation!r} ({OTHER_USER} only), project "
            f"{self.other_organisation}/{self.other_project}: 1 approval on production",
            "",
            "Personal access tokens (shown once; keep them):",
        ]
        lines += [f"  {user:<6} {token}" for user, token in self.tokens.items()]
        lines += ["", "Artifacts to release (ReleaseRequest.artifact_id):"]
        lines += [f"  {branch:<14} {id_}" for branch, id_ in self.artifacts.items()]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "project": self.project,
            "tokens": self.tokens,
            "user_ids": self.user_ids,
            "destinations": self.destinations,
            "artifacts": self.artifacts,
            "other_organisation": self.other_organisation,
            "other_project": self.other_project,
        }


async def seed_demo(
    db: Database,
    *,
    soak_seconds: int = 60,
    destination_config: dict[str, Any] | None = None,
) -> DemoSeed:
    """Create the demo world in one transaction; AlreadyExists when it is there already."""
    config = {"deploy_seconds": 2, "plan_seconds": 1, "plan_lines": 60}
    config.update(destination_config or {})
    seed = DemoSeed(ORGANISATION, PROJECT)
    try:
        async with db.transaction() as uow:
            await _seed_acme(uow, seed, soak_seconds, config)
            await _seed_other(uow, seed)
    except AlreadyExists as exc:
        raise AlreadyExists(
            f"{exc.message}: this database is already seeded "
            "(its tokens were printed then; use a fresh database to seed again)"
        ) from None
    return seed


async def _seed_acme(
    uow: UnitOfWork, seed: DemoSeed, soak_seconds: int, config: dict[str, Any]
) -> None:
    org = await create_organisation(uow, ORGANISATION)
    for username, role in USERS:
        await _add_person(uow, seed, org, username, role)
    project = await create_project(uow, org, PROJECT)
    for environment in ("staging", "production"):
        name = f"{PROJECT}-{environment}"
        await create_destination(uow, org, name, environment, kind="demo", config=config)
        seed.destinations[environment] = name
    for branch, (sha, message) in ARTIFACTS.items():
        artifact = await create_artifact(
            uow,
            org,
            project,
            commit_sha=sha,
            branch=branch,
            commit_message=message,
            source_user_id=seed.user_ids["bob"],
        )
        seed.artifacts[branch] = artifact.id
    pipeline = ReleasePipeline(project_id=project.id, name=PIPELINE, stages=STAGES)
    uow.session.add(pipeline)
    await uow.session.flush()
    uow.record_event(
        org.name,
        "release_pipeline",
        "created",
        pipeline.id,
        project=project.name,
        metadata={"name": PIPELINE},
    )
    await _add_policies(
        uow,
        org,
        project,
        [
            (
                "soak-staging-production",
                policies_pb2.SoakTimeConfig(
                    source_environment="staging",
                    target_environment="production",
                    duration_seconds=soak_seconds,
                ),
            ),
            (
                "main-only-production",
                policies_pb2.BranchRestrictionConfig(
                    target_environment="production", branch_pattern="^main$"
                ),
            ),
            (
                "two-approvals-production",
                policies_pb2.ExternalApprovalConfig(
                    target_environment="production", required_approvals=2
                ),
            ),
        ],
    )


async def _seed_other(uow: UnitOfWork, seed: DemoSeed) -> None:
    """globex: dave and project web, gating `production` like acme/api does."""
    org = await create_organisation(uow, OTHER_ORGANISATION)
    await _add_person(uow, seed, org, OTHER_USER, "admin")
    project = await create_project(uow, org, OTHER_PROJECT)
    await _add_policies(
        uow,
        org,
        project,
        [
            (
                "approval-production",
                policies_pb2.ExternalApprovalConfig(
                    target_environment="production", required_approvals=1
                ),
            )
        ],
    )
    seed.other_organisation = org.name
    seed.other_project = project.name


async def _add_person(
    uow: UnitOfWork, seed: DemoSeed, org: Organisation, username: str, role: str
) -> None:
    user = await create_user(uow, username, f"{username}@example.com", verified=True)
    await add_member(uow, org, user, role)
    _, raw = await create_token(uow, user, "seed-demo")
    seed.tokens[username] = raw
    seed.user_ids[username] = user.id


async def _add_policies(
    uow: UnitOfWork,
    org: Organisation,
    project: Project,
    policies: list[tuple[str, ConfigMessage]],
) -> None:
    for name, message in policies:
        policy = policy_row(project.id, name, message)
        uow.session.add(policy)
        await uow.session.flush()
        uow.record_event(
            org.name, "policy", "created", policy.id, project=project.name, metadata={"name": name}
        )


async def seed_gated_project(
    uow: UnitOfWork,
    organisation: Organisation,
    name: str,
    *,
    environment: str,
    required_approvals: int,
    open_intents: int,
) -> list[str]:
    """A project gated on `required_approvals` for `environment`, with `open_intents` releases
    waiting at that gate (one deploy stage each), written straight through forestd's models: a
    quick set-up for load tests and benchmarks (no runner or coordinator involved). Returns the
    intent ids, oldest first."""
    project = await create_project(uow, organisation, name)
    gate = policies_pb2.ExternalApprovalConfig(
        target_environment=environment, required_approvals=required_approvals
    )
    uow.session.add(policy_row(project.id, "approvals", gate))
    intents: list[str] = []
    for n in range(open_intents):
        artifact = await create_artifact(
            uow,
            organisation,
            project,
            commit_sha=secrets.token_hex(20),
            branch="main",
            commit_message=f"{name} release #{n + 1}",
        )
        intent = ReleaseIntent(
            project_id=project.id,
            artifact_id=artifact.id,
            actor_id=SERVICE_ACCOUNT_ID,
            actor_type="service",
            branch="main",
            commit_sha=artifact.commit_sha,
            commit_message=artifact.commit_message,
            created_at=utcnow(),
        )
        uow.session.add(intent)
        await uow.session.flush()
        uow.session.add(
            PipelineStageState(
                release_intent_id=intent.id,
                stage_id=f"deploy-{environment}",
                stage_type="deploy",
                environment=environment,
                queued_at=intent.created_at,
            )
        )
        intents.append(intent.id)
    return intents
