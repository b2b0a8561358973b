"""End-to-end: the whole system of `forest-bot dev` (real NATS, forestd over gRPC, SQLite, the
Slack sandbox, the bot in Socket Mode or HTTP mode). Assertions read what the sandbox holds (what a
person sees in Slack) and what Forest holds, never the bot's memory.

`system` runs once per forestd behaviour: `intended` (forestd's own rules) and `forest` (real
Forest's documented gaps: `forest serve --compat forest`), so the bot leans on neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devsystem import DevOptions, DevSystem


def options(tmp_path: Path, nats_url: str, **overrides: object) -> DevOptions:
    values: dict[str, object] = {
        "state_dir": tmp_path / "dev",
        "sandbox_port": 0,
        "nats_url": nats_url,
        "soak_seconds": 2,
        "deploy_seconds": 0.2,
        "sweep_seconds": 0.3,
        "rate_limits": False,
    }
    values.update(overrides)
    return DevOptions(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["intended", "forest"])
def compat(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def system(tmp_path: Path, nats_url: str, compat: str) -> AsyncIterator[DevSystem]:
    async with DevSystem(options(tmp_path, nats_url, compat=compat)) as running:
        yield running
