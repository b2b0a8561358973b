"""`forest-bot sandbox serve`: run the Slack sandbox until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import sys
from typing import Any

from sandbox.scopes import DEFAULT_MANIFEST
from sandbox.server import Sandbox
from sandbox.state import App
from sandbox.throttle import Faults, RateLimits


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="the local Slack sandbox (Web API, interaction driver, browser UI)"
    )
    commands = parser.add_subparsers(dest="sandbox_command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve the sandbox and its UI")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3300, help="0 picks a free port")
    serve.add_argument("--signing-secret", default=os.environ.get("SLACK_SIGNING_SECRET"),
                       help="signs requests to --bot-url (default: $SLACK_SIGNING_SECRET)")
    target = serve.add_mutually_exclusive_group()
    target.add_argument("--bot-url",
                        help="the bot's request URL, e.g. http://127.0.0.1:3000/slack/events")
    target.add_argument("--socket-mode", action="store_true",
                        help="deliver interactions over Socket Mode (the default)")
    serve.add_argument("--bot-token", default=App.bot_token)
    serve.add_argument("--app-token", default=App.app_token)
    serve.add_argument("--manifest", metavar="PATH", default=str(DEFAULT_MANIFEST),
                       help="the Slack app manifest whose bot scopes the bot token gets "
                            "(default: the repository's manifest.yml)")
    serve.add_argument("--state", metavar="FILE",
                       help="load and keep the workspace in this JSON file")
    serve.add_argument("--rate-limits", choices=("off", "slack"), default="slack",
                       help="Slack's per-method tiers (default) or none")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    serve.add_argument("--ratelimit-fraction", type=float, default=0.0,
                       help="fraction of API calls answered 429 at random")
    serve.add_argument("--error-fraction", type=float, default=0.0,
                       help="fraction of API calls answered 503 at random")
    serve.set_defaults(func=serve_command)


def build(args: argparse.Namespace) -> Sandbox:
    app = App(bot_token=args.bot_token, app_token=args.app_token)
    limits = RateLimits.slack() if args.rate_limits == "slack" else RateLimits()
    faults = Faults(latency=args.latency, ratelimit_fraction=args.ratelimit_fraction,
                    error_fraction=args.error_fraction)
    try:
        sandbox = Sandbox(host=args.host, port=args.port, app=app, state_file=args.state,
                          rate_limits=limits, faults=faults, manifest=args.manifest)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--manifest: {exc}") from exc
    if args.bot_url:
        if not args.signing_secret:
            raise SystemExit("--bot-url needs --signing-secret (or $SLACK_SIGNING_SECRET)")
        sandbox.driver.use_http(args.bot_url, args.signing_secret)
    else:
        sandbox.driver.use_socket_mode()
    return sandbox


async def serve_command(args: argparse.Namespace) -> int:
    sandbox = build(args)
    try:
        await sandbox.start()
    except OSError as exc:
        why = "already in use (another sandbox?)" if exc.errno == errno.EADDRINUSE else exc
        print(f"sandbox: cannot serve on {args.host}:{args.port}: {why}", file=sys.stderr)
        return 1
    app = sandbox.workspace.app
    mode = f"HTTP to {args.bot_url}" if args.bot_url else "Socket Mode"
    print(f"Slack sandbox UI:  {sandbox.base_url}", flush=True)
    print(f"Web API base_url:  {sandbox.api_url}")
    print(f"bot token:         {app.bot_token}")
    print(f"app token:         {app.app_token}  (Socket Mode)")
    print(f"interactions:      {mode}")
    print(f"bot scopes:        {sandbox.scopes.header}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()
        print("sandbox stopped", file=sys.stderr)
    return 0
