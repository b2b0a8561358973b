"""Linking a Slack user to a Forest account the way a real Forest allows (username + personal
access token, checked with GetUser and ListPersonalAccessTokens): refusals are shown in the modal
and store nothing; the stored token is encrypted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from blocks import ids
from bot.devsystem import DevSystem
from forestd.db.models import User
from forestd.provisioning import create_token
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, last_ephemeral, release_message
from .test_story import WAIT


async def _expired_token(system: DevSystem, username: str) -> str:
    assert system.forest is not None and system.forest.ctx is not None
    async with system.forest.ctx.db.transaction() as uow:
        user = await uow.session.scalar(select(User).where(User.username == username))
        assert user is not None
        _, raw = await create_token(uow, user, "expired", expires_in=timedelta(seconds=-1))
    return raw


async def test_login_refuses_wrong_pairs_and_stores_only_ciphertext(
    tmp_path: Path, nats_url: str, compat: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, compat=compat)) as system:
        assert system.sandbox is not None and system.bot is not None
        ws, driver, store = system.sandbox.workspace, system.sandbox.driver, system.bot.ctx.store
        bob = ws.user("bob")
        assert bob is not None
        team = ws.app.team_id

        await driver.command("bob", "logout")
        await eventually(lambda: "unlinked" in last_ephemeral(ws, "bob"), WAIT)
        assert await store.user_link(team, bob.id) is None

        await driver.command("bob", "login")
        await eventually(lambda: ws.top_view(bob.id) is not None, WAIT)
        view = ws.top_view(bob.id)
        assert view is not None

        refusals = {
            "wrong token": ("bob", "0" * 64),
            "another user's token": ("bob", system.users["alice"].token),
            "expired token": ("bob", await _expired_token(system, "bob")),
            "unknown user": ("mallory", system.users["bob"].token),
        }
        for case, (username, token) in refusals.items():
            result = await driver.submit_view(
                "bob", view.id, {ids.USERNAME_INPUT: username, ids.TOKEN_INPUT: token}
            )
            assert result.response_action == "errors", case
            assert result.errors, case
            assert await store.user_link(team, bob.id) is None, case

        token = system.users["bob"].token
        result = await driver.submit_view(
            "bob", view.id, {ids.USERNAME_INPUT: "bob", ids.TOKEN_INPUT: token}
        )
        assert result.response_action == "update"
        link = await store.user_link(team, bob.id)
        assert link is not None and link.username == "bob"

        database = (system.options.state_dir / "forest-bot.db").read_bytes()
        assert token.encode() not in database

        await driver.command("bob", "whoami")
        await eventually(lambda: "linked to Forest user" in last_ephemeral(ws, "bob"), WAIT)


async def test_an_unlinked_voter_is_asked_to_link_first(tmp_path: Path, nats_url: str) -> None:
    async with DevSystem(options(tmp_path, nats_url)) as system:
        assert system.sandbox is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        await system.release("bob")
        await eventually(lambda: ids.ACTION_PLAN_VIEW in buttons(release_message(ws)), WAIT)
        await driver.command("carol", "logout")
        await eventually(lambda: "unlinked" in last_ephemeral(ws, "carol"), WAIT)
        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_PLAN_VIEW)
        await eventually(lambda: "plan" in last_ephemeral(ws, "carol").lower(), WAIT)
        await driver.click("carol", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: ids.ACTION_LINK_ACCOUNT in last_ephemeral(ws, "carol"), WAIT)
