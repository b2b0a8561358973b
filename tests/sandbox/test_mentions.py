"""`<@U…>` mentions show the user's display name in the UI, as in Slack.

The renderer is the UI's own sandbox/ui/mrkdwn.js, run under Node with a minimal DOM (the
headless-Chromium tests in test_browser.py cover the page itself when chromium is installed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.server import Sandbox

MRKDWN_JS = Path(__file__).resolve().parents[2] / "sandbox" / "ui" / "mrkdwn.js"
NODE = shutil.which("node") or shutil.which("nodejs")

# A DOM with just what mrkdwn.js uses; prints each rendering's text and its mention spans.
HARNESS = r"""
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.className = ""; this.dataset = {}; }
  appendChild(child) { this.children.push(child); return child; }
  set textContent(text) { this.children = [new Text(String(text))]; }
  get textContent() { return this.children.map((c) => c.textContent).join(""); }
  mentions() {
    const own = this.className.split(" ").includes("mention")
      ? [{text: this.textContent, userId: this.dataset.userId || null}] : [];
    return own.concat(...this.children.map((c) => c.mentions()));
  }
}
class Text {
  constructor(text) { this.textContent = text; }
  mentions() { return []; }
}
globalThis.document = {
  createElement: (tag) => new El(tag),
  createTextNode: (text) => new Text(text),
};
const M = require(process.argv[1]);
const {texts, users} = JSON.parse(process.argv[2]);
const rendered = texts.map((t) => {
  const node = M.render(t, {users, channels: {}});
  return {text: node.textContent, mentions: node.mentions()};
});
const labels = [["U0BOB00001"], ["U0NOBODY1"], ["U0NOBODY1", "dave"]].map(
  ([id, label]) => M.userLabel(id, users, label));
console.log(JSON.stringify({rendered, labels}));
"""


def render(texts: list[str], users: dict[str, Any]) -> dict[str, Any]:
    if NODE is None:
        pytest.skip("no node binary on PATH (Debian: apt-get install nodejs)")
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(MRKDWN_JS), json.dumps({"texts": texts, "users": users})],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def ui_users(sandbox: Sandbox) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(
        f"{sandbox.base_url}_sandbox/state?user=alice"
    ) as response:
        state = await response.json()
    return {u["id"]: u for u in state["users"]}


async def test_mentions_show_display_names_and_unknown_ids_as_written() -> None:
    async with Sandbox() as sandbox:
        users = await ui_users(sandbox)
    assert users["U0BOB00001"]["display_name"] == "bob"
    got = render([
        "approved by <@U0BOB00001> and <@U0CAROL001>",
        "<@U0BOB00001|someone else> is still bob",
        "asked <@U0NOBODY1> and <@U0NOBODY1|dave>",
        "escaped &lt;@U0BOB00001&gt; stays text",
    ], users)
    texts = [r["text"] for r in got["rendered"]]
    assert texts == [
        "approved by @bob and @carol",
        "@bob is still bob",
        "asked @U0NOBODY1 and @dave",
        "escaped <@U0BOB00001> stays text",
    ]
    assert got["rendered"][0]["mentions"] == [
        {"text": "@bob", "userId": "U0BOB00001"}, {"text": "@carol", "userId": "U0CAROL001"}]
    assert got["rendered"][3]["mentions"] == []
    assert got["labels"] == ["@bob", "@U0NOBODY1", "@dave"]


def test_a_user_without_a_display_name_shows_the_real_name() -> None:
    users = {"U0EVE00001": {"id": "U0EVE00001", "name": "eve", "display_name": "",
                            "real_name": "Eve Example"}}
    got = render(["ping <@U0EVE00001>"], users)
    assert got["rendered"][0]["text"] == "ping @Eve Example"
