"""`forest-bot run` (the bot, Socket Mode or HTTP mode) and `forest-bot keygen`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from aiohttp import web

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
        if exc.lasting:  # restarting cannot help: stay up, unhealthy, until told to stop
            await bot.stop()
            await _unhealthy_until(settings.http_host, settings.http_port, str(exc), stopping)
        return 1
    finally:
        await bot.stop()
    return 0


async def _unhealthy_until(host: str, port: int, problem: str, stopping: asyncio.Event) -> None:
    """Answer /healthz with 503 and the problem until a stop is requested, calling nothing else:
    a supervisor sees the bot unhealthy instead of restarting it in a loop."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "problems": [problem]}, status=503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        print(f"forest-bot: cannot serve /healthz on {host}:{port}: {exc}", file=sys.stderr)
        await runner.cleanup()
        return
    print(f"forest-bot: waiting to be stopped; /healthz on {host}:{port} says why", file=sys.stderr)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
