"""HTTP mode: forged and replayed requests, beyond test_http_mode's three (body changed after
signing, wrong secret, tampered body with a ten-minute-old timestamp). Each is answered 401 and
has no effect: no vote in Forest, the release message unchanged, no ephemeral, no command run.

Slack's signature scheme has no nonce: the exact bytes of an accepted request are accepted again
within Slack's five minutes. A replay is refused once its timestamp is older than that, so the
replay case re-sends an accepted click's exact body under its signature from more than five
minutes ago (the test cannot wait five minutes).
"""

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
from .story import last_ephemeral, release_message, shown
from .test_bypass import _gate_open
from .test_story import WAIT, approval_state

FORM = "application/x-www-form-urlencoded"


def _signed(body: str, timestamp: int, content_type: str = FORM) -> dict[str, str]:
    return signed_headers(SIGNING_SECRET, body, timestamp=timestamp, content_type=content_type)


async def test_forged_and_replayed_requests_get_401_and_change_nothing(
    tmp_path: Path, nats_url: str
) -> None:
    async with DevSystem(options(tmp_path, nats_url, mode="http", soak_seconds=1)) as system:
        assert system.sandbox is not None and system.bot is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        intent = await _gate_open(system, "bob")
        await driver.click("alice", message=release_message(ws), action_id=ids.ACTION_APPROVE)
        await eventually(lambda: "1/2" in shown(release_message(ws)), WAIT)
        _, accepted, _ = driver.history[-1]  # alice's click, as the sandbox sent it

        carol = system.users["carol"].slack_id
        as_carol = json.loads(json.dumps(accepted))
        as_carol["user"] = {**accepted["user"], "id": carol}
        click, _ = encode("interactive", as_carol)
        replayed, _ = encode("interactive", accepted)
        command, _ = encode(
            "slash_commands",
            {
                "team_id": ws.app.team_id,
                "channel_id": release_message(ws).channel,  # type: ignore[union-attr]
                "user_id": system.users["alice"].slack_id,
                "command": "/forest",
                "text": "logout",
                "response_url": f"{system.sandbox.base_url}_sandbox/respond/T0/none",
                "trigger_id": "1.2.3",
            },
        )
        event, json_type = encode(
            "events_api",
            {
                "type": "event_callback",
                "team_id": ws.app.team_id,
                "event": {"type": "app_home_opened", "user": carol, "tab": "home"},
            },
        )
        now = int(time.time())
        good = _signed(click, now)
        attempts: dict[str, tuple[str, dict[str, str]]] = {
            "correctly signed, six minutes old": (click, _signed(click, now - 360)),
            "correctly signed, six minutes ahead": (click, _signed(click, now + 360)),
            "an accepted click replayed under its old signature": (
                replayed,
                _signed(replayed, now - 310),
            ),
            "signature of another body": (click, {**good, **_signed(replayed, now)}),
            "body truncated after signing": (click[:-3], good),
            "garbage signature": (click, {**good, "X-Slack-Signature": "v0=" + "0" * 64}),
            "v1 signature": (
                click,
                {**good, "X-Slack-Signature": good["X-Slack-Signature"].replace("v0=", "v1=")},
            ),
            "no signature": (
                click,
                {k: v for k, v in good.items() if k != "X-Slack-Signature"},
            ),
            "no timestamp": (
                click,
                {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"},
            ),
            "no Slack headers": (click, {"Content-Type": FORM}),
            "timestamp not a number": (
                click,
                {**good, "X-Slack-Request-Timestamp": "yesterday"},
            ),
            "a /forest logout, six minutes old": (command, _signed(command, now - 360)),
            "an event, signed with another secret": (
                event,
                signed_headers("not-the-secret", event, content_type=json_type),
            ),
        }
        before = shown(release_message(ws))
        carol_user = ws.user("carol")
        assert carol_user is not None
        ephemerals_before = len(ws.ephemerals_for(carol))
        url = f"http://127.0.0.1:{system.bot.http_port}/slack/events"
        async with aiohttp.ClientSession() as session:
            for case, (data, headers) in attempts.items():
                async with session.post(url, data=data.encode(), headers=headers) as response:
                    assert response.status == 401, case

        # no effect: Forest holds alice's vote only, nothing was answered, alice is still linked
        state = await approval_state(system, intent)
        assert [d.username for d in state.decisions] == ["alice"]
        assert shown(release_message(ws)) == before
        assert len(ws.ephemerals_for(carol)) == ephemerals_before
        assert ws.home_view(carol) is None
        await driver.command("alice", "whoami")
        await eventually(lambda: "alice" in last_ephemeral(ws, "alice").lower(), WAIT)
        assert "not linked" not in last_ephemeral(ws, "alice").lower()

        # and the same click, signed now, is carol's vote
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=click.encode(), headers=_signed(click, int(time.time()))) as r,
        ):
            assert r.status == 200
        await eventually(lambda: "2/2" in shown(release_message(ws)), WAIT)
        state = await approval_state(system, intent)
        assert sorted(d.username for d in state.decisions) == ["alice", "carol"]
