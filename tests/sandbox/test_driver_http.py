"""The driver sends real, signed requests to a Bolt AsyncApp served over HTTP on a real port."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import methods as sandbox_methods
from sandbox.delivery import HttpDelivery, encode, signed_headers
from sandbox.driver import DriverError, ViewInputError
from sandbox.server import Sandbox
from tests.sandbox.conftest import SIGNING_SECRET, bolt_app, eventually, serve_bolt

APPROVE = "forest.approve.v1"


def release_blocks(status: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "block_id": "status",
         "text": {"type": "mrkdwn", "text": f"acme/api · {status}"}},
        {"type": "actions", "block_id": "gate", "elements": [
            {"type": "button", "action_id": APPROVE, "value": "intent-42", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "overflow", "action_id": "forest.more.v1", "options": [
                {"text": {"type": "plain_text", "text": "View plan"}, "value": "plan"},
                {"text": {"type": "plain_text", "text": "Cancel"}, "value": "cancel"}]},
        ]},
    ]


REJECT_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "forest.reject.v1",
    "private_metadata": "intent-42",
    "notify_on_close": True,
    "title": {"type": "plain_text", "text": "Reject release"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [
        {"type": "input", "block_id": "comment", "label": {"type": "plain_text", "text": "Why?"},
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True}},
        {"type": "input", "block_id": "env", "optional": True,
         "label": {"type": "plain_text", "text": "Environment"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": "production"}, "value": "prod"},
             {"text": {"type": "plain_text", "text": "staging"}, "value": "stg"}]}},
    ],
}


async def post_release(sandbox: Sandbox) -> tuple[str, str]:
    posted = await sandbox.client().chat_postMessage(
        channel="deploys", text="release", blocks=release_blocks("awaiting approval"))
    return posted["channel"], posted["ts"]


async def test_click_reaches_bolt_which_updates_the_message(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    bodies: list[dict[str, Any]] = []

    @app.action(APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        bodies.append(body)
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text="approved",
            blocks=release_blocks(f"approved by <@{body['user']['id']}>")[:1])

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        channel, ts = await post_release(sandbox)
        message = sandbox.workspace.last_message("#deploys")
        assert message is not None and message.ts == ts
        ack = await sandbox.driver.click("bob", message=message, action_id=APPROVE)
        assert ack.ok and ack.status == 200
        await eventually(lambda: message.text == "approved")

    body = bodies[0]
    assert body["type"] == "block_actions"
    assert body["user"] == {"id": "U0BOB00001", "username": "bob", "name": "bob",
                            "team_id": sandbox.workspace.app.team_id}
    assert body["container"] == {"type": "message", "message_ts": ts, "channel_id": channel,
                                 "is_ephemeral": False}
    assert body["channel"]["name"] == "deploys"
    assert body["message"]["ts"] == ts and body["message"]["blocks"][1]["block_id"] == "gate"
    action = body["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        APPROVE, "gate", "intent-42", "button")
    assert body["response_url"].startswith(sandbox.base_url)
    assert body["trigger_id"] in sandbox.workspace.triggers
    assert message.blocks is not None
    assert message.blocks[0]["text"]["text"] == "acme/api · approved by <@U0BOB00001>"


async def test_overflow_choice_and_unknown_elements(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    chosen: list[str] = []

    @app.action("forest.more.v1")
    async def more(ack: AsyncAck, action: dict[str, Any]) -> None:
        await ack()
        chosen.append(action["selected_option"]["value"])

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        channel, ts = await post_release(sandbox)
        assert (await sandbox.driver.click("carol", channel=channel, ts=ts,
                                           action_id="forest.more.v1", value="plan")).ok
        assert chosen == ["plan"]
        with pytest.raises(DriverError):
            await sandbox.driver.click("carol", channel=channel, ts=ts, action_id="nope")
        with pytest.raises(DriverError):
            await sandbox.driver.click("carol", channel=channel, ts=ts,
                                       action_id="forest.more.v1", value="not-an-option")


async def test_command_ack_becomes_an_ephemeral_and_respond_replaces_it(
    sandbox: Sandbox,
) -> None:
    app = bolt_app(sandbox)
    fields: list[dict[str, Any]] = []

    @app.command("/forest")
    async def forest(ack: AsyncAck, command: dict[str, Any]) -> None:
        fields.append(command)
        await ack(blocks=[{"type": "actions", "elements": [{
            "type": "button", "action_id": "forest.confirm.v1", "value": command["text"],
            "text": {"type": "plain_text", "text": "Subscribe"}}]}],
            text=f"Subscribe to {command['text']}?")

    @app.action("forest.confirm.v1")
    async def confirm(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(replace_original=True, text=f"Subscribed to {action['value']}")

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        ack = await sandbox.driver.command("alice", "subscribe acme/api")
        assert ack.ok
        ws = sandbox.workspace
        [eph] = ws.ephemerals_for("U0ALICE001")
        assert eph.text == "Subscribe to subscribe acme/api?"
        assert ws.ephemerals_for("U0BOB00001") == [] and ws.top_level(eph.channel) == []
        assert fields[0]["command"] == "/forest" and fields[0]["channel_name"] == "deploys"
        assert fields[0]["user_name"] == "alice"

        assert (await sandbox.driver.click("alice", channel=eph.channel, ts=eph.ts,
                                           action_id="forest.confirm.v1")).ok
        await eventually(lambda: eph.text == "Subscribed to subscribe acme/api")
        assert eph.blocks is None


async def test_modal_round_trip_with_errors_then_success(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    submissions: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []

    @app.action(APPROVE)
    async def open_modal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=REJECT_MODAL)

    @app.view("forest.reject.v1")
    async def submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        submissions.append(view)
        comment = view["state"]["values"]["comment"]["text"]["value"]
        if len(comment) < 5:
            await ack(response_action="errors", errors={"comment": "Say a bit more"})
        else:
            await ack()

    @app.view_closed("forest.reject.v1")
    async def on_close(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        closed.append(body)

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        driver, ws = sandbox.driver, sandbox.workspace
        channel, ts = await post_release(sandbox)
        await driver.click("bob", channel=channel, ts=ts, action_id=APPROVE)
        await eventually(lambda: ws.top_view("U0BOB00001") is not None)
        view = ws.top_view("U0BOB00001")
        assert view is not None and ws.top_view("U0ALICE001") is None

        with pytest.raises(ViewInputError) as missing:
            await driver.submit_view("bob", view.id, {"env": "prod"})
        assert missing.value.errors == {"comment": "Please complete this required field."}
        assert submissions == [], "Slack's client does not submit with a required input empty"

        result = await driver.submit_view("bob", view.id, {"text": "no", "env": "prod"})
        assert result.response_action == "errors"
        assert result.errors == {"comment": "Say a bit more"} and not result.closed
        assert ws.top_view("U0BOB00001") is view and view.errors == {"comment": "Say a bit more"}

        result = await driver.submit_view("bob", values={"comment.text": "wait for #812",
                                                         "env": "prod"})
        assert result.closed and ws.top_view("U0BOB00001") is None
        state = submissions[-1]["state"]["values"]
        assert state["comment"]["text"] == {"type": "plain_text_input", "value": "wait for #812"}
        assert state["env"]["pick"]["selected_option"]["value"] == "prod"
        assert submissions[-1]["private_metadata"] == "intent-42"

        # open again and close it: the app asked for view_closed
        await driver.click("bob", channel=channel, ts=ts, action_id=APPROVE)
        await eventually(lambda: ws.top_view("U0BOB00001") is not None)
        ack = await driver.close_view("bob")
        assert ack is not None and ack.ok
        assert closed[0]["type"] == "view_closed" and closed[0]["is_cleared"] is False


async def test_response_action_update_push_and_clear(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    step2 = {**REJECT_MODAL, "callback_id": "step2", "notify_on_close": False,
             "title": {"type": "plain_text", "text": "Step 2"}}

    @app.view("forest.reject.v1")
    async def first(ack: AsyncAck, view: dict[str, Any]) -> None:
        text = view["state"]["values"]["comment"]["text"]["value"]
        if text == "update":
            await ack(response_action="update", view={**REJECT_MODAL, "title": {
                "type": "plain_text", "text": "Updated"}})
        else:
            await ack(response_action="push", view=step2)

    @app.view("step2")
    async def second(ack: AsyncAck) -> None:
        await ack(response_action="clear")

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        ws = sandbox.workspace
        ws.open_view("U0CAROL001", dict(REJECT_MODAL))
        result = await sandbox.driver.submit_view("carol", values={"text": "update"})
        assert result.response_action == "update"
        assert result.view is not None and result.view.body["title"]["text"] == "Updated"
        result = await sandbox.driver.submit_view("carol", values={"text": "push"})
        assert result.response_action == "push"
        assert [v.body["title"]["text"] for v in ws.view_stack("U0CAROL001")] == [
            "Updated", "Step 2"]
        result = await sandbox.driver.submit_view("carol", values={"text": "done"})
        assert result.response_action == "clear" and ws.view_stack("U0CAROL001") == []


async def test_app_home_opened_event_lets_the_app_publish(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"Hi <@{event['user']}>"}}]})

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        ack = await sandbox.driver.open_home("carol")
        assert ack.ok
        await eventually(lambda: sandbox.workspace.home_view("U0CAROL001") is not None)
        kind, payload, _ = sandbox.driver.history[-1]
        assert kind == "events_api" and payload["type"] == "event_callback"
        assert payload["event"]["tab"] == "home"


async def test_bolt_rejects_tampered_wrong_secret_and_stale_requests(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    calls: list[str] = []

    @app.command("/forest")
    async def forest(ack: AsyncAck, command: dict[str, Any]) -> None:
        calls.append(command["text"])
        await ack()

    fields = {"command": "/forest", "text": "list", "user_id": "U0ALICE001",
              "channel_id": "C1", "team_id": "T1", "trigger_id": "1.2.3",
              "response_url": "http://127.0.0.1:9/x"}
    body, content_type = encode("slash_commands", fields)
    async with serve_bolt(app) as url:
        http = HttpDelivery(url, SIGNING_SECRET)
        try:
            good = await http.post(body, signed_headers(SIGNING_SECRET, body,
                                                        content_type=content_type))
            assert good.ok and good.status == 200 and calls == ["list"]

            tampered = body.replace("list", "logout")
            headers = signed_headers(SIGNING_SECRET, body, content_type=content_type)
            assert (await http.post(tampered, headers)).status == 401

            wrong = signed_headers("not-the-secret", body, content_type=content_type)
            assert (await http.post(body, wrong)).status == 401

            stale = signed_headers(SIGNING_SECRET, body, content_type=content_type,
                                   timestamp=int(time.time()) - 301)
            assert (await http.post(body, stale)).status == 401
            assert calls == ["list"], "no rejected request reached the listener"
        finally:
            await http.close()


async def test_slow_ack_is_an_operation_timeout(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)

    acked_late = asyncio.Event()

    @app.command("/forest")
    async def slow(ack: AsyncAck) -> None:
        await acked_late.wait()  # until the driver has given up
        await ack()

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET, timeout=0.3)
        ack = await sandbox.driver.command("bob", "help")
        assert not ack.ok and ack.error == "operation_timeout"
        acked_late.set()


async def test_trigger_used_after_3_seconds_is_expired(
    sandbox: Sandbox
) -> None:
    app = bolt_app(sandbox)
    errors: list[str] = []

    @app.command("/forest")
    async def late(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # The listener goes on after its ack: make the trigger as old as a slow one would be.
        trigger = sandbox.workspace.triggers[body["trigger_id"]]
        trigger.created -= sandbox_methods.TRIGGER_TTL_SECONDS + 1
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=REJECT_MODAL)
        except Exception as exc:  # SlackApiError
            errors.append(exc.response["error"])  # type: ignore[attr-defined]

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        await sandbox.driver.command("bob", "login")
        await eventually(lambda: bool(errors))
        assert errors == ["expired_trigger_id"]


async def test_request_bodies_are_shaped_like_slack(sandbox: Sandbox) -> None:
    """Interactive requests carry one form field `payload`; commands are plain form fields."""
    received: list[tuple[str, str]] = []

    app = AsyncApp(client=sandbox.client(), signing_secret=SIGNING_SECRET)

    @app.middleware
    async def capture(req: Any, resp: Any, next: Any) -> Any:
        received.append((req.headers.get("content-type", [""])[0], req.raw_body))
        return await next()

    @app.action(APPROVE)
    async def approve(ack: AsyncAck) -> None:
        await ack()

    @app.command("/forest")
    async def forest(ack: AsyncAck) -> None:
        await ack()

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        channel, ts = await post_release(sandbox)
        await sandbox.driver.click("bob", channel=channel, ts=ts, action_id=APPROVE)
        await sandbox.driver.command("bob", "pending")
    (ctype1, raw1), (ctype2, raw2) = received
    assert ctype1 == ctype2 == "application/x-www-form-urlencoded"
    form = parse_qs(raw1)
    assert list(form) == ["payload"] and json.loads(form["payload"][0])["type"] == "block_actions"
    assert parse_qs(raw2)["text"] == ["pending"]


async def test_view_state_for_pickers_follows_slack(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    states: list[dict[str, Any]] = []

    @app.view("pick")
    async def picked(ack: AsyncAck, view: dict[str, Any]) -> None:
        states.append(view["state"]["values"])
        await ack()

    def input_block(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
        return {"type": "input", "block_id": block_id, "element": element,
                "label": {"type": "plain_text", "text": block_id}}

    view = {"type": "modal", "callback_id": "pick",
            "title": {"type": "plain_text", "text": "Pick"},
            "submit": {"type": "plain_text", "text": "OK"},
            "blocks": [
                input_block("who", {"type": "users_select", "action_id": "u"}),
                input_block("when", {"type": "datepicker", "action_id": "d"}),
                input_block("envs", {"type": "checkboxes", "action_id": "c", "options": [
                    {"text": {"type": "plain_text", "text": "prod"}, "value": "prod"},
                    {"text": {"type": "plain_text", "text": "stg"}, "value": "stg"}]}),
            ]}
    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        sandbox.workspace.open_view("U0BOB00001", view)
        result = await sandbox.driver.submit_view(
            "bob", values={"u": "U0CAROL001", "d": "2026-12-01", "c": ["stg"]})
        assert result.closed
    [state] = states
    assert state["who"]["u"] == {"type": "users_select", "selected_user": "U0CAROL001"}
    assert state["when"]["d"] == {"type": "datepicker", "selected_date": "2026-12-01"}
    assert [o["value"] for o in state["envs"]["c"]["selected_options"]] == ["stg"]


async def test_events_are_redelivered_with_retry_headers_when_refused(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    attempts: list[tuple[str | None, str | None, str]] = []

    @app.middleware
    async def flaky(req: Any, resp: Any, next: Any) -> Any:
        num = req.headers.get("x-slack-retry-num", [None])[0]
        reason = req.headers.get("x-slack-retry-reason", [None])[0]
        attempts.append((num, reason, req.body["event_id"]))
        if num is None:  # refuse the first delivery
            resp.status = 500
            return resp
        return await next()

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        return None

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        sandbox.driver.event_retry_delays = (0.0, 0.05, 0.1)
        first = await sandbox.driver.open_home("bob")
        assert not first.ok and first.error == "http_500"
        await sandbox.driver.settle()
    assert [(num, reason) for num, reason, _ in attempts] == [(None, None), ("1", "http_error")]
    assert len({event_id for *_, event_id in attempts}) == 1, "same event_id: dedup on it"
