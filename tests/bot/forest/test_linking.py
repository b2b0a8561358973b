"""verify_personal_token ties a pasted token to a username without TokenInfo (contract §8)."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from sqlalchemy import select

from bot.forest import ForestClient, ForestError, ForestUser
from forestd.db.models import User
from forestd.provisioning import create_token
from forestd.seed import DemoSeed
from forestd.server import ForestServer

from .conftest import SERVICE_TOKEN


async def refused(client: ForestClient, token: str, username: str) -> grpc.StatusCode:
    with pytest.raises(ForestError) as caught:
        await client.verify_personal_token(token, username)
    return caught.value.code


async def test_the_right_pair_gives_the_user(demo: DemoSeed, client: ForestClient) -> None:
    user = await client.verify_personal_token(demo.tokens["bob"], "bob")
    assert user == ForestUser(user_id=demo.user_ids["bob"], username="bob")


async def test_a_wrong_token_is_unauthenticated(demo: DemoSeed, client: ForestClient) -> None:
    assert await refused(client, "fpat_not-a-token", "bob") == grpc.StatusCode.UNAUTHENTICATED


async def test_someone_elses_token_is_permission_denied(
    demo: DemoSeed, client: ForestClient
) -> None:
    assert await refused(client, demo.tokens["alice"], "bob") == grpc.StatusCode.PERMISSION_DENIED


async def test_an_unknown_username_is_not_found(demo: DemoSeed, client: ForestClient) -> None:
    assert await refused(client, demo.tokens["bob"], "mallory") == grpc.StatusCode.NOT_FOUND


async def test_an_expired_token_is_unauthenticated(
    forestd: ForestServer, demo: DemoSeed, client: ForestClient
) -> None:
    assert forestd.ctx is not None
    async with forestd.ctx.db.transaction() as uow:
        bob = await uow.session.scalar(select(User).where(User.username == "bob"))
        assert bob is not None
        _, expired = await create_token(uow, bob, "expired", expires_in=timedelta(seconds=-1))
    assert await refused(client, expired, "bob") == grpc.StatusCode.UNAUTHENTICATED


async def test_the_service_token_proves_nobody(demo: DemoSeed, client: ForestClient) -> None:
    # Forest lets the service account list anyone's tokens: it must not link as anyone.
    assert await refused(client, SERVICE_TOKEN, "alice") == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("token", ["", "fpat_abc\n", "fpat abc", "fpat_ä"])
async def test_a_malformed_token_is_unauthenticated(
    demo: DemoSeed, client: ForestClient, token: str
) -> None:
    assert await refused(client, token, "bob") == grpc.StatusCode.UNAUTHENTICATED
