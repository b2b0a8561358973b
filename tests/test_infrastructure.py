"""The shared fixtures give tests a real NATS server and real, isolated PostgreSQL databases."""

from __future__ import annotations

import socket

import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.embedded_nats import EmbeddedNats


async def test_nats_fixture_carries_messages(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.subscribe("forest.test.ping")
        await nc.publish("forest.test.ping", b"hello")
        msg = await sub.next_msg(timeout=2)
        assert msg.data == b"hello"
    finally:
        await nc.close()


def test_embedded_nats_stops_and_frees_its_port() -> None:
    server = EmbeddedNats()
    url = server.start()
    assert url.startswith("nats://127.0.0.1:")
    server.stop()

    host, port = url.removeprefix("nats://").rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()


@pytest.mark.postgres
async def test_pg_url_is_a_fresh_empty_database(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            tables = await conn.scalar(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'")
            )
            assert tables == 0
            await conn.execute(text("CREATE TABLE t (id int)"))
    finally:
        await engine.dispose()
