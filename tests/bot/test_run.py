"""`forest-bot run`: a missing or wrong setting, or a dependency that is not there, is one clear
line naming it, and the process exits non-zero without a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.store import TokenCipher


def _run(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FOREST_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,  # no .env here
        timeout=120,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("forest-bot")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_setting_is_named(tmp_path: Path) -> None:
    result = _run({}, tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in _one_line(result)


def test_socket_mode_needs_the_app_token(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "FOREST_SERVICE_TOKEN": "s",
        "FOREST_BOT_TOKEN_KEY": TokenCipher.generate_key(),
    }
    result = _run(env, tmp_path)
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in _one_line(result)


def test_wrong_key_and_unreachable_slack_are_one_line(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "FOREST_SERVICE_TOKEN": "s",
        "FOREST_BOT_TOKEN_KEY": "not-a-fernet-key",
    }
    result = _run(env, tmp_path)
    assert result.returncode == 1
    assert "FOREST_BOT_TOKEN_KEY" in _one_line(result)

    env["FOREST_BOT_TOKEN_KEY"] = TokenCipher.generate_key()
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    result = _run(env, tmp_path)
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN" in _one_line(result)


def test_dev_on_a_taken_port_is_one_line_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "dev", "--port", str(port),
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    line = _one_line(result)
    assert f"port {port}" in line and "--port" in line
    assert result.stdout == ""  # nothing claimed to be running
