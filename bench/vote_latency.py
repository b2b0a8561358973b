"""Vote RPC latency: ExternalApproveRelease / ExternalRejectRelease over real gRPC.

A real forestd runs in a child process (its own interpreter and event loop, as in production)
on SQLite and on PostgreSQL (when reachable), with real NATS (an embedded nats-server, so every
vote also publishes forest.events.{org} and forest.intent.evaluate). The client casts N votes
one after another, by several users in turn over several open release intents, alternating
approve and reject, and prints p50 / p90 / p99 / max.

    .venv/bin/python bench/vote_latency.py --votes 500
    .venv/bin/python bench/vote_latency.py --votes 2000 --databases sqlite --concurrency 8

Goal (DESIGN §7): p99 < 20 ms on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from common import add_run_arguments, percentile, run_on_each_database  # noqa: E402

GOAL_P99_MS = 20.0
SERVICE_TOKEN = "bench-service-token"


@dataclass
class Fixture:
    """What the server process provisioned: where it listens and who votes on what."""

    address: str
    tokens: list[str]
    intents: list[str]


# ---- the server process -------------------------------------------------------------------


async def _provision(server: object, voters: int, intents: int) -> tuple[list[str], list[str]]:
    from forest.v1 import policies_pb2
    from forestd.auth import SERVICE_ACCOUNT_ID
    from forestd.db.models import Artifact, ReleaseIntent
    from forestd.policy_engine import policy_row
    from forestd.provisioning import (
        add_member,
        create_organisation,
        create_project,
        create_token,
        create_user,
    )

    db = server.ctx.db  # type: ignore[attr-defined]
    tokens: list[str] = []
    intent_ids: list[str] = []
    async with db.transaction() as uow:
        org = await create_organisation(uow, "bench")
        project = await create_project(uow, org, "api")
        for i in range(voters):
            user = await create_user(uow, f"voter{i}")
            await add_member(uow, org, user, "admin" if i == 0 else "member")
            tokens.append((await create_token(uow, user))[1])
        gate = policies_pb2.ExternalApprovalConfig(
            target_environment="production", required_approvals=voters + 1
        )
        uow.session.add(policy_row(project.id, "gate", gate))
        for i in range(intents):
            artifact = Artifact(project_id=project.id, slug=f"api-{i}", branch="main")
            uow.session.add(artifact)
            await uow.session.flush()
            intent = ReleaseIntent(
                project_id=project.id,
                artifact_id=artifact.id,
                actor_id=SERVICE_ACCOUNT_ID,
                actor_type="service",
                branch="main",
            )
            uow.session.add(intent)
            await uow.session.flush()
            intent_ids.append(intent.id)
    return tokens, intent_ids


async def _serve(
    conn: Connection,
    database_url: str,
    nats_url: str | None,
    voters: int,
    intents: int,
    coordinator: bool,
) -> None:
    from forestd.config import ForestSettings
    from forestd.runner import attach
    from forestd.server import ForestServer

    server = ForestServer(
        ForestSettings(
            database_url=database_url,
            grpc_address="127.0.0.1:0",
            nats_url=nats_url,
            service_token=SERVICE_TOKEN,
        )
    )
    if coordinator:
        attach(server)  # the coordinator and runner, as `forest serve` runs them
    await server.start()
    gc.freeze()  # as `forest-bot forest serve` does after start-up
    try:
        tokens, intent_ids = await _provision(server, voters, intents)
        conn.send(Fixture(server.address, tokens, intent_ids))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    finally:
        await server.stop(grace=1)


def _server_main(
    conn: Connection,
    database_url: str,
    nats_url: str | None,
    voters: int,
    intents: int,
    coordinator: bool,
) -> None:
    try:
        asyncio.run(_serve(conn, database_url, nats_url, voters, intents, coordinator))
    except BaseException as exc:  # report start-up failures to the parent instead of hanging it
        conn.send(exc)
        raise


# ---- the client --------------------------------------------------------------------------


async def _vote_latencies(
    fixture: Fixture, votes: int, warmup: int, concurrency: int, pace_ms: float = 0.0
) -> list[float]:
    import grpc

    from forest.v1 import policies_pb2, policies_pb2_grpc, releases_pb2

    project = releases_pb2.Project(organisation="bench", project="api")
    voters = len(fixture.tokens)

    async with grpc.aio.insecure_channel(fixture.address) as channel:
        stub = policies_pb2_grpc.PolicyServiceStub(channel)

        async def cast(k: int) -> float:
            token = fixture.tokens[k % voters]
            intent = fixture.intents[(k // voters) % len(fixture.intents)]
            metadata = (("authorization", f"Bearer {token}"),)
            approve = (k // (voters * len(fixture.intents))) % 2 == 0
            started = time.perf_counter()
            if approve:
                await stub.ExternalApproveRelease(
                    policies_pb2.ExternalApproveReleaseRequest(
                        project=project,
                        release_intent_id=intent,
                        target_environment="production",
                        comment=f"vote {k}",
                    ),
                    metadata=metadata,
                )
            else:
                await stub.ExternalRejectRelease(
                    policies_pb2.ExternalRejectReleaseRequest(
                        project=project, release_intent_id=intent, target_environment="production"
                    ),
                    metadata=metadata,
                )
            return (time.perf_counter() - started) * 1000

        for k in range(warmup):
            await cast(k)
        latencies: list[float] = []
        next_vote = iter(range(warmup, warmup + votes))

        async def worker() -> None:
            for k in next_vote:
                latencies.append(await cast(k))
                if pace_ms:
                    await asyncio.sleep(pace_ms / 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies


def run_one(label: str, database_url: str, nats_url: str | None, args: argparse.Namespace) -> bool:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(
        target=_server_main,
        args=(child, database_url, nats_url, args.voters, args.intents, not args.no_coordinator),
    )
    process.start()
    try:
        fixture = parent.recv()
        if isinstance(fixture, BaseException):
            raise fixture
        started = time.perf_counter()
        latencies = asyncio.run(
            _vote_latencies(fixture, args.votes, args.warmup, args.concurrency, args.pace)
        )
        elapsed = time.perf_counter() - started
    finally:
        if process.is_alive():
            parent.send("stop")
        process.join(timeout=15)
    ordered = sorted(latencies)
    p50, p90, p99 = (percentile(ordered, f) for f in (0.50, 0.90, 0.99))
    ok = p99 < GOAL_P99_MS
    print(
        f"{label:<10} votes={len(ordered):<5} conc={args.concurrency:<2} "
        f"p50={p50:6.2f}ms p90={p90:6.2f}ms p99={p99:6.2f}ms max={ordered[-1]:6.2f}ms "
        f"mean={statistics.fmean(ordered):6.2f}ms  {len(ordered) / elapsed:6.0f} votes/s  "
        f"{'OK' if ok else 'OVER'} (goal p99 < {GOAL_P99_MS:.0f} ms)  "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--votes", type=int, default=500, help="votes to time (default 500)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed votes first (default 20)")
    parser.add_argument("--voters", type=int, default=4, help="users taking turns (default 4)")
    parser.add_argument("--intents", type=int, default=5, help="open release intents (default 5)")
    parser.add_argument("--concurrency", type=int, default=1, help="votes in flight (default 1)")
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="ms each worker waits between votes (default 0: back to back)",
    )
    parser.add_argument(
        "--no-coordinator",
        action="store_true",
        help="serve without the coordinator and runner (votes alone)",
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)


    print(
        f"vote latency: {args.votes} sequential-per-worker votes by {args.voters} users over "
        f"{args.intents} intents, real gRPC + NATS, forestd in its own process, "
        f"{'' if args.no_coordinator else 'with the coordinator, '}"
        f"pace {args.pace:g} ms, {os.cpu_count()} CPUs",
        flush=True,
    )
    return run_on_each_database(run_one, args)


if __name__ == "__main__":
    raise SystemExit(main())
