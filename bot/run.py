"""`forest-bot run` (the bot, Socket Mode or HTTP mode) and `forest-bot keygen`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.app import Bot, StartupError
from bot.cli import stop_requested
from bot.config import ConfigError, load_settings
from bot.logs import configure
from bot.store import TokenCipher


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run", help="run the bot (settings from the environment or .env; see README)"
    )
    run.add_argument("--mode", choices=("socket", "http"), help="overrides FOREST_BOT_MODE")
    run.add_argument("--port", type=int, help="overrides FOREST_BOT_HTTP_PORT")
    run.set_defaults(func=run_command)
    keygen = subparsers.add_parser(
        "keygen", help="print a new FOREST_BOT_TOKEN_KEY (encrypts linked users' tokens)"
    )
    keygen.set_defaults(func=lambda args: print(TokenCipher.generate_key()) or 0)


async def run_command(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.mode:
        overrides["mode"] = args.mode
    if args.port is not None:
        overrides["http_port"] = args.port
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"forest-bot: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_format)
    bot = Bot(settings)
    stopping = stop_requested()
    try:
        await bot.start()
        serving = asyncio.create_task(bot.serve())
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            serving.result()  # raises the StartupError of a failed listen
        serving.cancel()
        stop.cancel()
    except StartupError as exc:
        print(f"forest-bot: {exc}", file=sys.stderr)
        return 1
    finally:
        await bot.stop()
    return 0
