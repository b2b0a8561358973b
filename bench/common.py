"""What the benchmarks share: percentiles, a scratch PostgreSQL database, the per-database run."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

RunOne = Callable[[str, str, str, argparse.Namespace], bool]


def percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms)) - 1))
    return sorted_ms[index]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--databases, --pg-url and --nats-url, which run_on_each_database reads."""
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FOREST_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server to create a scratch database on",
    )
    parser.add_argument(
        "--nats-url", default=None, help="NATS to use (default: an embedded nats-server)"
    )


def run_on_each_database(run_one: RunOne, args: argparse.Namespace) -> int:
    """run_one on SQLite and/or PostgreSQL (args.databases), with NATS from args or embedded."""
    from bot.embedded_nats import EmbeddedNats

    results: list[bool] = []
    nats = None if args.nats_url else EmbeddedNats()
    nats_url = args.nats_url or nats.start()  # type: ignore[union-attr]
    try:
        wanted = {d.strip() for d in args.databases.split(",") if d.strip()}
        if "sqlite" in wanted:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'forest.db'}"
                results.append(run_one("sqlite", url, nats_url, args))
        if "postgres" in wanted and (database := pg_database(args.pg_url)) is not None:
            url, name = database
            try:
                results.append(run_one("postgres", url, nats_url, args))
            finally:
                drop_pg_database(args.pg_url, name)
    finally:
        if nats is not None:
            nats.stop()
    return 0 if all(results) else 1


def pg_database(admin_url: str) -> tuple[str, str] | None:
    """A fresh database on the PostgreSQL server at admin_url: (url, name), or None."""
    import asyncpg

    name = f"forest_bench_{uuid.uuid4().hex[:10]}"
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def create() -> None:
        conn = await asyncpg.connect(dsn, timeout=3)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except Exception as exc:  # unreachable server: say so and skip
        print(f"postgres   skipped: no PostgreSQL at {admin_url} ({type(exc).__name__}: {exc})")
        return None
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}", name


def drop_pg_database(admin_url: str, name: str) -> None:
    import asyncpg

    async def drop() -> None:
        dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        conn = await asyncpg.connect(dsn, timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())
