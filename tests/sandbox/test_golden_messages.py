"""Our own Block Kit builders' golden outputs (tests/blocks/golden) pass the sandbox like Slack.

A cross-check between the builders and the sandbox's validation: every golden message is
accepted by chat.postMessage / chat.update / chat.postEphemeral, every modal by views.open and
the Home tab by views.publish. A golden that Slack would refuse fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox

GOLDEN = Path(__file__).resolve().parents[1] / "blocks" / "golden"
FILES = sorted(GOLDEN.glob("*.json")) if GOLDEN.is_dir() else []


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(not FILES, reason="no golden Block Kit files in tests/blocks/golden")
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_golden_payload_is_accepted(path: Path, sandbox: Sandbox,
                                          client: AsyncWebClient) -> None:
    data = load(path)
    if data.get("type") == "modal":
        trigger = sandbox.workspace.new_trigger("U0ALICE001")
        assert (await client.views_open(trigger_id=trigger, view=data))["ok"]
    elif data.get("type") == "home":
        assert (await client.views_publish(user_id="U0ALICE001", view=data))["ok"]
    elif path.stem.startswith("ephemeral"):
        assert (await client.chat_postEphemeral(channel="deploys", user="U0ALICE001",
                                                text=data["text"], blocks=data["blocks"]))["ok"]
    else:
        posted = await client.chat_postMessage(channel="deploys", text="…")
        updated = await client.chat_update(channel=posted["channel"], ts=posted["ts"],
                                           text=data["text"], blocks=data["blocks"])
        assert updated["message"]["text"] == data["text"]
