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
import os
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402

GOAL_P99_MS = 20.0


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
    from forestd.runner import attach

    # with the coordinator and runner, as `forest serve` runs them, unless --no-coordinator
    components = attach if coordinator else None
    async with common.started_forestd(database_url, nats_url, components) as server:
        tokens, intent_ids = await _provision(server, voters, intents)
        conn.send(Fixture(server.address, tokens, intent_ids))
        await common.until_stopped(conn)


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
    coordinator = not args.no_coordinator
    with common.server_process(
        _serve, database_url, nats_url, args.voters, args.intents, coordinator
    ) as fixture:
        started = time.perf_counter()
        latencies = asyncio.run(
            _vote_latencies(fixture, args.votes, args.warmup, args.concurrency, args.pace)
        )
        elapsed = time.perf_counter() - started
    return common.print_figures(
        f"{label:<10} votes={len(latencies):<5} conc={args.concurrency:<2}",
        latencies,
        f"{len(latencies) / elapsed:6.0f} votes/s",
        GOAL_P99_MS,
    )


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
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
    args = common.parse_run_arguments(parser, argv)
    return common.run_on_each_database(
        run_one,
        args,
        f"vote latency: {args.votes} sequential-per-worker votes by {args.voters} users over "
        f"{args.intents} intents, real gRPC + NATS, forestd in its own process, "
        f"{'' if args.no_coordinator else 'with the coordinator, '}"
        f"pace {args.pace:g} ms, {os.cpu_count()} CPUs",
    )


if __name__ == "__main__":
    raise SystemExit(main())
