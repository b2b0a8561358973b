"""`forest-bot dev`: NATS, forestd (seeded demo org), its runner, the bot and the Slack sandbox,
with #deploys following acme/api and the demo users linked. Runs until Ctrl-C, then stops
everything it started."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.app import StartupError
from bot.cli import stop_requested
from bot.devsystem import DevOptions, DevSystem
from bot.embedded_nats import NatsServerError
from bot.logs import configure


def register(subparsers: Any) -> None:
    dev = subparsers.add_parser(
        "dev", help="run the whole system locally: NATS, forestd, the bot and the Slack sandbox"
    )
    dev.add_argument("--port", type=int, default=3300, help="the sandbox's port (0: any free)")
    dev.add_argument(
        "--state-dir", type=Path, help="keep databases here (default: a new temporary folder)"
    )
    dev.add_argument("--demo", action="store_true", help="start a release as bob right away")
    dev.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    dev.add_argument("--mode", choices=("socket", "http"), default="socket")
    dev.add_argument(
        "--compat",
        choices=("intended", "forest"),
        default="intended",
        help="forestd behaves as intended, or with real Forest's documented gaps",
    )
    dev.add_argument("--soak-seconds", type=int, default=60, help="staging -> production soak")
    dev.set_defaults(func=dev_command)


def _describe(info: dict[str, Any]) -> str:
    lines = [
        f"Open the Slack sandbox:  {info['sandbox_url']}",
        f"forestd (gRPC):          {info['forest_address']}",
        f"NATS:                    {info['nats_url']}",
        f"state:                   {info['state_dir']}",
        "",
        f"{info['channel']} follows {info['project']}. Demo users (linked to Forest):",
    ]
    roles = {"alice": "org admin", "bob": "member", "carol": "member"}
    for name, user in info["users"].items():
        lines.append(
            f"  {name:<6} {roles.get(name, ''):<10} Slack {user['slack_id']}  "
            f"Forest token {user['token']}"
        )
    lines += [
        "",
        "Start a release as bob:  forest-bot forest release --grpc-address "
        f"{info['forest_address']} --project {info['project']} --token "
        f"{info['users']['bob']['token']}",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


async def dev_command(args: argparse.Namespace) -> int:
    configure("text", logging.WARNING)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="forest-dev-"))
    if args.state_dir and (state_dir / "forestd.db").exists():
        print(
            f"forest-bot dev: {state_dir} already holds a demo; pass an empty --state-dir",
            file=sys.stderr,
        )
        return 2
    options = DevOptions(
        state_dir=state_dir,
        sandbox_port=args.port,
        mode=args.mode,
        compat=args.compat,
        soak_seconds=args.soak_seconds,
    )
    stopping = stop_requested()
    try:
        async with DevSystem(options) as system:
            info = system.describe()
            if args.demo:
                info["demo_release"] = await system.release("bob")
            print(json.dumps(info, indent=2) if args.json else _describe(info), flush=True)
            await stopping.wait()
            if not args.json:
                print("stopping...", flush=True)
    except (StartupError, NatsServerError) as exc:
        print(f"forest-bot dev: {exc}", file=sys.stderr)
        return 1
    return 0
