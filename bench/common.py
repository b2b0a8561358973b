"""What the benchmarks share: percentiles, a scratch PostgreSQL database, the per-database run,
forestd in a child process."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

RunOne = Callable[[str, str, str, argparse.Namespace], bool]


def percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms)) - 1))
    return sorted_ms[index]


def latency_figures(latencies_ms: list[float]) -> tuple[str, float]:
    """The "p50=… p90=… p99=… max=… mean=…" of the latencies, and their p99 (for the goal)."""
    ordered = sorted(latencies_ms)
    p50, p90, p99 = (percentile(ordered, f) for f in (0.50, 0.90, 0.99))
    return (
        f"p50={p50:6.2f}ms p90={p90:6.2f}ms p99={p99:6.2f}ms max={ordered[-1]:6.2f}ms "
        f"mean={statistics.fmean(ordered):6.2f}ms",
        p99,
    )


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


# ---- forestd in a child process -----------------------------------------------------------


@contextmanager
def server_process(target: Callable[..., None], *args: Any) -> Iterator[Any]:
    """Run target(conn, *args) in a spawned child (its own interpreter and event loop) and
    yield what it sends first (its fixture, or the exception it failed with, raised here).
    On exit the child is told to stop (see until_stopped) and joined."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, *args))
    process.start()
    try:
        fixture = parent.recv()
        if isinstance(fixture, BaseException):
            raise fixture
        yield fixture
    finally:
        if process.is_alive():
            parent.send("stop")
        process.join(timeout=15)


def serve_in_child(conn: Connection, serve: Coroutine[Any, Any, None]) -> None:
    """The child's body: run serve, which sends its fixture on conn then awaits
    until_stopped(conn); a failure is sent to the parent instead of leaving it waiting."""
    try:
        asyncio.run(serve)
    except BaseException as exc:
        conn.send(exc)
        raise


async def until_stopped(conn: Connection) -> None:
    """Wait, without blocking the event loop, until the parent says stop."""
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
