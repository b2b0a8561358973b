"""forest.v1 UsersService and OrganisationService: who people are, their tokens, their orgs.

Differences from Forest (contract §1.6, §2), on purpose:
- GetUser by email matches exactly and only a *verified* address (Forest ignores verification,
  which would let anyone claim a colleague's Slack identity).
- ListMyOrganisations works with a personal access token (Forest wants a JWT session).
- The last admin of an organisation cannot be removed or demoted.
- Device login (Initiate/Poll/Approve/DenyDeviceLogin) and RefreshToken are not served:
  UNIMPLEMENTED (forestd has no session tokens).

In `forest` compat mode (forestd/compat.py) TokenInfo refuses personal access tokens as Forest
does (INTERNAL "missing claims in request extensions"; contract §1.6, §8).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from forest.v1 import (
    organisations_pb2,
    organisations_pb2_grpc,
    users_pb2,
    users_pb2_grpc,
)

from ..auth import SERVICE_ACCOUNT_ID, bearer_token, current_actor, hash_token
from ..authz import organisation_by_name, require_member
from ..compat import MISSING_CLAIMS
from ..context import ServiceContext
from ..db.models import (
    Organisation,
    OrganisationMember,
    PersonalAccessToken,
    User,
    UserEmail,
)
from ..errors import (
    AlreadyExists,
    FailedPrecondition,
    ForestError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unimplemented,
    parse_uuid,
    rpc,
)
from ..provisioning import ROLES, add_member, create_organisation, create_token
from ..uow import UnitOfWork

# Organisation names end up in NATS subjects (forest.events.{org}): no dots, spaces or wildcards.
ORG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_TOKEN_NAME = 200
MAX_TOKEN_LIFETIME = 10 * 366 * 24 * 3600
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    users_pb2_grpc.add_UsersServiceServicer_to_server(UsersService(ctx), server)
    organisations_pb2_grpc.add_OrganisationServiceServicer_to_server(
        OrganisationService(ctx), server
    )
    return [
        users_pb2.DESCRIPTOR.services_by_name["UsersService"].full_name,
        organisations_pb2.DESCRIPTOR.services_by_name["OrganisationService"].full_name,
    ]


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


# ---- users and tokens ----------------------------------------------------------------------


class UsersService(users_pb2_grpc.UsersServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db
        self._compat = ctx.compat

    @rpc
    async def RefreshToken(
        self, request: users_pb2.RefreshTokenRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.RefreshTokenResponse:
        """Open, as in Forest, but forestd never hands out session tokens to refresh."""
        raise Unimplemented(
            "forestd has no session tokens to refresh: authenticate with a personal access token"
        )

    @rpc
    async def GetUser(
        self, request: users_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.GetUserResponse:
        which = request.WhichOneof("identifier")
        async with self._db.read() as session:
            if which == "user_id":
                user = await session.get(User, parse_uuid(request.user_id, "user_id"))
                wanted = f"user {request.user_id}"
            elif which == "username" and request.username:
                user = await session.scalar(select(User).where(User.username == request.username))
                wanted = f"user {request.username!r}"
            elif which == "email" and request.email:
                user = await session.scalar(
                    select(User)
                    .join(UserEmail, UserEmail.user_id == User.id)
                    .where(UserEmail.email == request.email, UserEmail.verified.is_(True))
                )
                wanted = f"user with the verified email {request.email!r}"
            else:
                raise InvalidArgument("give one of user_id, username or email")
            if user is None:
                raise NotFound(f"{wanted} does not exist")
            return users_pb2.GetUserResponse(user=await _user_message(session, user))

    @rpc
    async def TokenInfo(
        self, request: users_pb2.TokenInfoRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.TokenInfoResponse:
        """Who the presented token belongs to and when it expires (0: never)."""
        actor = current_actor()
        if not actor.is_user:
            return users_pb2.TokenInfoResponse(user_id=SERVICE_ACCOUNT_ID, expires_at=0)
        if not self._compat.token_info_for_pats:
            raise ForestError(MISSING_CLAIMS)  # a user here always came with a PAT
        raw = bearer_token(context.invocation_metadata()) or ""
        async with self._db.read() as session:
            expires_at = await session.scalar(
                select(PersonalAccessToken.expires_at).where(
                    PersonalAccessToken.token_hash == hash_token(raw)
                )
            )
        return users_pb2.TokenInfoResponse(
            user_id=actor.id, expires_at=int(expires_at.timestamp()) if expires_at else 0
        )

    @rpc
    async def CreatePersonalAccessToken(
        self,
        request: users_pb2.CreatePersonalAccessTokenRequest,
        context: grpc.aio.ServicerContext,
    ) -> users_pb2.CreatePersonalAccessTokenResponse:
        if not request.name.strip():
            raise InvalidArgument("name is required")
        if len(request.name) > MAX_TOKEN_NAME:
            raise InvalidArgument(f"name is too long: at most {MAX_TOKEN_NAME} characters")
        if not 0 <= request.expires_in_seconds <= MAX_TOKEN_LIFETIME:
            raise InvalidArgument(
                f"expires_in_seconds must be between 0 (no expiry) and {MAX_TOKEN_LIFETIME} "
                f"(10 years), got {request.expires_in_seconds}"
            )
        async with self._db.transaction() as uow:
            user = await _token_owner(uow.session, request.user_id)
            token, raw = await create_token(
                uow,
                user,
                request.name,
                expires_in=timedelta(seconds=request.expires_in_seconds)
                if request.expires_in_seconds
                else None,
                scopes=list(request.scopes),
            )
            return users_pb2.CreatePersonalAccessTokenResponse(
                token=_token_message(token), raw_token=raw
            )

    @rpc
    async def ListPersonalAccessTokens(
        self,
        request: users_pb2.ListPersonalAccessTokensRequest,
        context: grpc.aio.ServicerContext,
    ) -> users_pb2.ListPersonalAccessTokensResponse:
        async with self._db.read() as session:
            user = await _token_owner(session, request.user_id)
            tokens = await session.scalars(
                select(PersonalAccessToken)
                .where(PersonalAccessToken.user_id == user.id)
                .order_by(PersonalAccessToken.created_at, PersonalAccessToken.id)
            )
            return users_pb2.ListPersonalAccessTokensResponse(
                tokens=[_token_message(t) for t in tokens]
            )

    @rpc
    async def DeletePersonalAccessToken(
        self,
        request: users_pb2.DeletePersonalAccessTokenRequest,
        context: grpc.aio.ServicerContext,
    ) -> users_pb2.DeletePersonalAccessTokenResponse:
        token_id = parse_uuid(request.token_id, "token_id")
        actor = current_actor()
        async with self._db.transaction() as uow:
            token = await uow.session.get(PersonalAccessToken, token_id)
            # Someone else's token is "not found": its existence is none of the caller's business.
            if token is None or (actor.is_user and token.user_id != actor.id):
                raise NotFound(f"token {token_id} does not exist")
            await uow.session.delete(token)
            return users_pb2.DeletePersonalAccessTokenResponse()


async def _token_owner(session: AsyncSession, user_id: str) -> User:
    """Whose tokens: users manage their own; the service account anyone's (user_id required)."""
    actor = current_actor()
    if not user_id:
        if not actor.is_user:
            raise InvalidArgument("user_id is required when calling as the service account")
        user_id = actor.id
    user_id = parse_uuid(user_id, "user_id")
    if actor.is_user and user_id != actor.id:
        raise PermissionDenied("you can only manage your own personal access tokens")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def _user_message(session: AsyncSession, user: User) -> users_pb2.User:
    emails = await session.scalars(
        select(UserEmail).where(UserEmail.user_id == user.id).order_by(UserEmail.email)
    )
    return users_pb2.User(
        user_id=user.id,
        username=user.username,
        emails=[users_pb2.UserEmail(email=e.email, verified=e.verified) for e in emails],
        created_at=_timestamp(user.created_at),
        updated_at=_timestamp(user.updated_at),
    )


