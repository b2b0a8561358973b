"""User links: tokens never reach the database in clear; another key fails clearly; unlink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection

from bot.store import InvalidKey, Store, TokenCipher
from forestd.db.engine import make_engine

TOKEN = "fpat_S3cretToken-4f1d9a7c2e6b8d0f"
ALICE = "3f8e0a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
BOB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def _every_value(connection: Connection) -> list[Any]:
    metadata = MetaData()
    metadata.reflect(connection)
    return [
        value
        for table in metadata.sorted_tables
        for row in connection.execute(select(table))
        for value in row
    ]


async def every_value_in(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_every_value)
    finally:
        await engine.dispose()


def _contains(value: Any, secret: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return secret.encode() in bytes(value)
    return secret in str(value)


async def test_the_token_is_stored_encrypted_only(database_url: str, cipher: TokenCipher) -> None:
    async with await Store.open(database_url, cipher) as store:
        await store.link_user("T1", "U1", ALICE, "alice", TOKEN)
        linked = await store.user_link("T1", "U1")
        assert linked is not None and linked.token == TOKEN
        assert TOKEN not in repr(linked)

    values = await every_value_in(database_url)
    assert ALICE in values and "alice" in values  # the row is there, and was read
    assert not [v for v in values if _contains(v, TOKEN)]
    if database_url.startswith("sqlite"):
        database = Path(database_url.split("///", 1)[1])
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert database in files
        for path in files:  # the database, and any WAL or journal left beside it
            data = path.read_bytes()
            assert b"alice" in data or path != database
            assert TOKEN.encode() not in data, f"plaintext token in {path.name}"


async def test_a_store_with_another_key_cannot_decrypt(database_url: str) -> None:
    async with await Store.open(database_url, TokenCipher(TokenCipher.generate_key())) as store:
        await store.link_user("T1", "U1", ALICE, "alice", TOKEN)
    async with await Store.open(database_url, TokenCipher(TokenCipher.generate_key())) as other:
        with pytest.raises(InvalidKey, match="encrypted with another key"):
            await other.user_link("T1", "U1")
        with pytest.raises(InvalidKey):
            await other.links_for_forest_user(ALICE)
        # ids need no key: mentions still work, and the user can link again
        assert await other.slack_ids_for("T1", [ALICE]) == {ALICE: "U1"}
        await other.link_user("T1", "U1", ALICE, "alice", "fpat_new")
        relinked = await other.user_link("T1", "U1")
        assert relinked is not None and relinked.token == "fpat_new"


async def test_relink_replaces_and_unlink_removes(store: Store) -> None:
    assert await store.user_link("T1", "U1") is None
    await store.link_user("T1", "U1", ALICE, "alice", TOKEN)
    first = await store.user_link("T1", "U1")
    await store.link_user("T1", "U1", BOB, "bob", "fpat_bob")  # one link per Slack user
    second = await store.user_link("T1", "U1")
    assert first is not None and second is not None
    assert (second.forest_user_id, second.username, second.token) == (BOB, "bob", "fpat_bob")
    assert second.linked_at >= first.linked_at and second.linked_at.tzinfo is not None
    assert await store.links_for_forest_user(ALICE) == []

    assert await store.unlink_user("T1", "U1")
    assert await store.user_link("T1", "U1") is None
    assert not await store.unlink_user("T1", "U1")


async def test_slack_ids_for_and_links_for_forest_user(store: Store) -> None:
    await store.link_user("T1", "U1", ALICE, "alice", "a1")
    await store.link_user("T1", "U2", BOB, "bob", "b1")
    await store.link_user("T2", "W9", ALICE, "alice", "a2")  # alice in a second workspace

    assert await store.slack_ids_for("T1", iter([ALICE, BOB, ALICE, "unknown"])) == {
        ALICE: "U1",
        BOB: "U2",
    }
    assert await store.slack_ids_for("T2", [ALICE, BOB]) == {ALICE: "W9"}
    assert await store.slack_ids_for("T1", []) == {}
    many = [f"user-{n}" for n in range(1200)] + [BOB]  # more than one IN (...) chunk
    assert await store.slack_ids_for("T1", many) == {BOB: "U2"}

    links = await store.links_for_forest_user(ALICE)
    assert [(link.team_id, link.slack_user_id, link.token) for link in links] == [
        ("T1", "U1", "a1"),
        ("T2", "W9", "a2"),
    ]
