"""`forest-bot`: the one command line for the bot, the Forest-compatible service and the sandbox.

Each package owns its sub-commands: a module listed in COMMAND_MODULES exposes
`register(subparsers)` and sets `func` on the parsers it adds. `func(args)` returns an exit code
and may be a coroutine function (run with asyncio).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import signal
import sys
from collections.abc import Sequence
from importlib import metadata

# Packages that add sub-commands. Keep it explicit: one line per package, easy to find.
COMMAND_MODULES: tuple[str, ...] = ("bot.run", "bot.dev", "sandbox.cli", "forestd.cli")


def stop_requested() -> asyncio.Event:
    """An event set on SIGINT or SIGTERM, for commands that run until stopped."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    return stopping


def _version() -> str:
    try:
        return metadata.version("forest-slack")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forest-bot",
        description=(
            "Slack ChatOps for Forest: release approval gates, plan reviews and live release "
            "messages in Slack."
        ),
    )
    parser.add_argument("--version", action="version", version=f"forest-bot {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        result = asyncio.run(func(args)) if inspect.iscoroutinefunction(func) else func(args)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
