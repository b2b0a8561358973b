"""The installed `forest-bot` console script answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli


def _script() -> str:
    beside_python = Path(sys.executable).with_name("forest-bot")
    found = str(beside_python) if beside_python.exists() else shutil.which("forest-bot")
    if not found:
        pytest.fail("the forest-bot console script is not installed (pip install -e .)")
    return found


def test_console_script_prints_help() -> None:
    result = subprocess.run([_script(), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "usage: forest-bot" in result.stdout
    assert "Slack ChatOps for Forest" in result.stdout


def test_console_script_reports_its_version() -> None:
    result = subprocess.run([_script(), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("forest-bot ")


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
