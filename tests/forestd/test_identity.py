"""UsersService and OrganisationService through real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import select

from forest.v1 import organisations_pb2, organisations_pb2_grpc, users_pb2, users_pb2_grpc
from forestd.auth import SERVICE_ACCOUNT_ID
from forestd.db.models import OrgEvent, UserEmail
from forestd.uow import Database

from .factories import World, provision

Metadata = tuple[tuple[str, str], ...]
NO_SUCH_ID = "6f1c1e1e-0000-4000-8000-000000000000"


@pytest.fixture
def orgs(channel: grpc.aio.Channel) -> organisations_pb2_grpc.OrganisationServiceStub:
    return organisations_pb2_grpc.OrganisationServiceStub(channel)


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value


# ---- users -----------------------------------------------------------------------------


async def test_get_user_by_id_username_and_verified_email(
    users: users_pb2_grpc.UsersServiceStub, world: World, db: Database
) -> None:
    bob = world.user_id("bob")
    for request in (
        users_pb2.GetUserRequest(user_id=bob),
        users_pb2.GetUserRequest(username="bob"),
        users_pb2.GetUserRequest(email="bob@acme.example"),
    ):
        user = (await users.GetUser(request, metadata=world.auth("alice"))).user
        assert (user.user_id, user.username) == (bob, "bob")
        assert [(e.email, e.verified) for e in user.emails] == [("bob@acme.example", True)]
        assert user.created_at.seconds > 0
    # Exact match only; an unverified address identifies nobody.
    for email in ("BOB@acme.example", "bob@acme"):
        error = await refused(
            users.GetUser(users_pb2.GetUserRequest(email=email), metadata=world.auth("alice"))
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
    async with db.transaction() as uow:
        uow.session.add(UserEmail(user_id=bob, email="bob@unverified.example", verified=False))
    error = await refused(
        users.GetUser(
            users_pb2.GetUserRequest(email="bob@unverified.example"), metadata=world.auth("alice")
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "verified email" in (error.details() or "")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (users_pb2.GetUserRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (users_pb2.GetUserRequest(username=""), grpc.StatusCode.INVALID_ARGUMENT),
        (users_pb2.GetUserRequest(user_id="bob"), grpc.StatusCode.INVALID_ARGUMENT),
        (users_pb2.GetUserRequest(user_id=NO_SUCH_ID), grpc.StatusCode.NOT_FOUND),
        (users_pb2.GetUserRequest(username="nobody"), grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_get_user_refusals(
    users: users_pb2_grpc.UsersServiceStub,
    world: World,
    request_: users_pb2.GetUserRequest,
    code: grpc.StatusCode,
) -> None:
    error = await refused(users.GetUser(request_, metadata=world.auth("alice")))
    assert error.code() == code


async def test_token_info_and_token_lifecycle(
    users: users_pb2_grpc.UsersServiceStub, world: World, as_service: Callable[[], Metadata]
) -> None:
    info = await users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=world.auth("carol"))
    assert (info.user_id, info.expires_at) == (world.user_id("carol"), 0)
    info = await users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=as_service())
    assert (info.user_id, info.expires_at) == (SERVICE_ACCOUNT_ID, 0)

    created = await users.CreatePersonalAccessToken(
        users_pb2.CreatePersonalAccessTokenRequest(
            name="slack", scopes=["read"], expires_in_seconds=3600
        ),
        metadata=world.auth("carol"),
    )
    assert created.raw_token.startswith("fpat_") and created.token.name == "slack"
    info = await users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=bearer(created.raw_token))
    assert info.user_id == world.user_id("carol")
    assert abs(info.expires_at - (time.time() + 3600)) < 60

    listed = await users.ListPersonalAccessTokens(
        users_pb2.ListPersonalAccessTokensRequest(), metadata=world.auth("carol")
    )
    assert [t.name for t in listed.tokens] == ["default", "slack"]
    assert listed.tokens[1].expires_at.seconds == info.expires_at
    assert not listed.tokens[1].HasField("last_used") or listed.tokens[1].last_used.seconds > 0

    # Bob can neither see nor delete carol's token; the service account can do both.
    error = await refused(
        users.DeletePersonalAccessToken(
            users_pb2.DeletePersonalAccessTokenRequest(token_id=created.token.token_id),
            metadata=world.auth("bob"),
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await refused(
        users.ListPersonalAccessTokens(
            users_pb2.ListPersonalAccessTokensRequest(user_id=world.user_id("carol")),
            metadata=world.auth("bob"),
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = await users.ListPersonalAccessTokens(
        users_pb2.ListPersonalAccessTokensRequest(user_id=world.user_id("carol")),
        metadata=as_service(),
    )
    assert len(listed.tokens) == 2
    await users.DeletePersonalAccessToken(
        users_pb2.DeletePersonalAccessTokenRequest(token_id=created.token.token_id),
        metadata=world.auth("carol"),
    )
    error = await refused(
        users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=bearer(created.raw_token))
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_token_requests_are_validated(
    users: users_pb2_grpc.UsersServiceStub, world: World, as_service: Callable[[], Metadata]
) -> None:
    cases = [
        (
            users.CreatePersonalAccessToken(
                users_pb2.CreatePersonalAccessTokenRequest(name=""), metadata=world.auth("bob")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            users.CreatePersonalAccessToken(
                users_pb2.CreatePersonalAccessTokenRequest(name="x", expires_in_seconds=-1),
                metadata=world.auth("bob"),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            users.CreatePersonalAccessToken(
                users_pb2.CreatePersonalAccessTokenRequest(
                    name="x", user_id=world.user_id("alice")
                ),
                metadata=world.auth("bob"),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        (
            users.CreatePersonalAccessToken(
                users_pb2.CreatePersonalAccessTokenRequest(name="x"), metadata=as_service()
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            users.CreatePersonalAccessToken(
                users_pb2.CreatePersonalAccessTokenRequest(name="x", user_id=NO_SUCH_ID),
                metadata=as_service(),
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            users.DeletePersonalAccessToken(
                users_pb2.DeletePersonalAccessTokenRequest(token_id="nope"),
                metadata=world.auth("bob"),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for call, code in cases:
        assert (await refused(call)).code() == code
    # The service account mints a token for bob, which then works as bob.
    minted = await users.CreatePersonalAccessToken(
        users_pb2.CreatePersonalAccessTokenRequest(name="bot", user_id=world.user_id("bob")),
        metadata=as_service(),
    )
    info = await users.TokenInfo(users_pb2.TokenInfoRequest(), metadata=bearer(minted.raw_token))
    assert info.user_id == world.user_id("bob")


async def test_device_login_is_not_served(
    users: users_pb2_grpc.UsersServiceStub, world: World
) -> None:
    error = await refused(
        users.InitiateDeviceLogin(
            users_pb2.InitiateDeviceLoginRequest(), metadata=world.auth("bob")
        )
    )
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED


# ---- organisations ------------------------------------------------------------------------


async def test_the_creator_of_an_organisation_is_its_admin(
    orgs: organisations_pb2_grpc.OrganisationServiceStub, world: World
) -> None:
    created = await orgs.CreateOrganisation(
        organisations_pb2.CreateOrganisationRequest(name="initech"), metadata=world.auth("carol")
    )
    mine = await orgs.ListMyOrganisations(
        organisations_pb2.ListMyOrganisationsRequest(), metadata=world.auth("carol")
    )
    assert [(o.name, r) for o, r in zip(mine.organisations, mine.roles, strict=True)] == [
        ("acme", "member"),
        ("initech", "admin"),
    ]
    admin_only = await orgs.ListMyOrganisations(
        organisations_pb2.ListMyOrganisationsRequest(role="admin"), metadata=world.auth("carol")
    )
    assert [o.organisation_id for o in admin_only.organisations] == [created.organisation_id]
    for name in ("", "Acme Corp", "a.b", "x" * 64):
        error = await refused(
            orgs.CreateOrganisation(
                organisations_pb2.CreateOrganisationRequest(name=name), metadata=world.auth("carol")
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = await refused(
        orgs.CreateOrganisation(
            organisations_pb2.CreateOrganisationRequest(name="acme"), metadata=world.auth("carol")
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_get_organisation_needs_membership_or_the_service_account(
    orgs: organisations_pb2_grpc.OrganisationServiceStub,
    world: World,
    db: Database,
    as_service: Callable[[], Metadata],
) -> None:
    for metadata in (world.auth("bob"), as_service()):
        for request in (
            organisations_pb2.GetOrganisationRequest(name="acme"),
            organisations_pb2.GetOrganisationRequest(organisation_id=world.org_id),
        ):
            org = (await orgs.GetOrganisation(request, metadata=metadata)).organisation
            assert (org.organisation_id, org.name) == (world.org_id, "acme")
    outsider = await provision(db, org="globex", members={"mallory": "admin"})
    cases = [
        (organisations_pb2.GetOrganisationRequest(name="acme"), grpc.StatusCode.PERMISSION_DENIED),
        (organisations_pb2.GetOrganisationRequest(name="nope"), grpc.StatusCode.NOT_FOUND),
        (organisations_pb2.GetOrganisationRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (
            organisations_pb2.GetOrganisationRequest(organisation_id="acme"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for request, code in cases:
        error = await refused(orgs.GetOrganisation(request, metadata=outsider.auth("mallory")))
        assert error.code() == code
    error = await refused(
        orgs.ListMyOrganisations(
            organisations_pb2.ListMyOrganisationsRequest(), metadata=as_service()
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_list_members_pages_through_everyone(
    orgs: organisations_pb2_grpc.OrganisationServiceStub,
    db: Database,
    as_service: Callable[[], Metadata],
) -> None:
    people = {f"user{i:02d}": "member" for i in range(7)} | {"alice": "admin"}
    world = await provision(db, members=people)
    seen: list[tuple[str, str]] = []
    token = ""
    pages = 0
    while True:
        page = await orgs.ListMembers(
            organisations_pb2.ListMembersRequest(
                organisation_id=world.org_id, page_size=3, page_token=token
            ),
            metadata=world.auth("user03"),
        )
        assert page.total_count == 8 and len(page.members) <= 3
        seen += [(m.username, m.role) for m in page.members]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == sorted(people.items())
    everyone = await orgs.ListMembers(
        organisations_pb2.ListMembersRequest(organisation_id=world.org_id), metadata=as_service()
    )
    assert len(everyone.members) == 8 and everyone.next_page_token == ""
    assert everyone.members[0].user_id == world.user_id("alice")
    for request in (
        organisations_pb2.ListMembersRequest(organisation_id=world.org_id, page_token="!!"),
        organisations_pb2.ListMembersRequest(organisation_id=world.org_id, page_size=-1),
        organisations_pb2.ListMembersRequest(organisation_id="acme"),
    ):
        error = await refused(orgs.ListMembers(request, metadata=world.auth("alice")))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_membership_changes_are_admin_only_and_keep_an_admin(
    orgs: organisations_pb2_grpc.OrganisationServiceStub, db: Database
) -> None:
    world = await provision(db, members={"alice": "admin", "bob": "member"})
    newcomer = await provision(db, org="other", members={"dave": "admin"})
    dave = newcomer.user_id("dave")
    add = organisations_pb2.AddMemberRequest(
        organisation_id=world.org_id, user_id=dave, role="member"
    )
    error = await refused(orgs.AddMember(add, metadata=world.auth("bob")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "admin" in (error.details() or "")
    member = (await orgs.AddMember(add, metadata=world.auth("alice"))).member
    assert (member.username, member.role) == ("dave", "member")
    assert (await refused(orgs.AddMember(add, metadata=world.auth("alice")))).code() == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    for bad in (
        organisations_pb2.AddMemberRequest(
            organisation_id=world.org_id, user_id=dave, role="owner"
        ),
        organisations_pb2.AddMemberRequest(
            organisation_id=world.org_id, user_id="dave", role="member"
        ),
    ):
        error = await refused(orgs.AddMember(bad, metadata=world.auth("alice")))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

    promoted = await orgs.UpdateMemberRole(
        organisations_pb2.UpdateMemberRoleRequest(
            organisation_id=world.org_id, user_id=dave, role="admin"
        ),
        metadata=world.auth("alice"),
    )
    assert promoted.member.role == "admin"
    await orgs.RemoveMember(
        organisations_pb2.RemoveMemberRequest(organisation_id=world.org_id, user_id=dave),
        metadata=world.auth("alice"),
    )
    # Alice is the last admin now: she can neither leave nor step down.
    alice = world.user_id("alice")
    for call in (
        orgs.RemoveMember(
            organisations_pb2.RemoveMemberRequest(organisation_id=world.org_id, user_id=alice),
            metadata=world.auth("alice"),
        ),
        orgs.UpdateMemberRole(
            organisations_pb2.UpdateMemberRoleRequest(
                organisation_id=world.org_id, user_id=alice, role="member"
            ),
            metadata=world.auth("alice"),
        ),
    ):
        error = await refused(call)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "last admin of acme" in (error.details() or "")
    error = await refused(
        orgs.RemoveMember(
            organisations_pb2.RemoveMemberRequest(organisation_id=world.org_id, user_id=dave),
            metadata=world.auth("alice"),
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    async with db.read() as session:
        events = await session.scalars(
            select(OrgEvent).where(OrgEvent.resource_type == "member").order_by(OrgEvent.sequence)
        )
        assert [(e.action, e.event_metadata["role"]) for e in events] == [
            ("added", "member"),
            ("role_changed", "admin"),
            ("removed", "admin"),
        ]


async def test_concurrent_duplicates_are_already_exists_not_internal(
    orgs: organisations_pb2_grpc.OrganisationServiceStub, db: Database
) -> None:
    world = await provision(db, members={"alice": "admin"})
    newcomer = await provision(db, org="other", members={"dave": "admin"})
    add = organisations_pb2.AddMemberRequest(
        organisation_id=world.org_id, user_id=newcomer.user_id("dave"), role="member"
    )
    create = organisations_pb2.CreateOrganisationRequest(name="initech")
    for results in (
        await asyncio.gather(
            *(orgs.AddMember(add, metadata=world.auth("alice")) for _ in range(5)),
            return_exceptions=True,
        ),
        await asyncio.gather(
            *(orgs.CreateOrganisation(create, metadata=world.auth("alice")) for _ in range(5)),
            return_exceptions=True,
        ),
    ):
        refusals = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(refusals) == 4
        assert {r.code() for r in refusals} == {grpc.StatusCode.ALREADY_EXISTS}
