"""`forest-bot sandbox serve` runs the sandbox, prints where it is, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import cli
from sandbox.cli import build


def _script() -> str:
    beside = Path(sys.executable).with_name("forest-bot")
    found = str(beside) if beside.exists() else shutil.which("forest-bot")
    if not found:
        pytest.fail("the forest-bot console script is not installed (pip install -e .)")
    return found


async def test_serve_prints_the_ui_url_and_answers_the_web_api(tmp_path: Path) -> None:
    state = tmp_path / "ws.json"
    process = await asyncio.create_subprocess_exec(
        _script(), "sandbox", "serve", "--port", "0", "--state", str(state),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SLACK_SIGNING_SECRET": ""},
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert first.startswith("Slack sandbox UI:")
        ui_url = first.split()[-1]
        api_line = (await process.stdout.readline()).decode()
        assert api_line.split()[-1] == ui_url + "api/"
        client = AsyncWebClient(token="xoxb-sandbox-forest", base_url=ui_url + "api/")
        assert (await client.auth_test())["ok"] is True
        await client.chat_postMessage(channel="deploys", text="persist me")
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    assert code == 0
    assert "persist me" in state.read_text()


def test_serve_options(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["sandbox", "serve", "--bot-url", "http://127.0.0.1:3000/slack/events",
                              "--signing-secret", "s", "--rate-limits", "off",
                              "--ratelimit-fraction", "0.3"])
    sandbox = build(args)
    assert type(sandbox.driver.delivery).__name__ == "HttpDelivery"
    assert sandbox.rate_limits.limits == {} and sandbox.faults.ratelimit_fraction == 0.3
    default = build(parser.parse_args(["sandbox", "serve"]))
    assert type(default.driver.delivery).__name__ == "SocketModeDelivery"
    assert default.rate_limits.limits["chat.update"].calls == 50
    no_secret = parser.parse_args(["sandbox", "serve", "--bot-url", "http://x/slack/events",
                                   "--signing-secret", ""])
    with pytest.raises(SystemExit, match="signing-secret"):
        build(no_secret)


def test_serve_grants_the_manifests_bot_scopes(tmp_path: Path) -> None:
    parser = cli.build_parser()
    assert "channels:join" in build(parser.parse_args(["sandbox", "serve"])).scopes
    manifest = tmp_path / "manifest.yml"
    manifest.write_text("oauth_config:\n  scopes:\n    bot: [chat:write, commands]\n")
    sandbox = build(parser.parse_args(["sandbox", "serve", "--manifest", str(manifest)]))
    assert sandbox.scopes.header == "chat:write,commands"
    with pytest.raises(SystemExit, match="--manifest"):
        build(parser.parse_args(["sandbox", "serve", "--manifest", str(tmp_path / "no.yml")]))


async def test_a_second_sandbox_on_a_taken_port_says_so_in_one_line() -> None:
    first = await asyncio.create_subprocess_exec(
        _script(), "sandbox", "serve", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert first.stdout is not None
        ui_url = (await asyncio.wait_for(first.stdout.readline(), 60)).decode().split()[-1]
        port = ui_url.rstrip("/").rsplit(":", 1)[1]
        second = await asyncio.create_subprocess_exec(
            _script(), "sandbox", "serve", "--port", port,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        assert err.decode().splitlines() == [
            f"sandbox: cannot serve on 127.0.0.1:{port}: already in use (another sandbox?)"
        ]
        assert out == b""
        client = AsyncWebClient(token="xoxb-sandbox-forest", base_url=ui_url + "api/")
        assert (await client.auth_test())["ok"] is True  # the first one still answers
    finally:
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
