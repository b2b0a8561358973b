"""views.open / push / update / publish: trigger ids, stacks, hashes and view validation."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import methods as sandbox_methods
from sandbox.server import Sandbox


def modal(title: str = "Reject release", **extra: object) -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": "forest.reject.v1",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Reject"},
        "blocks": [{
            "type": "input", "block_id": "comment",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        }],
        **extra,
    }


async def code(call: object) -> str:
    with pytest.raises(SlackApiError) as exc:
        await call  # type: ignore[misc]
    return str(exc.value.response["error"])


async def test_views_open_needs_a_fresh_single_use_trigger(
    client: AsyncWebClient, sandbox: Sandbox
) -> None:
    assert sandbox_methods.TRIGGER_TTL_SECONDS == 3.0
    ws = sandbox.workspace
    trigger = ws.new_trigger("U0BOB00001")
    opened = await client.views_open(trigger_id=trigger, view=modal())
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "forest.reject.v1"
    assert view["root_view_id"] == view["id"] and view["hash"]
    assert [v.id for v in ws.view_stack("U0BOB00001")] == [view["id"]]
    assert await code(client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert await code(client.views_open(trigger_id="1.2.3", view=modal())) == "invalid_trigger_id"

    late = ws.new_trigger("U0BOB00001")
    ws.triggers[late].created -= sandbox_methods.TRIGGER_TTL_SECONDS + 1  # issued 4 s ago
    assert await code(client.views_open(trigger_id=late, view=modal())) == "expired_trigger_id"


async def test_invalid_views_are_refused(client: AsyncWebClient, sandbox: Sandbox) -> None:
    ws = sandbox.workspace
    long_title = modal(title="x" * 25)
    assert await code(client.views_open(trigger_id=ws.new_trigger("U0BOB00001"),
                                        view=long_title)) == "invalid_arguments"
    huge = modal(private_metadata="m" * 3001)
    assert await code(client.views_open(trigger_id=ws.new_trigger("U0BOB00001"),
                                        view=huge)) == "invalid_arguments"
    home = {"type": "home", "blocks": []}
    assert await code(client.views_open(trigger_id=ws.new_trigger("U0BOB00001"),
                                        view=home)) == "invalid_arguments"
    # a refused view does not use up the trigger
    trigger = ws.new_trigger("U0BOB00001")
    assert await code(client.views_open(trigger_id=trigger, view=long_title)) == "invalid_arguments"
    assert (await client.views_open(trigger_id=trigger, view=modal()))["ok"] is True


async def test_push_update_and_hash_conflict(client: AsyncWebClient, sandbox: Sandbox) -> None:
    ws = sandbox.workspace
    root = (await client.views_open(trigger_id=ws.new_trigger("U0ALICE001"), view=modal()))["view"]
    pushed = (await client.views_push(trigger_id=ws.new_trigger("U0ALICE001"),
                                      view=modal(title="Step 2")))["view"]
    assert pushed["root_view_id"] == root["id"] and pushed["previous_view_id"] == root["id"]
    await client.views_push(trigger_id=ws.new_trigger("U0ALICE001"), view=modal(title="Step 3"))
    assert await code(client.views_push(trigger_id=ws.new_trigger("U0ALICE001"),
                                        view=modal(title="Step 4"))) == "push_limit_reached"

    updated = (await client.views_update(view_id=root["id"], hash=root["hash"],
                                         view=modal(title="Updated")))["view"]
    assert updated["title"]["text"] == "Updated" and updated["hash"] != root["hash"]
    assert await code(client.views_update(view_id=root["id"], hash=root["hash"],
                                          view=modal())) == "hash_conflict"
    assert await code(client.views_update(view_id="V0NOPE", view=modal())) == "not_found"
    by_external = await client.views_open(trigger_id=ws.new_trigger("U0BOB00001"),
                                          view=modal(external_id="ext-1"))
    again = await client.views_update(external_id="ext-1", view=modal(title="By external id"))
    assert again["view"]["id"] == by_external["view"]["id"]


async def test_views_publish_home_tab(client: AsyncWebClient, sandbox: Sandbox) -> None:
    home = {"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Pending:* nothing"}}]}
    first = (await client.views_publish(user_id="U0CAROL001", view=home))["view"]
    assert first["type"] == "home"
    second = (await client.views_publish(user_id="U0CAROL001", view=home, hash=first["hash"]))
    assert second["view"]["id"] == first["id"], "one Home view per user, replaced in place"
    assert await code(client.views_publish(user_id="U0CAROL001", view=home,
                                           hash=first["hash"])) == "hash_conflict"
    assert await code(client.views_publish(user_id="U0NOPE", view=home)) == "user_not_found"
    assert sandbox.workspace.home_view("U0CAROL001") is not None


async def test_views_get_block_and_action_ids_like_on_slack(
    client: AsyncWebClient, sandbox: Sandbox
) -> None:
    bare = modal()
    bare["blocks"] = [{"type": "input", "label": {"type": "plain_text", "text": "Why?"},
                       "element": {"type": "plain_text_input"}}]
    view = (await client.views_open(trigger_id=sandbox.workspace.new_trigger("U0BOB00001"),
                                    view=bare))["view"]
    block = view["blocks"][0]
    assert block["block_id"] and block["element"]["action_id"]


async def test_a_new_modal_replaces_the_open_one(client: AsyncWebClient, sandbox: Sandbox) -> None:
    ws = sandbox.workspace
    first = (await client.views_open(trigger_id=ws.new_trigger("U0BOB00001"), view=modal()))
    await client.views_open(trigger_id=ws.new_trigger("U0BOB00001"), view=modal(title="Second"))
    assert [v.body["title"]["text"] for v in ws.view_stack("U0BOB00001")] == ["Second"]
    assert await code(client.views_update(view_id=first["view"]["id"], view=modal())) == (
        "not_found")
