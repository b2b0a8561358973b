"""A channel gone (archived, or the bot removed): its subscriptions are dropped with one log
line, and whoever subscribed it is told by DM (real sandbox over HTTP, real SQLite store)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channel_gone import drop_gone_channel
from bot.metrics import Metrics
from bot.slack_gateway import SlackGateway, make_client
from bot.store import Store, TokenCipher
from sandbox.server import Sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    cipher = TokenCipher(TokenCipher.generate_key())
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", cipher) as opened:
        yield opened


def gateway(sandbox: Sandbox) -> SlackGateway:
    app = sandbox.workspace.app
    return SlackGateway(make_client(app.bot_token, sandbox.api_url), Metrics())


def gone_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]


async def test_subscriptions_dropped_logged_once_and_the_subscriber_told(
    sandbox: Sandbox, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ws = sandbox.workspace
    team, deploys, general = ws.app.team_id, ws.channel("deploys"), ws.channel("general")
    alice = ws.user("alice")
    assert deploys is not None and general is not None and alice is not None
    await store.subscribe(team, deploys.id, "acme", "api", created_by=alice.id)
    await store.subscribe(team, deploys.id, "acme", "web", created_by=alice.id)
    await store.subscribe(team, deploys.id, "globex", "web", created_by="forest-bot dev")
    await store.subscribe(team, general.id, "acme", "api", created_by=alice.id)
    ws.archive_channel("deploys")

    with caplog.at_level(logging.INFO):
        removed = await drop_gone_channel(store, gateway(sandbox), team, deploys.id, "is_archived")

    assert removed == 3
    assert await store.subscriptions_for_channel(team, deploys.id) == []
    assert len(await store.subscriptions_for_channel(team, general.id)) == 1
    dm = ws.im_with(alice.id)
    [notice] = ws.top_level(dm.id)
    assert "archived" in notice.text and "acme/api" in notice.text and "acme/web" in notice.text
    assert f"<#{deploys.id}>" in notice.text and "globex" not in notice.text
    assert len(gone_lines(caplog)) == 1


async def test_a_subscriber_who_cannot_be_told_is_named_in_the_same_line(
    sandbox: Sandbox, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ws = sandbox.workspace
    team, deploys = ws.app.team_id, ws.channel("deploys")
    assert deploys is not None
    await store.subscribe(team, deploys.id, "acme", "api", created_by="U0NOBODY01")

    with caplog.at_level(logging.INFO):
        removed = await drop_gone_channel(
            store, gateway(sandbox), team, deploys.id, "channel_not_found"
        )

    assert removed == 1
    [line] = gone_lines(caplog)
    assert "U0NOBODY01 (channel_not_found)" in line
