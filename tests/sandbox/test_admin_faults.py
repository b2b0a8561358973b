"""What a workspace admin can do to the app, answered the way Slack answers it: an archived
channel (is_archived; chat.update's is_inactive), the bot removed from a private channel
(channel_not_found), a revoked bot token (token_revoked) and a rotated one (invalid_auth)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox


async def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    return str(raised.value.response["error"])


async def test_an_archived_channel_takes_no_post_and_no_edit(
    sandbox: Sandbox, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="deploys", text="before")
    channel = sandbox.workspace.archive_channel("deploys")

    assert (
        await error_of(client.chat_postMessage(channel=channel.id, text="after")) == "is_archived"
    )
    update = client.chat_update(channel=channel.id, ts=posted["ts"], text="edited")
    assert await error_of(update) == "is_inactive"
    alice = sandbox.workspace.user("alice")
    assert alice is not None
    ephemeral = client.chat_postEphemeral(channel=channel.id, user=alice.id, text="psst")
    assert await error_of(ephemeral) == "is_archived"
    assert (await client.conversations_info(channel=channel.id))["channel"]["is_archived"]


async def test_a_private_channel_the_bot_left_is_not_found(
    sandbox: Sandbox, client: AsyncWebClient
) -> None:
    ws = sandbox.workspace
    ops = ws.add_channel("ops", members=["U0ALICE001", ws.app.bot_user_id], is_private=True)
    posted = await client.chat_postMessage(channel=ops.id, text="hello")
    ws.remove_member("ops", ws.app.bot_user_id)

    assert await error_of(client.chat_postMessage(channel=ops.id, text="again")) == (
        "channel_not_found"
    )
    update = client.chat_update(channel=ops.id, ts=posted["ts"], text="edited")
    assert await error_of(update) == "channel_not_found"


async def test_a_rotated_token_is_unknown_and_a_revoked_one_refused_everywhere(
    sandbox: Sandbox, client: AsyncWebClient
) -> None:
    ws = sandbox.workspace
    ws.rotate_bot_token()
    assert await error_of(client.auth_test()) == "invalid_auth"  # the old token: unknown now
    current = sandbox.client()
    assert (await current.auth_test())["ok"]

    ws.revoke_bot_token()
    assert await error_of(current.auth_test()) == "token_revoked"
    assert await error_of(current.chat_postMessage(channel="deploys", text="x")) == "token_revoked"
    assert ("auth.test", "token_revoked") in sandbox.web_api.answers
