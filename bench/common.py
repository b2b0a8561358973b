"""What the benchmarks share: percentiles and the figures line, the command line, a scratch
PostgreSQL database, the per-database run, a child process (forestd, or the sandbox's bot), and
the bot itself as a child process (`forest-bot run`, as in production)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from bot.botprocess import BotProcess, bot_environment, free_port

__all__ = ["BotProcess", "bot_environment", "free_port"]  # the bot's own process, moved to bot/

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SERVICE_TOKEN = "bench-service-token"

RunOne = Callable[[str, str, str, argparse.Namespace], bool]


def percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms)) - 1))
    return sorted_ms[index]


def latency_figures(latencies_ms: list[float], max_width: int = 6) -> tuple[str, float]:
    """The "p50=… p90=… p99=… max=… mean=…" of the latencies, and their p99 (for the goal).
    max_width: the width of the max figure (the event bench prints it in 7)."""
    ordered = sorted(latencies_ms)
    p50, p90, p99 = (percentile(ordered, f) for f in (0.50, 0.90, 0.99))
    return (
        f"p50={p50:6.2f}ms p90={p90:6.2f}ms p99={p99:6.2f}ms "
        f"max={ordered[-1]:{max_width}.2f}ms mean={statistics.fmean(ordered):6.2f}ms",
        p99,
    )


def verdict(ok: bool, goal_p99_ms: float) -> str:
    """ "OK (goal p99 < … ms)", or OVER."""
    return f"{'OK' if ok else 'OVER'} (goal p99 < {goal_p99_ms:.0f} ms)"


def load() -> str:
    """The machine's load average over the last minute, as the figures lines end."""
    return f"load {os.getloadavg()[0]:.1f}"


def print_figures(
    head: str,
    latencies_ms: list[float],
    tail: str,
    goal_p99_ms: float,
    *,
    max_width: int = 6,
    with_load: bool = True,
) -> bool:
    """Print "<head> p50=… max=… mean=…  <tail>  OK (goal p99 < … ms)  load …" (without the
    load if not with_load); whether the p99 meets the goal."""
    figures, p99 = latency_figures(latencies_ms, max_width)
    ok = p99 < goal_p99_ms
    line = f"{head} {figures}  {tail}  {verdict(ok, goal_p99_ms)}"
    print(f"{line}  {load()}" if with_load else line, flush=True)
    return ok


# ---- the command line and the per-database run --------------------------------------------


def bench_parser(description: str | None) -> argparse.ArgumentParser:
    """A parser whose --help shows the script's docstring as written."""
    return argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )


def parse_run_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """The script's own options, then those of add_run_arguments, parsed."""
    add_run_arguments(parser)
    return parser.parse_args(argv)


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


def run_on_each_database(run_one: RunOne, args: argparse.Namespace, headline: str) -> int:
    """Print headline (what is measured), then run_one on SQLite and/or PostgreSQL
    (args.databases), with NATS from args or embedded. 0 if every run met its goal, else 1."""
    from bot.embedded_nats import EmbeddedNats

    print(headline, flush=True)
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


# ---- a child process: forestd, or the sandbox's bot ------------------------------------------

Serve = Callable[..., Coroutine[Any, Any, None]]


def spawn_child(serve: Serve, *args: Any) -> tuple[BaseProcess, Connection]:
    """Start serve(conn, *args) in a spawned child (its own interpreter and event loop); the
    child and this end of the pipe. serve sends what the parent waits for first on conn."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child_main, args=(child, serve, *args))
    process.start()
    return process, parent


def stop_child(process: BaseProcess, conn: Connection) -> None:
    """Tell the child to stop (see until_stopped) and join it."""
    if process.is_alive():
        with suppress(BrokenPipeError):  # it is exiting already (it failed, and said so)
            conn.send("stop")
    process.join(timeout=15)


def _child_main(conn: Connection, serve: Serve, *args: Any) -> None:
    """The child's body: a failure is sent to the parent instead of leaving it waiting."""
    try:
        asyncio.run(serve(conn, *args))
    except BaseException as exc:
        conn.send(exc)
        raise


@contextmanager
def server_process(serve: Serve, *args: Any) -> Iterator[Any]:
    """Run serve(conn, *args) in a spawned child and yield what it sends first (its fixture,
    or the exception it failed with, raised here). On exit the child is stopped."""
    process, conn = spawn_child(serve, *args)
    try:
        fixture = conn.recv()
        if isinstance(fixture, BaseException):
            raise fixture
        yield fixture
    finally:
        stop_child(process, conn)


@asynccontextmanager
async def started_forestd(
    database_url: str, nats_url: str | None, attach: Callable[[Any], object] | None = None
) -> AsyncIterator[Any]:
    """A started ForestServer on database_url and nats_url, with attach(server) before the
    start (its components: coordinator and runner, or the event feed), listening on a free
    loopback port; its start-up heap frozen as in production; stopped on exit."""
    from forestd.config import ForestSettings
    from forestd.server import ForestServer

    server = ForestServer(
        ForestSettings(
            database_url=database_url,
            grpc_address="127.0.0.1:0",
            nats_url=nats_url,
            service_token=SERVICE_TOKEN,
        )
    )
    if attach is not None:
        attach(server)
    await server.start()
    gc.freeze()  # as `forest-bot forest serve` does after start-up
    try:
        yield server
    finally:
        await server.stop(grace=1)


async def until_stopped(conn: Connection) -> None:
    """Wait, without blocking the event loop, until the parent says stop."""
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
