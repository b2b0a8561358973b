"""Provisioned users authenticate with their token; unknown and expired tokens do not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from forestd.auth import SERVICE_ACCOUNT, TokenResolver
from forestd.errors import AlreadyExists
from forestd.provisioning import add_member, create_organisation, create_token, create_user
from forestd.server import ForestServer

from .conftest import SERVICE_TOKEN


async def test_tokens_resolve_to_their_user_until_they_expire(forest_server: ForestServer) -> None:
    assert forest_server.ctx is not None
    db = forest_server.ctx.db
    async with db.transaction() as uow:
        org = await create_organisation(uow, "acme")
        alice = await create_user(uow, "alice", "alice@example.com")
        await add_member(uow, org, alice, "admin")
        _, good = await create_token(uow, alice)
        _, expired = await create_token(uow, alice, "old", expires_in=timedelta(seconds=-1))
    resolver = TokenResolver(db, SERVICE_TOKEN)
    actor = await resolver.resolve(good)
    assert actor is not None and actor.id == alice.id and actor.username == "alice"
    assert await resolver.resolve(expired) is None
    assert await resolver.resolve("fpat_not-a-token") is None
    assert await resolver.resolve(SERVICE_TOKEN) == SERVICE_ACCOUNT


async def test_duplicate_organisation_is_refused(forest_server: ForestServer) -> None:
    assert forest_server.ctx is not None
    async with forest_server.ctx.db.transaction() as uow:
        await create_organisation(uow, "acme")
    with pytest.raises(AlreadyExists):
        async with forest_server.ctx.db.transaction() as uow:
            await create_organisation(uow, "acme")