def _token_message(token: PersonalAccessToken) -> users_pb2.PersonalAccessToken:
    return users_pb2.PersonalAccessToken(
        token_id=token.id,
        name=token.name,
        scopes=[str(s) for s in token.scopes or []],
        expires_at=_timestamp(token.expires_at),
        last_used=_timestamp(token.last_used),
        created_at=_timestamp(token.created_at),
    )


# ---- organisations -------------------------------------------------------------------------


class OrganisationService(organisations_pb2_grpc.OrganisationServiceServicer):
    def __init__(self, ctx: ServiceContext):
        self._db = ctx.db

    @rpc
    async def CreateOrganisation(
        self,
        request: organisations_pb2.CreateOrganisationRequest,
        context: grpc.aio.ServicerContext,
    ) -> organisations_pb2.CreateOrganisationResponse:
        if not ORG_NAME.match(request.name):
            raise InvalidArgument(
                f"organisation name {request.name!r} must be 1-63 lowercase letters, digits, "
                "'-' or '_', starting with a letter or digit"
            )
        actor = current_actor()
        async with self._db.transaction() as uow:
            try:
                org = await create_organisation(uow, request.name)
            except IntegrityError:  # created concurrently
                raise AlreadyExists(f"organisation {request.name!r} already exists") from None
            if actor.is_user:
                creator = await uow.session.get(User, actor.id)
                assert creator is not None
                await add_member(uow, org, creator, "admin")
            return organisations_pb2.CreateOrganisationResponse(organisation_id=org.id)

    @rpc
    async def GetOrganisation(
        self,
        request: organisations_pb2.GetOrganisationRequest,
        context: grpc.aio.ServicerContext,
    ) -> organisations_pb2.GetOrganisationResponse:
        which = request.WhichOneof("identifier")
        async with self._db.read() as session:
            if which == "organisation_id":
                org = await _organisation(session, request.organisation_id)
            elif which == "name" and request.name:
                org = await organisation_by_name(session, request.name)
            else:
                raise InvalidArgument("give one of organisation_id or name")
            await require_member(session, current_actor(), org)
            return organisations_pb2.GetOrganisationResponse(organisation=_org_message(org))

    @rpc
    async def ListMyOrganisations(
        self,
        request: organisations_pb2.ListMyOrganisationsRequest,
        context: grpc.aio.ServicerContext,
    ) -> organisations_pb2.ListMyOrganisationsResponse:
        actor = current_actor()
        if not actor.is_user:
            raise PermissionDenied(
                "the service account belongs to no organisation: call with a user's token"
            )
        if request.role and request.role not in ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {request.role!r}")
        query = (
            select(Organisation, OrganisationMember.role)
            .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
            .where(OrganisationMember.user_id == actor.id)
            .order_by(Organisation.name)
        )
        if request.role:
            query = query.where(OrganisationMember.role == request.role)
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return organisations_pb2.ListMyOrganisationsResponse(
            organisations=[_org_message(org) for org, _ in rows], roles=[role for _, role in rows]
        )

    @rpc
    async def ListMembers(
        self,
        request: organisations_pb2.ListMembersRequest,
        context: grpc.aio.ServicerContext,
    ) -> organisations_pb2.ListMembersResponse:
        """Members by username, `page_size` at a time (default 50, at most 500)."""
        if request.page_size < 0:
            raise InvalidArgument(f"page_size must be >= 0, got {request.page_size}")
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = _decode_page_token(request.page_token)
        async with self._db.read() as session:
            org = await _organisation(session, request.organisation_id)
            await require_member(session, current_actor(), org)
            total = await session.scalar(
                select(func.count())
                .select_from(OrganisationMember)
                .where(OrganisationMember.organisation_id == org.id)
            )
            query = (
                select(OrganisationMember, User.username)
                .join(User, User.id == OrganisationMember.user_id)
                .where(OrganisationMember.organisation_id == org.id)
                .order_by(User.username)
                .limit(size + 1)
            )
            if after is not None:
                query = query.where(User.username > after)
            rows = (await session.execute(query)).all()
        page = rows[:size]
        return organisations_pb2.ListMembersResponse(
            members=[_member_message(m, username) for m, username in page],
            next_page_token=_encode_page_token(page[-1][1]) if len(rows) > size else "",
            total_count=total or 0,
        )

    @rpc
    async def AddMember(
        self, request: organisations_pb2.AddMemberRequest, context: grpc.aio.ServicerContext
    ) -> organisations_pb2.AddMemberResponse:
        role = _role(request.role)
        async with self._db.transaction() as uow:
            org = await self._admin_org(uow.session, request.organisation_id)
            user = await _user(uow.session, request.user_id)
            user_id, username = user.id, user.username
            taken = f"{username} is already a member of {org.name}"
            if await _membership(uow.session, org, user_id) is not None:
                raise AlreadyExists(taken)
            try:
                member = await add_member(uow, org, user, role)
            except IntegrityError:  # added concurrently
                raise AlreadyExists(taken) from None
            _member_event(uow, org, "added", user_id, role)
            return organisations_pb2.AddMemberResponse(member=_member_message(member, username))

    @rpc
    async def RemoveMember(
        self, request: organisations_pb2.RemoveMemberRequest, context: grpc.aio.ServicerContext
    ) -> organisations_pb2.RemoveMemberResponse:
        async with self._db.transaction() as uow:
            org = await self._admin_org(uow.session, request.organisation_id)
            member = await _require_membership(uow.session, org, request.user_id)
            if member.role == "admin":
                await _keep_an_admin(uow.session, org, "remove")
            await uow.session.delete(member)
            _member_event(uow, org, "removed", member.user_id, member.role)
            return organisations_pb2.RemoveMemberResponse()

    @rpc
    async def UpdateMemberRole(
        self,
        request: organisations_pb2.UpdateMemberRoleRequest,
        context: grpc.aio.ServicerContext,
    ) -> organisations_pb2.UpdateMemberRoleResponse:
        role = _role(request.role)
        async with self._db.transaction() as uow:
            org = await self._admin_org(uow.session, request.organisation_id)
            member = await _require_membership(uow.session, org, request.user_id)
            if member.role == "admin" and role != "admin":
                await _keep_an_admin(uow.session, org, "demote")
            member.role = role
            await uow.session.flush()
            _member_event(uow, org, "role_changed", member.user_id, role)
            username = await uow.session.scalar(
                select(User.username).where(User.id == member.user_id)
            )
            return organisations_pb2.UpdateMemberRoleResponse(
                member=_member_message(member, username or "")
            )

    async def _admin_org(self, session: AsyncSession, organisation_id: str) -> Organisation:
        org = await _organisation(session, organisation_id)
        await require_member(session, current_actor(), org, admin=True)
        return org


