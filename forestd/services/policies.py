"""forest.v1 PolicyService: policy CRUD, evaluation and the external approval gate.

The rules are the seed's *as intended* (contract §3, issue 4 §3), where Forest differs:
- only user tokens vote; the caller must be a member of the project's organisation;
- the intent must exist and belong to the project named in the request (NOT_FOUND otherwise,
  so a member of another org learns nothing about it); a finished intent refuses votes;
- the author may approve their own release only with `force_bypass` **and** the admin role;
  such a vote is recorded with `bypass` and its entry's comment starts with `[bypass]`;
  `force_bypass` from anyone else is an ordinary vote;
- one vote per (intent, environment, user): a later vote replaces decision, comment and time;
- every vote writes an `approval`/`decided` org event and publishes `forest.intent.evaluate`.

In `forest` compat mode (forestd/compat.py) votes behave as the real Forest's (contract §3):
`force_bypass` needs no role and adds an ordinary, unrecorded vote; the intent is found by id
alone (membership and the policy still come from the request's project); no org event is
written (`forest.intent.evaluate` is still published).
"""

from __future__ import annotations

import re
from datetime import datetime

import grpc
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2

from .. import policy_engine as engine
from ..auth import Actor, current_actor
from ..authz import member_project
from ..bus import INTENT_EVALUATE
from ..compat import Compat
from ..context import ServiceContext
from ..db.models import (
    ApprovalDecision,
    Organisation,
    OrganisationMember,
    Policy,
    Project,
    ReleaseIntent,
)
from ..db.types import new_id, utcnow
from ..errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    bounded,
    parse_uuid,
    rpc,
)
from ..uow import UnitOfWork

MAX_NAME = 200  # policy names and environments (their columns' width)
MAX_COMMENT = 4000
SERVICE_NAME = policies_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name
ConfigRequest = policies_pb2.CreatePolicyRequest | policies_pb2.UpdatePolicyRequest


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    policies_pb2_grpc.add_PolicyServiceServicer_to_server(PolicyService(ctx), server)
    return [SERVICE_NAME]


