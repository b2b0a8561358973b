"""Release states latency: ReleaseService.GetReleaseIntentStates over real gRPC.

The Slack bot calls it (organisation + project, live intents only) to re-render the release
messages on every event. A real forestd runs in a child process (its own interpreter and event
loop, the coordinator and runner included, as in production) on SQLite and on PostgreSQL (when
reachable), with real NATS (an embedded nats-server). It provisions a project with demo
destinations for staging and production and the pipeline deploy staging -> plan production ->
deploy production, then starts N release intents through the Release RPC; the deploys take an
hour, so every intent stays live (deploy-staging ACTIVE, 8 steps RUNNING, the rest QUEUED).
The client then reads the states one call at a time with a user's token, checks every
response (min(N, 50) intents, newest first, 3 stages each) and prints p50 / p90 / p99 / max.

    .venv/bin/python bench/intent_states.py
    .venv/bin/python bench/intent_states.py --intents 200 --databases sqlite

Goal: p99 < 100 ms on SQLite and on PostgreSQL.
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

# The bot calls it once per refresh, i.e. after every event of the organisation.
GOAL_P99_MS = 100.0
ORG, PROJECT = "bench", "api"
STAGES = 3  # deploy-staging -> plan-production -> deploy-production
DEPLOY_SECONDS = 3600  # the demo deploys outlast the run: every intent stays live


@dataclass
class Fixture:
    address: str
    token: str
    expected: int  # intents a response holds: min(--intents, Forest's page of 50)


# ---- the server process -------------------------------------------------------------------


async def _provision(server: object) -> str:
    """The organisation, a user (admin) with a token, the project and its demo destinations."""
    from forestd.provisioning import (
        add_member,
        create_destination,
        create_organisation,
        create_project,
        create_token,
        create_user,
    )

    async with server.ctx.db.transaction() as uow:  # type: ignore[attr-defined]
        org = await create_organisation(uow, ORG)
        await create_project(uow, org, PROJECT)
        user = await create_user(uow, "alice")
        await add_member(uow, org, user, "admin")
        _, token = await create_token(uow, user)
        for environment in ("staging", "production"):
            await create_destination(
                uow,
                org,
                f"{ORG}-{environment}",
                environment,
                config={"deploy_seconds": DEPLOY_SECONDS, "plan_seconds": 0.05},
            )
    return token


async def _start_intents(server: object, token: str, intents: int) -> None:
    """The pipeline, then `intents` releases through the Release RPC, and wait until each is
    past creation: deploy-staging ACTIVE (its steps queued or running) on every one."""
    import grpc
    from sqlalchemy import func, select

    from forest.v1 import release_pipelines_pb2 as pipelines_pb2
    from forest.v1 import release_pipelines_pb2_grpc as pipelines_pb2_grpc
    from forest.v1 import releases_pb2, releases_pb2_grpc
    from forestd.db.models import Artifact, PipelineStageState, Project

    db = server.ctx.db  # type: ignore[attr-defined]
    metadata = (("authorization", f"Bearer {token}"),)
    stages = [
        pipelines_pb2.PipelineStage(
            id="deploy-staging", deploy=pipelines_pb2.DeployStageConfig(environment="staging")
        ),
        pipelines_pb2.PipelineStage(
            id="plan-production",
            depends_on=["deploy-staging"],
            plan=pipelines_pb2.PlanStageConfig(environment="production"),
        ),
        pipelines_pb2.PipelineStage(
            id="deploy-production",
            depends_on=["plan-production"],
            deploy=pipelines_pb2.DeployStageConfig(environment="production"),
        ),
    ]
    async with db.transaction() as uow:
        project_id = await uow.session.scalar(select(Project.id).where(Project.name == PROJECT))
        artifacts = [
            Artifact(
                project_id=project_id,
                slug=f"{PROJECT}-{i}",
                commit_sha=f"{i:040x}",
                branch="main",
                commit_message=f"change {i}",
                title=f"change {i}",
            )
            for i in range(intents)
        ]
        uow.session.add_all(artifacts)
        await uow.session.flush()
        artifact_ids = [a.id for a in artifacts]

    async with grpc.aio.insecure_channel(server.address) as channel:  # type: ignore[attr-defined]
        await pipelines_pb2_grpc.ReleasePipelineServiceStub(channel).CreateReleasePipeline(
            pipelines_pb2.CreateReleasePipelineRequest(
                project=releases_pb2.Project(organisation=ORG, project=PROJECT),
                name="default",
                stages=stages,
            ),
            metadata=metadata,
        )
        releases = releases_pb2_grpc.ReleaseServiceStub(channel)
        for artifact_id in artifact_ids:
            await releases.Release(
                releases_pb2.ReleaseRequest(artifact_id=artifact_id, use_pipeline=True),
                metadata=metadata,
            )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30 + 0.5 * intents
    while True:
        async with db.read() as session:
            active = await session.scalar(
                select(func.count()).where(
                    PipelineStageState.stage_id == "deploy-staging",
                    PipelineStageState.status == "ACTIVE",
                )
            )
        if active == intents:
            return
        if loop.time() > deadline:
            raise RuntimeError(f"only {active} of {intents} intents reached deploy-staging")
        await asyncio.sleep(0.1)


async def _serve(conn: Connection, database_url: str, nats_url: str, intents: int) -> None:
    from forestd.runner import attach
    from forestd.services.releases import MAX_INTENTS

    # with the coordinator and runner, as `forest serve` runs them
    async with common.started_forestd(database_url, nats_url, attach) as server:
        token = await _provision(server)
        await _start_intents(server, token, intents)
        conn.send(Fixture(server.address, token, min(intents, MAX_INTENTS)))
        await common.until_stopped(conn)


# ---- the client --------------------------------------------------------------------------


@dataclass
class Result:
    latencies_ms: list[float]
    seconds: float
    response_bytes: int


async def _read_latencies(fixture: Fixture, calls: int, warmup: int) -> Result:
    import grpc

    from forest.v1 import releases_pb2, releases_pb2_grpc

    request = releases_pb2.GetReleaseIntentStatesRequest(organisation=ORG, project=PROJECT)
    metadata = (("authorization", f"Bearer {fixture.token}"),)

    def check(response: releases_pb2.GetReleaseIntentStatesResponse) -> None:
        intents = response.release_intents
        if len(intents) != fixture.expected:
            raise RuntimeError(f"{len(intents)} intents in the response, {fixture.expected} live")
        created = [i.created_at for i in intents]
        if created != sorted(created, reverse=True):
            raise RuntimeError("the intents are not newest first")
        for intent in intents:
            if len(intent.stages) != STAGES:
                raise RuntimeError(
                    f"intent {intent.release_intent_id} has {len(intent.stages)} stages, "
                    f"not {STAGES}:\n{intent}"
                )

    async with grpc.aio.insecure_channel(fixture.address) as channel:
        stub = releases_pb2_grpc.ReleaseServiceStub(channel)
        for _ in range(warmup):
            check(await stub.GetReleaseIntentStates(request, metadata=metadata))
        latencies: list[float] = []
        started = time.perf_counter()
        for _ in range(calls):
            sent = time.perf_counter()
            response = await stub.GetReleaseIntentStates(request, metadata=metadata)
            latencies.append((time.perf_counter() - sent) * 1000)
            check(response)
        seconds = time.perf_counter() - started
    return Result(latencies, seconds, response.ByteSize())


def run_one(label: str, database_url: str, nats_url: str, args: argparse.Namespace) -> bool:
    with common.server_process(_serve, database_url, nats_url, args.intents) as fixture:
        result = asyncio.run(_read_latencies(fixture, args.calls, args.warmup))
    return common.print_figures(
        f"{label:<10} calls={args.calls:<5} intents={fixture.expected}/{args.intents:<4}",
        result.latencies_ms,
        f"{args.calls / result.seconds:5.0f} calls/s  "
        f"{result.response_bytes / 1024:5.1f} KiB each",
        GOAL_P99_MS,
    )


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
    parser.add_argument(
        "--intents",
        type=int,
        default=50,
        help="live release intents (default 50, the most a response holds)",
    )
    parser.add_argument("--calls", type=int, default=500, help="calls to time (default 500)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first (default 20)")
    args = common.parse_run_arguments(parser, argv)
    if args.intents < 1 or args.calls < 1:
        parser.error("--intents and --calls must be at least 1")
    return common.run_on_each_database(
        run_one,
        args,
        f"release states latency: {args.calls} GetReleaseIntentStates calls one at a time, "
        f"{args.intents} live intents of a 3-stage pipeline, real gRPC + NATS, forestd in its "
        f"own process with the coordinator and runner, {os.cpu_count()} CPUs",
    )


if __name__ == "__main__":
    raise SystemExit(main())
