"""Event delivery latency: an org_events row committed → the event received on Subscribe streams.

A real forestd runs in a child process (its own interpreter and event loop, the event feed
attached as a component) on SQLite and on PostgreSQL (when reachable), with real NATS (an
embedded nats-server). This process plays another writer of the same database, as a second
replica would: it commits N events, one transaction each, through forestd's own unit of work
(so `forest.events.{org}` is published after each commit) at a steady rate, while S Subscribe
streams of the organisation are open over real gRPC. For every event on every stream it
measures the time from just before COMMIT to the event's arrival, and prints p50 / p90 / p99 /
max. Then it times a replay of all N events on a new stream (`since_sequence`).

    .venv/bin/python bench/event_latency.py --events 2000
    .venv/bin/python bench/event_latency.py --events 5000 --rate 500 --streams 8 --databases sqlite

Goal: live delivery well under a second; we hold p99 < 100 ms at 200 events/s.
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

GOAL_P99_MS = 100.0
ORG = "bench"


@dataclass
class Fixture:
    address: str
    token: str


# ---- the server process -------------------------------------------------------------------


async def _serve(conn: Connection, database_url: str, nats_url: str) -> None:
    from forestd.event_feed import attach
    from forestd.provisioning import (
        add_member,
        create_organisation,
        create_project,
        create_token,
        create_user,
    )

    async with common.started_forestd(database_url, nats_url, attach) as server:
        assert server.ctx is not None
        async with server.ctx.db.transaction() as uow:
            org = await create_organisation(uow, ORG)
            await create_project(uow, org, "api")
            user = await create_user(uow, "reader")
            await add_member(uow, org, user, "member")
            _, token = await create_token(uow, user)
        conn.send(Fixture(server.address, token))
        await common.until_stopped(conn)


# ---- the client: a second writer and the streams ------------------------------------------


@dataclass
class Result:
    latencies_ms: list[float]
    produce_seconds: float
    replay_seconds: float
    replayed: int


async def _measure(
    fixture: Fixture, database_url: str, nats_url: str, args: argparse.Namespace
) -> Result:
    import grpc

    from forest.v1 import events_pb2, events_pb2_grpc
    from forestd.bus import Bus
    from forestd.db.engine import make_engine
    from forestd.uow import Database

    bus = Bus()
    await bus.connect(nats_url)
    db = Database(make_engine(database_url), bus)
    metadata = (("authorization", f"Bearer {fixture.token}"),)
    committing: dict[str, float] = {}
    latencies: list[float] = []
    first_sequence = 0

    async with grpc.aio.insecure_channel(fixture.address) as channel:
        stub = events_pb2_grpc.EventServiceStub(channel)

        async def consume(done: asyncio.Event, remaining: list[int]) -> None:
            call = stub.Subscribe(
                events_pb2.SubscribeEventsRequest(organisation=ORG), metadata=metadata
            )
            ready.release()
            async for event in call:
                if int(event.resource_id[1:]) >= args.warmup:
                    latencies.append((time.perf_counter() - committing[event.resource_id]) * 1000)
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()
                    call.cancel()
                    return

        ready = asyncio.Semaphore(0)
        done = [asyncio.Event() for _ in range(args.streams)]
        consumers = [asyncio.ensure_future(consume(d, [args.events + args.warmup])) for d in done]
        for _ in range(args.streams):
            await ready.acquire()
        await asyncio.sleep(0.5)  # the streams are past their start-up read

        interval = 1.0 / args.rate
        started = time.perf_counter()
        for k in range(args.events + args.warmup):
            async with db.transaction() as uow:
                row = uow.record_event(ORG, "release", "created", f"e{k}", project="api")
                await uow.session.flush()
                committing[f"e{k}"] = time.perf_counter()
            if k == 0:
                first_sequence = row.sequence
            delay = started + (k + 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        produce_seconds = time.perf_counter() - started
        await asyncio.wait_for(asyncio.gather(*(d.wait() for d in done)), 60)
        await asyncio.gather(*consumers, return_exceptions=True)

        replay_started = time.perf_counter()
        call = stub.Subscribe(
            events_pb2.SubscribeEventsRequest(organisation=ORG, since_sequence=first_sequence - 1),
            metadata=metadata,
        )
        replayed = 0
        async for _event in call:
            replayed += 1
            if replayed == args.events + args.warmup:
                call.cancel()
                break
        replay_seconds = time.perf_counter() - replay_started

    await bus.close()
    await db.engine.dispose()
    return Result(latencies, produce_seconds, replay_seconds, replayed)


def run_one(label: str, database_url: str, nats_url: str, args: argparse.Namespace) -> bool:
    with common.server_process(_serve, database_url, nats_url) as fixture:
        result = asyncio.run(_measure(fixture, database_url, nats_url, args))
    return common.print_figures(
        f"{label:<10} events={args.events:<5} streams={args.streams:<2} "
        f"rate={args.events / result.produce_seconds:5.0f}/s ",  # two spaces before p50
        result.latencies_ms,
        f"replay {result.replayed} in {result.replay_seconds * 1000:.0f} ms "
        f"({result.replayed / result.replay_seconds:,.0f} events/s)",
        GOAL_P99_MS,
        max_width=7,
        with_load=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events to time (default 2000)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed events first (default 20)")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="events/s committed (default 200)"
    )
    parser.add_argument("--streams", type=int, default=4, help="open Subscribe streams (default 4)")
    args = common.parse_run_arguments(parser, argv)
    return common.run_on_each_database(
        run_one,
        args,
        f"event latency: {args.events} events, one commit each at {args.rate:g}/s by a second "
        f"writer, {args.streams} Subscribe streams, real gRPC + NATS, forestd in its own "
        f"process, {os.cpu_count()} CPUs",
    )


if __name__ == "__main__":
    raise SystemExit(main())