class PolicyService(policies_pb2_grpc.PolicyServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db
        self._compat = ctx.compat

    # ---- CRUD ---------------------------------------------------------------------------

    @rpc
    async def CreatePolicy(
        self, request: policies_pb2.CreatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> policies_pb2.CreatePolicyResponse:
        name = _policy_name(request.name)
        config = _validated_config(request)
        if request.policy_type != engine.policy_row("", "", config).policy_type:
            field = request.WhichOneof("config")
            raise InvalidArgument(
                f"policy_type {policies_pb2.PolicyType.Name(request.policy_type)} does not match "
                f"the config given ({field})"
            )
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            taken = f"policy {name!r} already exists in {_label(org, project)}"
            if await _find_policy(uow.session, project, name) is not None:
                raise AlreadyExists(taken)
            policy = engine.policy_row(project.id, name, config)
            uow.session.add(policy)
            try:
                await uow.session.flush()
            except IntegrityError:  # created concurrently under the same name
                raise AlreadyExists(taken) from None
            _policy_event(uow, org, project, "created", policy.id, name)
            return policies_pb2.CreatePolicyResponse(policy=engine.policy_message(policy))

    @rpc
    async def UpdatePolicy(
        self, request: policies_pb2.UpdatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> policies_pb2.UpdatePolicyResponse:
        name = _policy_name(request.name)
        config = _validated_config(request) if request.WhichOneof("config") else None
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            policy = await _require_policy(uow.session, org, project, name)
            if config is not None:
                replacement = engine.policy_row(project.id, name, config)
                if replacement.policy_type != policy.policy_type:
                    raise InvalidArgument(
                        f"policy {name!r} is a "
                        f"{policies_pb2.PolicyType.Name(policy.policy_type)} policy: its type "
                        "cannot change (delete it and create another)"
                    )
                policy.config = replacement.config
                policy.target_environment = replacement.target_environment
            if request.HasField("enabled"):
                policy.enabled = request.enabled
            policy.updated_at = utcnow()
            await uow.session.flush()
            _policy_event(uow, org, project, "updated", policy.id, name)
            # A lowered requirement, a shorter soak or a disabled policy may let releases through.
            await _nudge_active_intents(uow, project)
            return policies_pb2.UpdatePolicyResponse(policy=engine.policy_message(policy))

    @rpc
    async def DeletePolicy(
        self, request: policies_pb2.DeletePolicyRequest, context: grpc.aio.ServicerContext
    ) -> policies_pb2.DeletePolicyResponse:
        name = _policy_name(request.name)
        async with self._db.transaction() as uow:
            org, project = await member_project(uow.session, current_actor(), request.project)
            policy = await _require_policy(uow.session, org, project, name)
            if policy.policy_type == engine.APPROVAL:
                await _keep_votes(uow.session, policy)
            await _nudge_active_intents(uow, project)
            await uow.session.delete(policy)
            await uow.session.flush()
            _policy_event(uow, org, project, "deleted", name, name)
            return policies_pb2.DeletePolicyResponse()

    @rpc
    async def ListPolicies(
        self, request: policies_pb2.ListPoliciesRequest, context: grpc.aio.ServicerContext
    ) -> policies_pb2.ListPoliciesResponse:
        async with self._db.read() as session:
            _, project = await member_project(session, current_actor(), request.project)
            rows = await session.scalars(
                select(Policy)
                .where(Policy.project_id == project.id)
                .order_by(Policy.created_at, Policy.name)
            )
            return policies_pb2.ListPoliciesResponse(
                policies=[engine.policy_message(p) for p in rows]
            )

    # ---- evaluation -----------------------------------------------------------------------

    @rpc
    async def EvaluatePolicies(
        self, request: policies_pb2.EvaluatePoliciesRequest, context: grpc.aio.ServicerContext
    ) -> policies_pb2.EvaluatePoliciesResponse:
        environment = _environment(request.target_environment)
        intent_id = (
            parse_uuid(request.release_intent_id, "release_intent_id")
            if request.HasField("release_intent_id")
            else None
        )
        async with self._db.read() as session:
            org, project = await member_project(session, current_actor(), request.project)
            intent = await _project_intent(session, org, project, intent_id) if intent_id else None
            return await engine.evaluate_environment(
                session,
                project,
                environment,
                intent=intent,
                branch=request.branch if request.HasField("branch") else None,
                now=utcnow(),
            )

    @rpc
    async def GetExternalApprovalState(
        self,
        request: policies_pb2.GetExternalApprovalStateRequest,
        context: grpc.aio.ServicerContext,
    ) -> policies_pb2.GetExternalApprovalStateResponse:
        """The votes so far; `required_approvals` is 0 when no approval policy is enabled."""
        intent_id = parse_uuid(request.release_intent_id, "release_intent_id")
        environment = _environment(request.target_environment)
        async with self._db.read() as session:
            org, project = await member_project(session, current_actor(), request.project)
            intent = await _project_intent(session, org, project, intent_id)
            state = await engine.approval_state(session, intent.id, environment)
            return policies_pb2.GetExternalApprovalStateResponse(state=state)

    # ---- votes ---------------------------------------------------------------------------

    @rpc
    async def ExternalApproveRelease(
        self,
        request: policies_pb2.ExternalApproveReleaseRequest,
        context: grpc.aio.ServicerContext,
    ) -> policies_pb2.ExternalApproveReleaseResponse:
        state = await self._vote(request, "approved", force_bypass=request.force_bypass)
        return policies_pb2.ExternalApproveReleaseResponse(state=state)

    @rpc
    async def ExternalRejectRelease(
        self,
        request: policies_pb2.ExternalRejectReleaseRequest,
        context: grpc.aio.ServicerContext,
    ) -> policies_pb2.ExternalRejectReleaseResponse:
        state = await self._vote(request, "rejected", force_bypass=False)
        return policies_pb2.ExternalRejectReleaseResponse(state=state)

    async def _vote(
        self,
        request: policies_pb2.ExternalApproveReleaseRequest
        | policies_pb2.ExternalRejectReleaseRequest,
        decision: str,
        *,
        force_bypass: bool,
    ) -> policies_pb2.ExternalApprovalState:
        actor = current_actor()
        if not actor.is_user:
            raise PermissionDenied(
                "votes need the voter's own personal access token: the service account "
                "cannot approve or reject a release"
            )
        intent_id = parse_uuid(request.release_intent_id, "release_intent_id")
        environment = _environment(request.target_environment)
        comment = (
            _bounded(request.comment, "comment", MAX_COMMENT)
            if request.HasField("comment")
            else None
        )
        async with self._db.transaction() as uow:
            session = uow.session
            org, project, role, intent = await _vote_context(
                session,
                request.project,
                actor,
                intent_id,
                in_project=self._compat.vote_intent_in_project,
            )
            if intent.status != "ACTIVE":
                raise FailedPrecondition(
                    f"release already finished ({intent.status.lower()}): votes are closed"
                )
            policies = await engine.enabled_policies(
                session, project.id, environment, engine.APPROVAL
            )
            if not policies:
                raise NotFound(
                    f"no enabled external approval policy on environment {environment!r} "
                    f"in {_label(org, project)}"
                )
            bypass = decision == "approved" and _self_approval(
                intent, actor, role, force_bypass, self._compat
            )
            await _upsert_vote(
                session,
                intent_id=intent.id,
                policy_id=policies[0].id,
                environment=environment,
                actor=actor,
                decision=decision,
                comment=comment,
                bypass=bypass,
            )
            if self._compat.vote_events:
                uow.record_event(
                    org.name,
                    "approval",
                    "decided",
                    intent.id,
                    project=project.name,
                    metadata={
                        "intent_id": intent.id,
                        "environment": environment,
                        "decision": decision,
                        "user_id": actor.id,
                        "bypass": "true" if bypass else "false",
                    },
                )
            uow.publish_after_commit(INTENT_EVALUATE, intent.id.encode())
            required = max(engine.required_of(p) for p in policies)
            return await engine.approval_state(session, intent.id, environment, required)


# ---- helpers ---------------------------------------------------------------------------


def _label(org: Organisation, project: Project) -> str:
    return f"{org.name}/{project.name}"


def _bounded(value: str, field: str, limit: int = MAX_NAME) -> str:
    return bounded(value, field, limit)


def _policy_name(name: str) -> str:
    if not name.strip():
        raise InvalidArgument("name is required")
    return _bounded(name, "name")


def _environment(environment: str) -> str:
    if not environment:
        raise InvalidArgument("target_environment is required")
    return _bounded(environment, "target_environment")


def _validated_config(request: ConfigRequest) -> engine.ConfigMessage:
    field = request.WhichOneof("config")
    if field is None:
        raise InvalidArgument(
            "a config is required: one of soak_time, branch_restriction, external_approval"
        )
    config: engine.ConfigMessage = getattr(request, field)
    if not config.target_environment:
        raise InvalidArgument(f"{field}.target_environment is required")
    _bounded(config.target_environment, f"{field}.target_environment")
    if isinstance(config, policies_pb2.SoakTimeConfig):
        if not config.source_environment:
            raise InvalidArgument("soak_time.source_environment is required")
        _bounded(config.source_environment, "soak_time.source_environment")
        if config.duration_seconds < 0:
            raise InvalidArgument(
                f"soak_time.duration_seconds must be >= 0, got {config.duration_seconds}"
            )
    elif isinstance(config, policies_pb2.BranchRestrictionConfig):
        if not config.branch_pattern:
            raise InvalidArgument("branch_restriction.branch_pattern is required")
        try:
            re.compile(config.branch_pattern)
        except re.error as exc:
            raise InvalidArgument(
                f"branch_restriction.branch_pattern {config.branch_pattern!r} is not a valid "
                f"regular expression: {exc}"
            ) from None
    elif config.required_approvals < 1:
        raise InvalidArgument(
            f"external_approval.required_approvals must be >= 1, got {config.required_approvals}"
        )
    return config


async def _find_policy(session: AsyncSession, project: Project, name: str) -> Policy | None:
    return await session.scalar(
        select(Policy).where(Policy.project_id == project.id, Policy.name == name)
    )


async def _require_policy(
    session: AsyncSession, org: Organisation, project: Project, name: str
) -> Policy:
    policy = await _find_policy(session, project, name)
    if policy is None:
        raise NotFound(f"policy {name!r} does not exist in {_label(org, project)}")
    return policy


async def _project_intent(
    session: AsyncSession, org: Organisation, project: Project, intent_id: str
) -> ReleaseIntent:
    """The intent, if it belongs to `project`; NOT_FOUND alike when absent or elsewhere."""
    intent = await session.get(ReleaseIntent, intent_id)
    if intent is None or intent.project_id != project.id:
        raise NotFound(f"release intent {intent_id} not found in {_label(org, project)}")
    return intent


async def _vote_context(
    session: AsyncSession,
    project_msg: releases_pb2.Project,
    actor: Actor,
    intent_id: str,
    *,
    in_project: bool,
) -> tuple[Organisation, Project, str, ReleaseIntent]:
    """Organisation, project, the voter's role and the intent, in one query (votes are hot):
    the same answers and refusals as project_from_request + require_member + _project_intent.
    Without `in_project` (Forest) the intent may belong to any project of any organisation."""
    intent_matches = ReleaseIntent.id == intent_id
    if in_project:
        intent_matches = and_(intent_matches, ReleaseIntent.project_id == Project.id)
    if not project_msg.organisation or not project_msg.project:
        raise InvalidArgument("project.organisation and project.project are required")
    row = (
        await session.execute(
            select(Organisation, Project, OrganisationMember.role, ReleaseIntent)
            .outerjoin(
                Project,
                and_(
                    Project.organisation_id == Organisation.id,
                    Project.name == project_msg.project,
                ),
            )
            .outerjoin(
                OrganisationMember,
                and_(
                    OrganisationMember.organisation_id == Organisation.id,
                    OrganisationMember.user_id == actor.id,
                ),
            )
            .outerjoin(ReleaseIntent, intent_matches)
            .where(Organisation.name == project_msg.organisation)
        )
    ).first()
    if row is None:
        raise NotFound(f"organisation {project_msg.organisation!r} does not exist")
    org, project, role, intent = row
    if project is None:
        raise NotFound(f"project {project_msg.organisation}/{project_msg.project} does not exist")
    if role is None:
        raise PermissionDenied(f"you are not a member of organisation {org.name!r}")
    if intent is None:
        where = _label(org, project) if in_project else "any project"
        raise NotFound(f"release intent {intent_id} not found in {where}")
    return org, project, role, intent


async def _nudge_active_intents(uow: UnitOfWork, project: Project) -> None:
    """After commit, ask the coordinator to re-evaluate the project's open releases."""
    rows = await uow.session.scalars(
        select(ReleaseIntent.id).where(
            ReleaseIntent.project_id == project.id, ReleaseIntent.status == "ACTIVE"
        )
    )
    for intent_id in rows:
        uow.publish_after_commit(INTENT_EVALUATE, intent_id.encode())


async def _keep_votes(session: AsyncSession, policy: Policy) -> None:
    """Before an approval policy goes, hand its votes to another approval policy on the same
    environment, so deleting one of two gates does not erase votes (Forest's cascade would)."""
    other = await session.scalar(
        select(Policy.id)
        .where(
            Policy.project_id == policy.project_id,
            Policy.target_environment == policy.target_environment,
            Policy.policy_type == engine.APPROVAL,
            Policy.id != policy.id,
        )
        .order_by(Policy.created_at)
        .limit(1)
    )
    if other is not None:
        await session.execute(
            update(ApprovalDecision)
            .where(ApprovalDecision.policy_id == policy.id)
            .values(policy_id=other)
        )


def _policy_event(
    uow: UnitOfWork, org: Organisation, project: Project, action: str, resource_id: str, name: str
) -> None:
    uow.record_event(
        org.name, "policy", action, resource_id, project=project.name, metadata={"name": name}
    )


def _is_author(intent: ReleaseIntent, actor: Actor) -> bool:
    return intent.actor_type == "user" and intent.actor_id == actor.id


def _self_approval(
    intent: ReleaseIntent, actor: Actor, role: str, force_bypass: bool, compat: Compat
) -> bool:
    """Whether an approval is a recorded bypass: the author approving their own release, which
    needs `force_bypass` and (unless Forest's rules apply) the admin role. Under Forest's
    rules `force_bypass` only lifts the self-approval check: an ordinary vote, not a bypass."""
    if not _is_author(intent, actor):
        return False
    if not force_bypass:
        who = "an organisation admin" if compat.bypass_needs_admin else "you"
        raise PermissionDenied(
            "cannot approve your own release: another member must approve it "
            f"({who} may bypass with force_bypass)"
        )
    if not compat.bypass_needs_admin:
        return False
    if role != "admin":
        raise PermissionDenied(
            "only an organisation admin can bypass the approval gate on their own release"
        )
    return True


async def _upsert_vote(
    session: AsyncSession,
    *,
    intent_id: str,
    policy_id: str,
    environment: str,
    actor: Actor,
    decision: str,
    comment: str | None,
    bypass: bool,
) -> None:
    """Insert the vote, or replace this user's earlier one (decision, comment, time, bypass);
    username and policy stay as first recorded, as in Forest."""
    now: datetime = utcnow()
    dialect = (await session.connection()).dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ApprovalDecision).values(
        id=new_id(),
        release_intent_id=intent_id,
        policy_id=policy_id,
        target_environment=environment,
        user_id=actor.id,
        username=actor.username,
        decision=decision,
        comment=comment,
        bypass=bypass,
        created_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["release_intent_id", "target_environment", "user_id"],
            set_={
                "decision": decision,
                "comment": comment,
                "bypass": bypass,
                "created_at": now,
            },
        )
    )
