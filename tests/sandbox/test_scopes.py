"""The sandbox grants the bot its manifest's scopes and refuses calls outside them, like Slack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from sandbox.scopes import DEFAULT_MANIFEST, METHOD_SCOPES, manifest_bot_scopes
from sandbox.server import Sandbox
from sandbox.state import Workspace
from sandbox.webapi import METHODS
from tests.sandbox.conftest import SIGNING_SECRET, eventually, serve_bolt

MANIFEST_SCOPES = manifest_bot_scopes()


async def error_of(call: object) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as exc:
        await call  # type: ignore[misc]
    assert exc.value.response.status_code == 200, "Slack answers missing_scope with HTTP 200"
    return dict(exc.value.response.data)  # type: ignore[arg-type]


def test_the_default_grant_is_the_repository_manifest() -> None:
    assert "chat:write" in MANIFEST_SCOPES and "channels:join" in MANIFEST_SCOPES
    assert Sandbox().scopes.scopes == MANIFEST_SCOPES


async def test_a_method_outside_the_manifest_is_missing_scope() -> None:
    assert "channels:history" not in MANIFEST_SCOPES
    async with Sandbox() as sandbox:
        client = sandbox.client()
        posted = await client.chat_postMessage(channel="deploys", text="release")
        error = await error_of(client.conversations_history(channel=posted["channel"]))
        assert error == {"ok": False, "error": "missing_scope", "needed": "channels:history",
                         "provided": ",".join(MANIFEST_SCOPES)}
        error = await error_of(client.files_info(file="F0NOPE"))
        assert (error["error"], error["needed"]) == ("missing_scope", "files:read")
        assert [name for name, _ in sandbox.web_api.calls] == ["chat.postMessage"]


async def test_each_call_needs_exactly_its_own_scope() -> None:
    async with Sandbox(scopes=["chat:write"]) as sandbox:
        client = sandbox.client()
        assert (await client.chat_postMessage(channel="deploys", text="ok"))["ok"]
        error = await error_of(client.users_info(user="U0BOB00001"))
        assert (error["needed"], error["provided"]) == ("users:read", "chat:write")
        error = await error_of(client.users_lookupByEmail(email="bob@example.com"))
        assert error["needed"] == "users:read.email"
        error = await error_of(client.files_getUploadURLExternal(filename="a.txt", length=1))
        assert error["needed"] == "files:write"
        general = sandbox.workspace.channel("general")
        assert general is not None
        error = await error_of(client.conversations_join(channel=general.id))
        assert error["needed"] == "channels:join"
        assert general.members.count(sandbox.workspace.app.bot_user_id) == 0
        error = await error_of(client.conversations_open(users="U0CAROL001"))
        assert error["needed"] == "im:write"
        assert not any(c.is_im for c in sandbox.workspace.channels.values()), "no DM was opened"
        # No scope at all: auth.test, chat.getPermalink, views.*
        link = await client.chat_getPermalink(channel="deploys",
                                              message_ts=sandbox.workspace.last_message(
                                                  "deploys").ts)  # type: ignore[union-attr]
        assert link["ok"]
        home = await client.views_publish(user_id="U0BOB00001",
                                          view={"type": "home", "blocks": [{"type": "divider"}]})
        assert home["ok"]


async def test_conversations_need_the_scope_of_their_type() -> None:
    async with Sandbox(scopes=["chat:write", "channels:read", "channels:history"]) as sandbox:
        client = sandbox.client()
        ws = sandbox.workspace
        secret = ws.add_channel("secret", members=["U0BOB00001", ws.app.bot_user_id],
                                is_private=True)
        assert (await client.conversations_history(channel="deploys"))["ok"]
        error = await error_of(client.conversations_history(channel=secret.id))
        assert (error["needed"], error["provided"]) == (
            "groups:history", "chat:write,channels:read,channels:history")
        error = await error_of(client.conversations_info(channel=secret.id))
        assert error["needed"] == "groups:read"
        posted = await client.chat_postMessage(channel="U0ALICE001", text="hello")
        error = await error_of(client.conversations_replies(channel=posted["channel"],
                                                            ts=posted["ts"]))
        assert error["needed"] == "im:history"
        # An unknown channel is still channel_not_found, whatever the scopes.
        assert (await error_of(client.conversations_info(channel="C0NOPE")))["error"] == (
            "channel_not_found")


async def test_chat_write_public_decides_posting_into_channels_the_bot_is_not_in() -> None:
    async with Sandbox(scopes=["chat:write", "channels:join"]) as sandbox:
        client = sandbox.client()
        error = await error_of(client.chat_postMessage(channel="general", text="hi"))
        assert error["error"] == "not_in_channel"
        error = await error_of(client.chat_postEphemeral(channel="general", user="U0BOB00001",
                                                         text="hi"))
        assert error["error"] == "not_in_channel"
        await client.conversations_join(channel="general")
        assert (await client.chat_postMessage(channel="general", text="hi"))["ok"]
    async with Sandbox(scopes=["chat:write", "chat:write.public"]) as sandbox:
        client = sandbox.client()
        assert (await client.chat_postMessage(channel="general", text="hi"))["ok"]
        ws = sandbox.workspace
        private = ws.add_channel("secret", members=["U0BOB00001"], is_private=True)
        error = await error_of(client.chat_postMessage(channel=private.id, text="hi"))
        assert error["error"] == "channel_not_found"


async def test_every_answer_carries_the_granted_scopes_header() -> None:
    async with Sandbox() as sandbox, aiohttp.ClientSession() as http:
        token = {"Authorization": f"Bearer {sandbox.workspace.app.bot_token}"}
        for name in sorted(METHODS):
            async with http.post(sandbox.api_url + name, headers=token, data={}) as response:
                assert response.status == 200, name
                assert response.headers["x-oauth-scopes"] == ",".join(MANIFEST_SCOPES), name
                accepted = response.headers["x-accepted-oauth-scopes"]
                assert accepted == ",".join(METHOD_SCOPES[name].accepted()), name
        async with http.post(sandbox.api_url + "auth.test",
                             headers={"Authorization": "Bearer xoxb-wrong"}) as response:
            assert (await response.json())["error"] == "invalid_auth"
            assert "x-oauth-scopes" not in response.headers, "no scopes for an unknown token"
        app_token = {"Authorization": f"Bearer {sandbox.workspace.app.app_token}"}
        async with http.post(sandbox.api_url + "apps.connections.open",
                             headers=app_token) as response:
            assert response.headers["x-oauth-scopes"] == "connections:write"


async def test_bolt_reads_the_bot_scopes_from_auth_test() -> None:
    async with Sandbox() as sandbox:
        answer = await sandbox.client().auth_test()
        assert answer.headers["x-oauth-scopes"] == ",".join(MANIFEST_SCOPES)

        app = AsyncApp(client=sandbox.client(), signing_secret=SIGNING_SECRET)
        seen: list[Any] = []

        @app.command("/forest")
        async def forest(ack: AsyncAck, context: AsyncBoltContext) -> None:
            await ack()
            seen.append(context.authorize_result.bot_scopes)  # type: ignore[union-attr]

        async with serve_bolt(app) as url:
            sandbox.driver.use_http(url, SIGNING_SECRET)
            assert (await sandbox.driver.command("alice", "whoami")).ok
            await eventually(lambda: bool(seen))
        assert list(seen[0]) == list(MANIFEST_SCOPES)


def test_manifest_scopes_are_read_from_the_given_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text("oauth_config:\n  scopes:\n    bot:\n      - chat:write\n"
                        "      - users:read\n")
    assert Sandbox(manifest=manifest).scopes.header == "chat:write,users:read"
    assert Sandbox(manifest=manifest, scopes=[]).scopes.header == ""
    manifest.write_text("display_information:\n  name: x\n")
    with pytest.raises(ValueError, match=r"oauth_config\.scopes\.bot"):
        Sandbox(manifest=manifest)
    with pytest.raises(FileNotFoundError):
        Sandbox(manifest=tmp_path / "absent.yml")
    assert DEFAULT_MANIFEST.name == "manifest.yml" and DEFAULT_MANIFEST.exists()


def test_every_method_has_a_scope_rule_before_it_can_be_registered() -> None:
    assert set(METHODS) <= set(METHOD_SCOPES)
    from sandbox.webapi import method

    with pytest.raises(LookupError, match="METHOD_SCOPES"):
        method("chat.scheduleMessage")


def test_a_workspace_saved_with_the_old_chat_write_public_flag_loads(tmp_path: Path) -> None:
    saved = Workspace().to_json()
    saved["app"]["chat_write_public"] = True
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(saved))
    assert Workspace.load(path).app.bot_token == "xoxb-sandbox-forest"
