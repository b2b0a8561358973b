"""`forest-bot forest ...`: run, migrate and seed the Forest-compatible service, start releases.

- `serve`: gRPC (with health and reflection), the intent coordinator and the in-process
  runner; settings from flags, else FORESTD_* environment variables; SIGINT/SIGTERM stop it
  gracefully. `--compat forest` reproduces the real Forest's gaps (forestd/compat.py).
- `migrate`: `alembic upgrade head` on the database.
- `seed-demo`: the demo organisation (forestd.seed); prints the users' tokens once.
- `release`: create an artifact for a commit and release it over gRPC as the token's user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import secrets
import signal
import sys
from typing import Any, get_args

import grpc

from forest.v1 import releases_pb2, releases_pb2_grpc

from . import event_feed
from .bus import Bus, BusUnavailable
from .compat import CompatMode
from .config import ForestSettings
from .db.engine import make_engine
from .db.migrate import current_revision, upgrade_head
from .errors import ForestError
from .runner import attach
from .seed import seed_demo
from .server import AddressInUse, ForestServer
from .uow import Database


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "forest", help="the Forest-compatible service (serve, migrate, seed-demo, release)"
    )
    commands = parser.add_subparsers(dest="forest_command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="serve forest.v1 over gRPC until interrupted")
    _database_flag(serve)
    serve.add_argument("--grpc-address", help="host:port to listen on (default 127.0.0.1:50051)")
    serve.add_argument("--nats-url", help="core NATS for forest.* subjects ('' disables it)")
    serve.add_argument("--service-token", help="the bearer token of Forest's service account")
    serve.add_argument(
        "--no-runner", action="store_true", help="do not run releases in this process"
    )
    serve.add_argument(
        "--compat",
        choices=get_args(CompatMode),
        help="'forest' reproduces the real Forest's gaps; default 'intended' (FORESTD_COMPAT)",
    )
    serve.set_defaults(func=serve_command)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest")
    _database_flag(migrate)
    migrate.set_defaults(func=migrate_command)

    seed = commands.add_parser(
        "seed-demo", help="create org acme (alice, bob, carol) and globex (dave)"
    )
    _database_flag(seed)
    seed.add_argument("--soak-seconds", type=int, default=60, help="staging -> production soak")
    seed.add_argument(
        "--json", action="store_true", help="print tokens, user and artifact ids as JSON"
    )
    seed.set_defaults(func=seed_command)

    release = commands.add_parser(
        "release", help="annotate a commit and release it as a given user, over gRPC"
    )
    release.add_argument("--token", required=True, help="the releasing user's personal token")
    release.add_argument("--project", required=True, help="organisation/project, e.g. acme/api")
    release.add_argument("--grpc-address", help="the server (default: FORESTD_GRPC_ADDRESS)")
    release.add_argument("--branch", default="main")
    release.add_argument("--sha", help="commit sha (default: a random one)")
    release.add_argument("--message", default="Release from forest-bot", help="commit message")
    release.add_argument(
        "--environment",
        action="append",
        default=[],
        help="release directly to this environment instead of the pipeline (repeatable)",
    )
    release.set_defaults(func=release_command)


def _database_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", help="SQLAlchemy async URL (default FORESTD_DATABASE_URL)"
    )


def settings_from(args: argparse.Namespace) -> ForestSettings:
    """FORESTD_* environment variables, overridden by the flags that were given."""
    overrides: dict[str, Any] = {}
    for name in ("database_url", "grpc_address", "nats_url", "service_token", "compat"):
        value = getattr(args, name, None)
        if value is not None:
            # an empty --nats-url turns NATS off
            overrides[name] = (value or None) if name == "nats_url" else value
    if getattr(args, "no_runner", False):
        overrides["runner_enabled"] = False
    return ForestSettings(**overrides)


def build_server(settings: ForestSettings) -> ForestServer:
    """A ForestServer with the coordinator, the in-process runner and the event feed."""
    server = ForestServer(settings)
    attach(server)
    event_feed.attach(server)
    return server


async def serve_command(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from(args)
    server = build_server(settings)
    try:
        await server.start()
    except BusUnavailable as exc:
        print(
            f"forestd: {exc}. Start a NATS server (nats-server -js), point --nats-url at one, "
            "or pass --nats-url '' to serve without NATS (no forest.* subjects).",
            file=sys.stderr,
        )
        return 1
    except AddressInUse as exc:
        print(f"forestd: cannot serve: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # grpc: "Failed to bind to address ..."
        print(f"forestd: cannot serve on {settings.grpc_address}: {exc}", file=sys.stderr)
        return 1
    # Start-up leaves ~10^6 long-lived objects (SQLAlchemy, gRPC, protobuf); without this every
    # full collection walks them all: ~40 ms pauses, the p99 of every RPC (bench/README.md).
    gc.freeze()
    compat = "" if settings.compat == "intended" else f" (compat {settings.compat})"
    print(f"forestd listening on {server.address}{compat}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        print("forestd stopping", flush=True)
        await server.stop()
    return 0


async def migrate_command(args: argparse.Namespace) -> int:
    engine = make_engine(settings_from(args).database_url)
    try:
        await upgrade_head(engine)
        print(f"database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


async def seed_command(args: argparse.Namespace) -> int:
    engine = make_engine(settings_from(args).database_url)
    try:
        await upgrade_head(engine)
        seed = await seed_demo(Database(engine, Bus()), soak_seconds=args.soak_seconds)
    except ForestError as exc:
        print(f"seed-demo: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(json.dumps(seed.as_json(), indent=2) if args.json else seed.describe())
    return 0


async def release_command(args: argparse.Namespace) -> int:
    """AnnotateRelease then Release, as Forest's CLI does: only the gRPC API, no database."""
    organisation, _, project = args.project.partition("/")
    if not organisation or not project:
        print("release: --project must be organisation/project", file=sys.stderr)
        return 2
    address = settings_from(args).grpc_address
    annotate = releases_pb2.AnnotateReleaseRequest(
        project=releases_pb2.Project(organisation=organisation, project=project),
        ref=releases_pb2.Ref(
            commit_sha=args.sha or secrets.token_hex(20),
            branch=args.branch,
            commit_message=args.message,
        ),
        context=releases_pb2.ArtifactContext(title=args.message.split("\n", 1)[0]),
        source=releases_pb2.Source(source_type="forest-bot"),
    )
    metadata = (("authorization", f"Bearer {args.token}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = releases_pb2_grpc.ReleaseServiceStub(channel)
        try:
            annotated = await stub.AnnotateRelease(annotate, metadata=metadata, timeout=30)
            response = await stub.Release(
                releases_pb2.ReleaseRequest(
                    artifact_id=annotated.artifact.id,
                    environments=args.environment,
                    use_pipeline=not args.environment,
                ),
                metadata=metadata,
                timeout=30,
            )
        except grpc.aio.AioRpcError as exc:
            print(f"release: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(f"artifact {annotated.artifact.slug} ({annotated.artifact.id})")
    for intent in response.intents:
        where = f" -> {intent.destination} ({intent.environment})" if intent.destination else ""
        print(f"release intent {intent.release_intent_id}{where}")
    return 0
