"""Slack sandbox round trips: chat.update through slack_sdk, and a click until the bot's ack.

The sandbox (`sandbox.server.Sandbox`: Web API, interaction driver, workspace) runs in this
process and plays Slack. The bot runs in a child process (its own interpreter and event loop):
slack_sdk's AsyncWebClient pointed at the sandbox's Web API, and a Bolt AsyncApp with
signature verification on, served over HTTP by Bolt's aiohttp adapter (`sandbox.testing.
serve_bolt`). Everything goes over real loopback HTTP. Slack's rate limits are switched off
for the run through the sandbox's `/_sandbox/control` endpoint (T3 would allow chat.update
50 times a minute), and the output says so.

1. chat.update: the bot posts a release message (the golden
   tests/blocks/golden/release_gate_1_of_2_with_history.json, read as JSON) in #deploys and
   updates it N times, one call at a time; prints updates/s and p50/p90/p99/max.
2. click -> ack: the driver clicks the message's Approve button as bob M times, one at a
   time, signed as Slack signs; the listener only acks. Time from the click (payload built,
   signed, POSTed) to the driver holding the ack. Goal: p99 < 100 ms (Slack gives 3 s).
3. click -> ack -> chat.update: the same with Reject, whose listener acks and then calls
   chat.update (the bot's real path); times the ack and the moment the update lands in the
   sandbox's workspace (its change listener fires inside the chat.update handler).

    .venv/bin/python bench/sandbox_roundtrip.py
    .venv/bin/python bench/sandbox_roundtrip.py --updates 5000 --clicks 1000
    .venv/bin/python bench/sandbox_roundtrip.py --process-before-response

Bolt's default answers once ack() was called, which it checks every 10 ms while the listener
runs as a task: that poll is most of a click's round trip. `--process-before-response` runs
the listener to its end first (so the Reject ack then waits for its chat.update).

Exits 1 when the click -> ack p99 is over the goal or a call or click failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import common  # noqa: E402

GOAL_ACK_P99_MS = 100.0
SIGNING_SECRET = "bench-sandbox-signing-secret"
GOLDEN = HERE.parent / "tests" / "blocks" / "golden" / "release_gate_1_of_2_with_history.json"
ACK_ONLY = "forest.approve.v1"
ACK_THEN_UPDATE = "forest.reject.v1"
CLICKER = "bob"


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


# ---- the bot: a child process ---------------------------------------------------------------


async def _bot(conn: Connection, api_url: str, bot_token: str, inline: bool) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from sandbox.testing import serve_bolt

    golden = _golden()
    client = AsyncWebClient(token=bot_token, base_url=api_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=inline)
    rejects = 0

    @app.action(ACK_ONLY)
    async def approve(ack: Callable[..., Any]) -> None:
        await ack()

    @app.action(ACK_THEN_UPDATE)
    async def reject(ack: Callable[..., Any], body: dict[str, Any], client: AsyncWebClient
                     ) -> None:
        nonlocal rejects
        await ack()
        rejects += 1
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"],
            text=f"{golden['text']} · click {rejects}", blocks=golden["blocks"],
        )

    async def updates(channel: str, ts: str, count: int, warmup: int
                      ) -> tuple[list[float], float, int]:
        failed = 0

        async def one(k: int) -> float:
            nonlocal failed
            started = time.perf_counter()
            response = await client.chat_update(
                channel=channel, ts=ts, text=f"{golden['text']} · update {k}",
                blocks=golden["blocks"],
            )
            took = (time.perf_counter() - started) * 1000
            if not response["ok"]:
                failed += 1
            return took

        for k in range(warmup):
            await one(k)
        started = time.perf_counter()
        latencies = [await one(warmup + k) for k in range(count)]
        return latencies, time.perf_counter() - started, failed

    loop = asyncio.get_running_loop()
    async with serve_bolt(app) as url:
        conn.send(url)
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                return
            if command[0] == "post":
                response = await client.chat_postMessage(
                    channel=command[1], text=golden["text"], blocks=golden["blocks"]
                )
                conn.send((response["channel"], response["ts"]))
            elif command[0] == "updates":
                conn.send(await updates(*command[1:]))


# ---- Slack: this process ----------------------------------------------------------------------


class Bot:
    """The child process, driven over a pipe without blocking this event loop."""

    def __init__(self, api_url: str, bot_token: str, inline: bool) -> None:
        self._args = (api_url, bot_token, inline)
        self._child: tuple[BaseProcess, Connection] | None = None

    async def _recv(self) -> Any:
        assert self._child is not None
        answer = await asyncio.get_running_loop().run_in_executor(None, self._child[1].recv)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def start(self) -> str:
        self._child = common.spawn_child(_bot, *self._args)
        return str(await self._recv())

    async def ask(self, *command: Any) -> Any:
        assert self._child is not None
        self._child[1].send(command)
        return await self._recv()

    def stop(self) -> None:
        if self._child is not None:
            common.stop_child(*self._child)


async def _rate_limits_off(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Switch the running sandbox's limits off over HTTP; (limits before, limits after)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(base_url + "_sandbox/control") as response:
            before = (await response.json())["rate_limits"]
        async with session.post(base_url + "_sandbox/control",
                                json={"rate_limits": "off"}) as response:
            after = (await response.json())["rate_limits"]
    return before, after


async def _clicks(sandbox: Any, channel: str, ts: str, action_id: str, count: int,
                  warmup: int, wait_for_update: bool
                  ) -> tuple[list[float], list[float], list[str]]:
    """(click -> ack ms, click -> update visible ms, failures) over count timed clicks."""
    ws = sandbox.workspace
    pending: list[asyncio.Future[float]] = []

    def on_change(event: dict[str, Any]) -> None:
        if (event.get("kind") == "message_changed" and event.get("ts") == ts
                and pending and not pending[-1].done()):
            pending[-1].set_result(time.perf_counter())

    ws.listeners.append(on_change)
    acks: list[float] = []
    visible: list[float] = []
    failures: list[str] = []
    try:
        for k in range(warmup + count):
            landed = asyncio.get_running_loop().create_future()
            pending[:] = [landed]
            message = ws.message(channel, ts)
            started = time.perf_counter()
            ack = await sandbox.driver.click(CLICKER, message=message, action_id=action_id)
            acked = time.perf_counter()
            if not ack.ok:
                failures.append(ack.error or f"http_{ack.status}")
            if wait_for_update and ack.ok:
                try:
                    shown = await asyncio.wait_for(landed, timeout=5.0)
                except TimeoutError:
                    failures.append("update not seen within 5 s")
                    continue
                if k >= warmup:
                    visible.append((shown - started) * 1000)
            if k >= warmup:
                acks.append((acked - started) * 1000)
    finally:
        ws.listeners.remove(on_change)
    return acks, visible, failures


async def run(args: argparse.Namespace) -> bool:
    from sandbox.server import Sandbox
    from sandbox.throttle import RateLimits

    golden = _golden()
    size = len(json.dumps(golden["blocks"], ensure_ascii=False).encode())
    ok = True
    # Start with Slack's tiers, as `forest-bot sandbox serve` does, then switch them off.
    async with Sandbox(rate_limits=RateLimits.slack()) as sandbox:
        before, after = await _rate_limits_off(sandbox.base_url)
        if after:
            raise SystemExit(f"could not switch the sandbox's rate limits off: {after}")
        print(
            f"sandbox round trips: sandbox at {sandbox.base_url} (this process), bot in its own "
            f"process, real loopback HTTP, {os.cpu_count()} CPUs\n"
            f"rate limits: OFF for the run (/_sandbox/control rate_limits=off; chat.update was "
            f"{before.get('chat.update')} [calls, seconds])\n"
            f"message: {GOLDEN.name}, {len(golden['blocks'])} blocks, {size:,} bytes of blocks\n"
            f"Bolt: signature verification on, process_before_response="
            f"{args.process_before_response}",
            flush=True,
        )
        bot = Bot(sandbox.api_url, sandbox.workspace.app.bot_token, args.process_before_response)
        try:
            url = await bot.start()
            sandbox.driver.use_http(url, SIGNING_SECRET)
            channel, ts = await bot.ask("post", "deploys")

            latencies, elapsed, failed = await bot.ask(
                "updates", channel, ts, args.updates, args.warmup
            )
            figures, _ = common.latency_figures(latencies)
            message = sandbox.workspace.message(channel, ts)
            assert message is not None, "the bench's message vanished from the sandbox"
            edits = message.edit_count
            print(
                f"chat.update        n={len(latencies):<5} {figures}  "
                f"{len(latencies) / elapsed:6.0f} updates/s  failed={failed}  "
                f"edits={edits}  (no goal)  {common.load()}",
                flush=True,
            )
            ok = ok and failed == 0

            acks, _, failures = await _clicks(
                sandbox, channel, ts, ACK_ONLY, args.clicks, args.warmup, False
            )
            figures, p99 = common.latency_figures(acks)
            met = p99 < GOAL_ACK_P99_MS and not failures
            print(
                f"click -> ack       n={len(acks):<5} {figures}  failed={len(failures)}  "
                f"{common.verdict(met, GOAL_ACK_P99_MS)}  {common.load()}",
                flush=True,
            )
            ok = ok and met

            acks, visible, failures = await _clicks(
                sandbox, channel, ts, ACK_THEN_UPDATE, args.clicks, args.warmup, True
            )
            figures, _ = common.latency_figures(acks)
            print(
                f"click -> ack (+update listener) n={len(acks):<5} {figures}  "
                f"failed={len(failures)}  {common.load()}",
                flush=True,
            )
            if visible:
                figures, _ = common.latency_figures(visible)
                print(
                    f"click -> update in workspace n={len(visible):<5} {figures}  "
                    f"(no goal)  {common.load()}",
                    flush=True,
                )
            if failures:
                print(f"click failures: {sorted(set(failures))}", flush=True)
            ok = ok and not failures
        finally:
            bot.stop()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = common.bench_parser(__doc__)
    parser.add_argument("--updates", type=int, default=1000,
                        help="chat.update calls to time (default 1000)")
    parser.add_argument("--clicks", type=int, default=300,
                        help="clicks to time, per listener (default 300)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="untimed updates and clicks first (default 20)")
    parser.add_argument(
        "--process-before-response", action="store_true",
        help="Bolt runs the listener to its end before answering (default: Bolt's default,\n"
             "the listener runs on while Bolt polls for ack() every 10 ms)",
    )
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