async def _organisation(session: AsyncSession, organisation_id: str) -> Organisation:
    org = await session.get(Organisation, parse_uuid(organisation_id, "organisation_id"))
    if org is None:
        raise NotFound(f"organisation {organisation_id} does not exist")
    return org


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, parse_uuid(user_id, "user_id"))
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def _membership(
    session: AsyncSession, org: Organisation, user_id: str
) -> OrganisationMember | None:
    return await session.get(OrganisationMember, (org.id, user_id))


async def _require_membership(
    session: AsyncSession, org: Organisation, user_id: str
) -> OrganisationMember:
    member = await _membership(session, org, parse_uuid(user_id, "user_id"))
    if member is None:
        raise NotFound(f"user {user_id} is not a member of {org.name}")
    return member


async def _keep_an_admin(session: AsyncSession, org: Organisation, verb: str) -> None:
    """Refuse to leave the organisation without an admin (admin rows locked on PostgreSQL)."""
    admins = (
        await session.scalars(
            select(OrganisationMember.user_id)
            .where(OrganisationMember.organisation_id == org.id, OrganisationMember.role == "admin")
            .with_for_update()
        )
    ).all()
    if len(admins) <= 1:
        raise FailedPrecondition(
            f"cannot {verb} the last admin of {org.name}: make someone else admin first"
        )


def _role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _member_event(uow: UnitOfWork, org: Organisation, action: str, user_id: str, role: str) -> None:
    uow.record_event(
        org.name, "member", action, user_id, metadata={"user_id": user_id, "role": role}
    )


def _org_message(org: Organisation) -> organisations_pb2.Organisation:
    return organisations_pb2.Organisation(
        organisation_id=org.id, name=org.name, created_at=_timestamp(org.created_at)
    )


def _member_message(
    member: OrganisationMember, username: str
) -> organisations_pb2.OrganisationMember:
    return organisations_pb2.OrganisationMember(
        user_id=member.user_id,
        username=username,
        role=member.role,
        joined_at=_timestamp(member.joined_at),
    )


PAGE_TOKEN_PREFIX = "after:"


def _encode_page_token(username: str) -> str:
    """Opaque to callers: the last username of the page (members are listed by username)."""
    return base64.urlsafe_b64encode((PAGE_TOKEN_PREFIX + username).encode()).decode()


def _decode_page_token(token: str) -> str | None:
    if not token:
        return None
    try:
        text = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(PAGE_TOKEN_PREFIX):
        raise InvalidArgument(f"page_token {token!r} is not one this service gave out")
    return text.removeprefix(PAGE_TOKEN_PREFIX)
