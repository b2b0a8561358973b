"""The UI's JSON API and live events, response_urls, and persistence of the workspace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck

from sandbox.server import Sandbox
from sandbox.state import ResponseUrl, Workspace
from tests.sandbox.conftest import SIGNING_SECRET, TEST_SCOPES, bolt_app, serve_bolt


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


async def test_state_is_per_user(sandbox: Sandbox) -> None:
    client = sandbox.client()
    channel = (await client.conversations_info(channel="#deploys"))["channel"]["id"]
    await client.chat_postMessage(channel=channel, text="for all")
    await client.chat_postEphemeral(channel=channel, user="U0BOB00001", text="for bob")
    bob = await get_json(f"{sandbox.base_url}_sandbox/state?user=bob")
    carol = await get_json(f"{sandbox.base_url}_sandbox/state?user=carol&channel={channel}")
    assert [m["text"] for m in bob["messages"]] == ["for all", "for bob"]
    assert [m["ephemeral"] for m in bob["messages"]] == [False, True]
    assert [m["text"] for m in carol["messages"]] == ["for all"]
    assert carol["me"] == "U0CAROL001" and carol["channel"]["name"] == "deploys"
    assert carol["delivery"] == "bot: not connected"
    sandbox.driver.use_socket_mode()
    assert (await get_json(f"{sandbox.base_url}_sandbox/state"))["delivery"] == (
        "bot: Socket Mode, 0 connections")
    latest = await get_json(f"{sandbox.base_url}_sandbox/state?user=bob&limit=1")
    assert [m["text"] for m in latest["messages"]] == ["for bob"] and latest["older"] == 1


async def test_sse_announces_a_chat_update(sandbox: Sandbox) -> None:
    client = sandbox.client()
    posted = await client.chat_postMessage(channel="deploys", text="v1")
    async with aiohttp.ClientSession() as http, http.get(
        f"{sandbox.base_url}_sandbox/events"
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert (await stream.content.readline()).startswith(b"retry:")
        await stream.content.readline()
        await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")
        line = await asyncio.wait_for(stream.content.readline(), 3)
        event = json.loads(line.decode().removeprefix("data: "))
        assert event["kind"] == "message_changed" and event["ts"] == posted["ts"]


async def test_ui_actions_go_through_the_driver(sandbox: Sandbox) -> None:
    app = bolt_app(sandbox)
    commands: list[str] = []

    @app.command("/forest")
    async def forest(ack: AsyncAck, command: dict[str, Any]) -> None:
        commands.append(command["text"])
        await ack(text="Here is help")

    async with serve_bolt(app) as url, aiohttp.ClientSession() as http:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        base = sandbox.base_url + "_sandbox/"
        async with http.post(base + "command", json={"user": "carol", "command": "/forest",
                                                      "text": "help"}) as r:
            assert (await r.json())["ok"] is True
        assert commands == ["help"]
        assert [e.text for e in sandbox.workspace.ephemerals_for("U0CAROL001")] == ["Here is help"]
        async with http.post(base + "message", json={"user": "carol", "text": "hi all"}) as r:
            ts = (await r.json())["ts"]
        channel = sandbox.workspace.channel("deploys")
        assert channel is not None
        posted = sandbox.workspace.message(channel.id, ts)
        assert posted is not None and posted.user == "U0CAROL001"
        async with http.post(base + "action", json={"user": "carol", "channel": channel.id,
                                                     "ts": ts, "action_id": "nope"}) as r:
            assert r.status == 400
        async with http.post(base + "submit", json={"user": "carol"}) as r:
            assert r.status == 400 and "no open view" in (await r.json())["error"]


async def test_response_url_works_five_times() -> None:
    async with Sandbox() as sandbox, aiohttp.ClientSession() as http:
        ws = sandbox.workspace
        channel = ws.channel("deploys")
        assert channel is not None
        url = ws.new_response_url(sandbox.base_url, ResponseUrl(channel.id, "U0BOB00001", 0.0))
        ws.response_urls[url.rsplit("/", 1)[1]].created = asyncio.get_running_loop().time()
        statuses = []
        for i in range(6):
            async with http.post(url, json={"text": f"answer {i}",
                                            "response_type": "in_channel"}) as r:
                statuses.append(r.status)
        assert statuses == [200] * 5 + [404]
        assert [m.text for m in ws.top_level(channel.id)] == [f"answer {i}" for i in range(5)]


async def test_response_url_truncates_text_like_slack() -> None:
    async with Sandbox() as sandbox, aiohttp.ClientSession() as http:
        ws = sandbox.workspace
        channel = ws.channel("deploys")
        assert channel is not None
        url = ws.new_response_url(sandbox.base_url, ResponseUrl(channel.id, "U0BOB00001", 0.0))
        ws.response_urls[url.rsplit("/", 1)[1]].created = asyncio.get_running_loop().time()
        async with http.post(url, json={"text": "x" * 5000}) as r:
            assert (await r.json()) == {"ok": True}
        async with http.post(url, json={"text": "y" * 40_001}) as r:
            answer = await r.json()
        assert answer["ok"] is True and answer["warning"] == "message_truncated"
        assert [len(e.text) for e in ws.ephemerals_for("U0BOB00001")] == [5000, 40_000]


async def test_workspace_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "workspace.json"
    async with Sandbox(state_file=state, scopes=TEST_SCOPES) as first:
        client = first.client()
        parent = await client.chat_postMessage(channel="deploys", text="kept")
        await client.chat_update(channel=parent["channel"], ts=parent["ts"], text="kept v2")
        await client.files_upload_v2(channel=parent["channel"], thread_ts=parent["ts"],
                                     content="plan body", filename="plan.txt")
        await client.views_publish(user_id="U0BOB00001", view={"type": "home", "blocks": [
            {"type": "divider"}]})
    assert state.exists()
    async with Sandbox(state_file=state, scopes=TEST_SCOPES) as second:
        client = second.client()
        replies = await client.conversations_replies(channel=parent["channel"], ts=parent["ts"])
        assert [m["text"] for m in replies["messages"]] == ["kept v2", ""]
        assert replies["messages"][1]["files"][0]["name"] == "plan.txt"
        stored = second.workspace.message(parent["channel"], parent["ts"])
        assert stored is not None and [e.text for e in stored.edits] == ["kept"]
        assert second.workspace.home_view("U0BOB00001") is not None
        new = await client.chat_postMessage(channel="deploys", text="new")
        assert float(new["ts"]) > float(parent["ts"])
    loaded = Workspace.load(state)
    file = next(iter(loaded.files.values()))
    assert file.content == b"plan body"


async def test_page_is_served_with_a_strict_csp_and_no_html_injection_apis(
    sandbox: Sandbox,
) -> None:
    async with aiohttp.ClientSession() as http, http.get(sandbox.base_url) as page:
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = await page.text()
    assert "<script>" not in html and " style=" not in html and " on" not in html.lower().replace(
        " one", "")


def test_ui_scripts_use_no_html_injection_apis() -> None:
    ui = Path(__file__).resolve().parents[2] / "sandbox" / "ui"
    for script in ui.glob("*.js"):
        code = "\n".join(line for line in script.read_text().splitlines()
                         if not line.lstrip().startswith("//"))
        for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert api not in code, f"{script.name} uses {api}"
