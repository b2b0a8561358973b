"""The sandbox answers slack_sdk's AsyncWebClient the way Slack does, method by method."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox

RELEASE_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "🚀 acme/api · release 3f2a9c1"}},
    {"type": "section", "block_id": "gate", "text": {"type": "mrkdwn", "text": "Approvals 1/2"}},
    {"type": "actions", "block_id": "acts", "elements": [
        {"type": "button", "action_id": "forest.approve.v1", "value": "intent-1",
         "text": {"type": "plain_text", "text": "Approve"}, "style": "primary"},
    ]},
]


async def error_of(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as exc:
        await call  # type: ignore[misc]
    return exc.value


async def deploys(client: AsyncWebClient) -> str:
    info = await client.conversations_info(channel="#deploys")
    return str(info["channel"]["id"])


# -- auth -------------------------------------------------------------------------------------


async def test_auth_test_names_the_bot(client: AsyncWebClient, sandbox: Sandbox) -> None:
    answer = await client.auth_test()
    app = sandbox.workspace.app
    assert answer["ok"] is True
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (
        app.bot_user_id, app.bot_id, app.team_id)


async def test_missing_and_wrong_tokens(sandbox: Sandbox) -> None:
    no_token = AsyncWebClient(base_url=sandbox.api_url)
    assert (await error_of(no_token.auth_test())).response["error"] == "not_authed"
    wrong = sandbox.client(token="xoxb-not-ours")
    assert (await error_of(wrong.auth_test())).response["error"] == "invalid_auth"
    app_token = sandbox.client(token=sandbox.workspace.app.app_token)
    error = await error_of(app_token.chat_postMessage(channel="#deploys", text="x"))
    assert error.response["error"] == "not_allowed_token_type"


async def test_form_bodies_and_token_argument_work_too(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"token": sandbox.workspace.app.bot_token, "channel": "deploys", "text": "form",
                "blocks": '[{"type":"divider"}]'}
        async with http.post(sandbox.api_url + "chat.postMessage", data=form) as response:
            body = await response.json()
        assert body["ok"] is True and body["message"]["blocks"][0]["type"] == "divider"
        async with http.post(sandbox.api_url + "no.suchMethod", data=form) as response:
            assert (await response.json())["error"] == "unknown_method"


# -- chat -------------------------------------------------------------------------------------


async def test_post_update_history_and_edit_history(
    client: AsyncWebClient, sandbox: Sandbox
) -> None:
    posted = await client.chat_postMessage(channel="#deploys", text="release",
                                           blocks=RELEASE_BLOCKS)
    channel, ts = posted["channel"], posted["ts"]
    assert posted["message"]["bot_id"] == sandbox.workspace.app.bot_id
    assert posted["message"]["blocks"][2]["elements"][0]["action_id"] == "forest.approve.v1"
    assert posted["message"]["blocks"][0]["block_id"], "Slack fills in missing block ids"

    updated = await client.chat_update(channel=channel, ts=ts, text="release v2",
                                       blocks=RELEASE_BLOCKS[:2])
    assert updated["ts"] == ts and updated["text"] == "release v2"
    history = await client.conversations_history(channel=channel)
    [message] = history["messages"]
    assert message["text"] == "release v2" and len(message["blocks"]) == 2
    assert message["edited"]["user"] == sandbox.workspace.app.bot_user_id
    stored = sandbox.workspace.message(channel, ts)
    assert stored is not None and [e.text for e in stored.edits] == ["release"]

    # text without blocks removes the old blocks, as on Slack
    await client.chat_update(channel=channel, ts=ts, text="plain now")
    [message] = (await client.conversations_history(channel=channel))["messages"]
    assert "blocks" not in message and message["text"] == "plain now"


async def test_threads_replies_and_history_pagination(client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="deploys", text="parent")
    reply = await client.chat_postMessage(channel="deploys", text="r1", thread_ts=parent["ts"])
    # replying to a reply lands in the parent's thread
    await client.chat_postMessage(channel="deploys", text="r2", thread_ts=reply["ts"])
    for i in range(3):
        await client.chat_postMessage(channel="deploys", text=f"later {i}")
    channel = parent["channel"]
    replies = await client.conversations_replies(channel=channel, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "r1", "r2"]
    assert replies["messages"][0]["reply_count"] == 2

    page1 = await client.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in page1["messages"]] == ["later 2", "later 1"]
    assert page1["has_more"] is True
    page2 = await client.conversations_history(
        channel=channel, limit=10, cursor=page1["response_metadata"]["next_cursor"])
    assert [m["text"] for m in page2["messages"]] == ["later 0", "parent"]
    assert page2["has_more"] is False

    error = await error_of(client.chat_postMessage(channel="deploys", text="x", thread_ts="1.2"))
    assert error.response["error"] == "thread_not_found"
    error = await error_of(client.conversations_replies(channel=channel, ts="1.2"))
    assert error.response["error"] == "thread_not_found"
    error = await error_of(client.conversations_history(channel=channel, oldest="yesterday"))
    assert error.response["error"] == "invalid_arguments"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_chat_errors(client: AsyncWebClient, sandbox: Sandbox) -> None:
    channel = await deploys(client)
    assert (await error_of(client.chat_postMessage(channel="#nowhere", text="x"))
            ).response["error"] == "channel_not_found"
    assert (await error_of(client.chat_update(channel=channel, ts="123.456", text="x"))
            ).response["error"] == "message_not_found"
    human = sandbox.driver.say("bob", "hi from bob")
    assert (await error_of(client.chat_update(channel=channel, ts=human.ts, text="x"))
            ).response["error"] == "cant_update_message"
    assert (await error_of(client.chat_delete(channel=channel, ts=human.ts))
            ).response["error"] == "cant_delete_message"
    assert (await error_of(client.chat_postMessage(channel=channel))
            ).response["error"] == "no_text"
    private = sandbox.workspace.add_channel("secret", members=["U0BOB00001"], is_private=True)
    assert (await error_of(client.chat_postMessage(channel=private.id, text="x"))
            ).response["error"] == "channel_not_found"


async def test_text_length_follows_slack(client: AsyncWebClient, sandbox: Sandbox) -> None:
    # chat.postMessage accepts long text and truncates it above 40,000 characters, saying so.
    long = await client.chat_postMessage(channel="deploys", text="x" * 5000)
    assert long["message"]["text"] == "x" * 5000 and "warning" not in long
    at_limit = await client.chat_postMessage(channel="deploys", text="y" * 40_000)
    assert len(at_limit["message"]["text"]) == 40_000 and "warning" not in at_limit
    over = await client.chat_postMessage(channel="deploys", text="z" * 40_001)
    assert over["message"]["text"] == "z" * 40_000
    assert over["warning"] == "message_truncated"
    assert over["response_metadata"]["warnings"] == ["message_truncated"]
    assert over["response_metadata"]["messages"][0].startswith("[WARN] Your message was truncated")
    stored = sandbox.workspace.message(over["channel"], over["ts"])
    assert stored is not None and len(stored.text) == 40_000
    eph = await client.chat_postEphemeral(channel="deploys", user="U0BOB00001",
                                          text="e" * 40_001)
    assert eph["warning"] == "message_truncated"
    assert [len(e.text) for e in sandbox.workspace.ephemerals_for("U0BOB00001")] == [40_000]

    # chat.update answers msg_too_long above 4,000 characters of text, and only then.
    updated = await client.chat_update(channel=long["channel"], ts=long["ts"], text="u" * 4000)
    assert updated["text"] == "u" * 4000
    error = await error_of(client.chat_update(channel=long["channel"], ts=long["ts"],
                                              text="x" * 4001))
    assert error.response["error"] == "msg_too_long"
    kept = sandbox.workspace.message(long["channel"], long["ts"])
    assert kept is not None and kept.text == "u" * 4000


async def test_invalid_blocks(client: AsyncWebClient) -> None:

    too_many = [{"type": "divider"}] * 51
    error = await error_of(client.chat_postMessage(channel="deploys", text="x", blocks=too_many))
    assert error.response["error"] == "invalid_blocks"
    assert any("too many blocks" in e for e in error.response["errors"])

    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    error = await error_of(client.chat_postMessage(channel="deploys", text="x",
                                                   blocks=long_header))
    assert error.response["error"] == "invalid_blocks"
    assert error.response["response_metadata"]["messages"][0].startswith("[ERROR]")

    unknown = [{"type": "no_such_block"}]
    error = await error_of(client.chat_postMessage(channel="deploys", text="x", blocks=unknown))
    assert "unknown block type" in error.response["errors"][0]

    long_field = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}]
    error = await error_of(client.chat_postMessage(channel="deploys", text="x",
                                                   blocks=long_field))
    assert error.response["error"] == "invalid_blocks"


async def test_ephemeral_permalink_and_delete(client: AsyncWebClient, sandbox: Sandbox) -> None:
    channel = await deploys(client)
    eph = await client.chat_postEphemeral(channel=channel, user="U0BOB00001", text="only bob")
    assert eph["message_ts"]
    ws = sandbox.workspace
    assert [e.text for e in ws.ephemerals_for("U0BOB00001")] == ["only bob"]
    assert ws.ephemerals_for("U0CAROL001") == []
    # ephemerals never show up in history and cannot be updated
    assert (await client.conversations_history(channel=channel))["messages"] == []
    error = await error_of(client.chat_update(channel=channel, ts=eph["message_ts"], text="x"))
    assert error.response["error"] == "message_not_found"
    error = await error_of(client.chat_postEphemeral(channel=channel, user="U0NOPE", text="x"))
    assert error.response["error"] == "user_not_found"
    outsider = ws.add_user("dave")
    error = await error_of(client.chat_postEphemeral(channel=channel, user=outsider.id, text="x"))
    assert error.response["error"] == "user_not_in_channel"

    posted = await client.chat_postMessage(channel=channel, text="link me")
    link = await client.chat_getPermalink(channel=channel, message_ts=posted["ts"])
    assert link["permalink"] == (
        f"{sandbox.base_url}archives/{channel}/p{posted['ts'].replace('.', '')}")
    async with aiohttp.ClientSession() as http, http.get(link["permalink"]) as page:
        assert page.status == 200 and "Slack sandbox" in await page.text()
    deleted = await client.chat_delete(channel=channel, ts=posted["ts"])
    assert deleted["ts"] == posted["ts"]
    error = await error_of(client.chat_getPermalink(channel=channel, message_ts=posted["ts"]))
    assert error.response["error"] == "message_not_found"


async def test_conversations_open_a_dm(client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U0CAROL001")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in opened
    again = await client.conversations_open(users=["U0CAROL001"], return_im=True)
    assert again["channel"]["id"] == dm and again["already_open"] is True
    assert again["channel"]["is_im"] is True
    posted = await client.chat_postMessage(channel=dm, text="link your Forest account")
    assert posted["channel"] == dm
    assert (await error_of(client.conversations_open(users="U0NOPE"))).response["error"] == (
        "user_not_found")


async def test_direct_message_by_user_id(client: AsyncWebClient, sandbox: Sandbox) -> None:
    posted = await client.chat_postMessage(channel="U0ALICE001", text="hello alice")
    assert posted["channel"].startswith("D")
    info = await client.conversations_info(channel=posted["channel"])
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == "U0ALICE001"


# -- users and conversations ----------------------------------------------------------------


async def test_users(client: AsyncWebClient) -> None:
    alice = await client.users_info(user="U0ALICE001")
    assert alice["user"]["profile"]["email"] == "alice@example.com"
    assert alice["user"]["is_admin"] is True and alice["user"]["name"] == "alice"
    bob = await client.users_lookupByEmail(email="Bob@Example.com")
    assert bob["user"]["id"] == "U0BOB00001"
    assert (await error_of(client.users_info(user="U0NOPE"))).response["error"] == "user_not_found"
    error = await error_of(client.users_lookupByEmail(email="nobody@example.com"))
    assert error.response["error"] == "users_not_found"


async def test_conversations_info_and_join(client: AsyncWebClient, sandbox: Sandbox) -> None:
    info = await client.conversations_info(channel="#deploys")
    assert info["channel"]["name"] == "deploys" and info["channel"]["is_member"] is True
    general = await client.conversations_info(channel="#general")
    assert general["channel"]["is_member"] is False
    joined = await client.conversations_join(channel=general["channel"]["id"])
    assert joined["channel"]["is_member"] is True
    again = await client.conversations_join(channel=general["channel"]["id"])
    assert again["warning"] == "already_in_channel"
    error = await error_of(client.conversations_info(channel="C0NOPE"))
    assert error.response["error"] == "channel_not_found"


# -- files ------------------------------------------------------------------------------------


async def test_files_upload_v2_into_a_thread(client: AsyncWebClient, sandbox: Sandbox) -> None:
    parent = await client.chat_postMessage(channel="deploys", text="plan")
    plan = "Terraform will perform the following actions:\n" + "  + resource\n" * 500
    uploaded = await client.files_upload_v2(
        channel=parent["channel"], thread_ts=parent["ts"], content=plan, filename="plan.txt",
        title="Plan for production", initial_comment="Full plan attached",
        snippet_type="diff")
    assert uploaded["file"]["title"] == "Plan for production"
    replies = await client.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    reply = replies["messages"][1]
    assert reply["text"] == "Full plan attached"
    assert reply["files"][0]["id"] == uploaded["file"]["id"]
    assert reply["files"][0]["size"] == len(plan.encode())
    async with aiohttp.ClientSession() as http, http.get(reply["files"][0]["url_private"]) as got:
        assert await got.text() == plan
    info = await client.files_info(file=uploaded["file"]["id"])
    assert info["file"]["channels"] == [parent["channel"]]


async def test_file_errors(client: AsyncWebClient, sandbox: Sandbox) -> None:
    url = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    error = await error_of(client.files_completeUploadExternal(
        files=[{"id": url["file_id"], "title": "a"}], channel_id="deploys"))
    assert error.response["error"] == "file_not_found", "bytes were never uploaded"
    async with aiohttp.ClientSession() as http:
        async with http.post(url["upload_url"], data=b"abc") as response:
            assert response.status == 200
        async with http.post(url["upload_url"], data=b"abc") as response:
            assert response.status == 404, "an upload URL is single-use"
    general = sandbox.workspace.channel("general")
    assert general is not None
    error = await error_of(client.files_completeUploadExternal(
        files=[{"id": url["file_id"], "title": "a"}], channel_id=general.id))
    assert error.response["error"] == "not_in_channel"


async def test_upload_url_takes_a_multipart_form_too(client: AsyncWebClient) -> None:
    url = await client.files_getUploadURLExternal(filename="plan.diff", length=5)
    form = aiohttp.FormData()
    form.add_field("file", b"+ a\n", filename="plan.diff", content_type="text/plain")
    async with aiohttp.ClientSession() as http, http.post(url["upload_url"], data=form) as r:
        assert r.status == 200 and await r.text() == "OK - 4"
    done = await client.files_completeUploadExternal(files=[{"id": url["file_id"]}])
    assert done["files"][0]["size"] == 4 and done["files"][0]["channels"] == []


async def test_deleting_a_thread_parent_leaves_a_tombstone(client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="deploys", text="release")
    await client.chat_postMessage(channel="deploys", text="plan", thread_ts=parent["ts"])
    await client.chat_delete(channel=parent["channel"], ts=parent["ts"])
    replies = await client.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    tombstone, reply = replies["messages"]
    assert tombstone["subtype"] == "tombstone" and tombstone["text"] == "This message was deleted."
    assert "blocks" not in tombstone and reply["text"] == "plan"
    error = await error_of(client.chat_update(channel=parent["channel"], ts=parent["ts"],
                                              text="x"))
    assert error.response["error"] == "message_not_found"
    lone = await client.chat_postMessage(channel="deploys", text="no replies")
    await client.chat_delete(channel=lone["channel"], ts=lone["ts"])
    history = await client.conversations_history(channel=lone["channel"])
    assert [m["text"] for m in history["messages"]] == ["This message was deleted."]
