"""HTTP mode: the main flow over signed requests, and forged or replayed requests refused (401)
with no effect on Forest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from blocks import ids
from bot.devsystem import SIGNING_SECRET, DevSystem
from sandbox.delivery import encode, signed_headers
from sandbox.testing import eventually

from .conftest import options
from .story import buttons, last_ephemeral, release_message, shown
from .test_bypass import _gate_open
from .test_story import WAIT, approval_state


async def test_main_flow_in_http_mode_and_forgeries_get_401(tmp_path: Path, nats_url: str) -> None:
    opts = options(tmp_path, nats_url, mode="http", soak_seconds=1, subscribe=False)
    async with DevSystem(opts) as system:
        assert system.sandbox is not None and system.bot is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        await driver.command("alice", "subscribe acme/api")
        await eventually(lambda: "now follows" in last_ephemeral(ws, "alice"), WAIT)
        intent = await _gate_open(system, "bob")

        # a click as alice, built the way Slack builds it, then tampered with or replayed
        await driver.click("alice", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
        _, payload, _ = driver.history[-1]
        forged = dict(payload)
        forged["user"] = {**payload["user"], "id": system.users["carol"].slack_id}
        url = f"http://127.0.0.1:{system.bot.http_port}/slack/events"
        body, content_type = encode("interactive", payload)
        tampered, _ = encode("interactive", forged)
        attempts = {
            "body changed after signing": (
                tampered,
                signed_headers(SIGNING_SECRET, body, content_type=content_type),
            ),
            "wrong secret": (
                tampered,
                signed_headers("not-the-secret", tampered, content_type=content_type),
            ),
            "replayed ten minutes later": (
                tampered,
                signed_headers(
                    SIGNING_SECRET,
                    tampered,
                    timestamp=int(time.time()) - 600,
                    content_type=content_type,
                ),
            ),
        }
        async with aiohttp.ClientSession() as session:
            for case, (data, headers) in attempts.items():
                async with session.post(url, data=data, headers=headers) as response:
                    assert response.status == 401, case
            async with session.get(f"http://127.0.0.1:{system.bot.http_port}/healthz") as response:
                assert response.status == 200 and json.loads(await response.text())["ok"]
            async with session.get(f"http://127.0.0.1:{system.bot.http_port}/metrics") as response:
                assert "forest_bot_slack_calls_total" in await response.text()

        # a correctly signed click whose button value points the intent at another organisation's
        # project (Forest itself would accept such a vote: it never matches the intent)
        cross = json.loads(json.dumps(payload))
        cross["user"] = {**payload["user"], "id": system.users["carol"].slack_id}
        cross["actions"][0]["value"] = ids.encode_value(
            ids.ReleaseRef("globex", "web", intent, "production")
        )
        body, content_type = encode("interactive", cross)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url,
                data=body,
                headers=signed_headers(SIGNING_SECRET, body, content_type=content_type),
            ) as response,
        ):
            assert response.status == 200
        await eventually(lambda: "no such release" in last_ephemeral(ws, "carol"), WAIT)

        state = await approval_state(system, intent)
        assert [d.username for d in state.decisions] == ["alice"]  # no forgery had an effect
        assert ids.ACTION_APPROVE in buttons(release_message(ws))
