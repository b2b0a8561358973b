"""The naive baseline bot the load benchmark compares the real one with (bench/load.py).

It does what a first attempt would: for every signal it receives it reads the release fresh
from Forest and calls `chat.update` with a fresh render. No coalescing, no digest check, no
ordering between two renders of the same message, and on a 429 it sleeps Retry-After and tries
again. It subscribes to the same NATS subjects as the real bot (bot/signals.py) and renders with
the same code (bot/release_reader.py, blocks/release.py), so both bots' messages are identical.

What it leaves out: `forest.events.<org>` names no intent (the real bot follows Forest's event
stream for that), so it is counted as a signal and ignored; a vote also publishes
`forest.intent.evaluate`, which it handles. It answers no clicks (the click -> ack figure is the
real bot's only: a naive Bolt app acks the same way). Each signal is handled in its own task,
at most NAIVE_CONCURRENCY at once (an HTTP client's connection pool).

At start it posts one message per open intent of the projects it is told about into its
channel (chat.postMessage) and keeps the intent -> ts map in memory. It runs as its own process
configured by its environment:

    NAIVE_SLACK_API_URL NAIVE_SLACK_BOT_TOKEN NAIVE_CHANNEL  the Slack side
    NAIVE_FOREST_ADDRESS NAIVE_FOREST_TOKEN                  Forest (service token)
    NAIVE_NATS_URL                                           the signals
    NAIVE_PROJECTS          "org/project,org/project" to post and follow
    NAIVE_DATABASE_URL NAIVE_TOKEN_KEY                       a bot store for the reader (who
                                                             is who in Slack, the audit log)
    NAIVE_HTTP_PORT         GET /healthz (200 once every message is posted), GET /stats
    NAIVE_CONCURRENCY       signals handled at once (default 8)

Stop it with SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from aiohttp import web  # noqa: E402
from nats.aio.msg import Msg  # noqa: E402
from slack_sdk.errors import SlackApiError  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from slack_sdk.web.async_slack_response import AsyncSlackResponse  # noqa: E402

from blocks.release import release_message  # noqa: E402
from bot.forest_client import ForestClient  # noqa: E402
from bot.release_reader import ReleaseReader  # noqa: E402
from bot.store import Store, TokenCipher  # noqa: E402

log = logging.getLogger("naive-bot")
SUBJECTS = ("forest.intent.evaluate", "forest.release.status.>", "forest.events.>")


@dataclass
class Stats:
    signals: int = 0  # NATS messages received
    ignored: int = 0  # ... that name no intent it shows (forest.events.<org>, unknown ids)
    handled: int = 0  # ... whose read, render and chat.update finished (or failed for good)
    posts: int = 0
    updates: int = 0  # chat.update calls Slack accepted
    rate_limited: int = 0  # 429 answers (each followed by a sleep and a retry)
    failures: int = 0
    ready: bool = False


@dataclass(frozen=True)
class Shown:
    organisation: str
    project: str
    ts: str


class NaiveBot:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.stats = Stats()
        self.shown: dict[str, Shown] = {}  # intent id -> its message
        self.slack = AsyncWebClient(
            token=env["NAIVE_SLACK_BOT_TOKEN"], base_url=env["NAIVE_SLACK_API_URL"], timeout=30
        )
        self.channel = env["NAIVE_CHANNEL"]
        self.forest = ForestClient(env["NAIVE_FOREST_ADDRESS"], env["NAIVE_FOREST_TOKEN"])
        self.limit = asyncio.Semaphore(int(env.get("NAIVE_CONCURRENCY", "8")))
        self.tasks: set[asyncio.Task[None]] = set()
        self.team_id = ""

    async def start(self, store: Store) -> None:
        self.reader = ReleaseReader(self.forest, store)
        self.team_id = str((await self.slack.auth_test())["team_id"])
        for pair in filter(None, self.env["NAIVE_PROJECTS"].split(",")):
            organisation, project = pair.split("/", 1)
            await self._post_project(organisation, project)
        self.stats.ready = True
        log.info("naive bot ready: %d messages posted", len(self.shown))

    async def _post_project(self, organisation: str, project: str) -> None:
        listing = await self.reader.listing(organisation, project)
        releases = await self.reader.releases(listing, listing.intents, self.team_id)
        for intent_id, release in releases.items():
            if release.finished:
                continue
            rendered = release_message(release)
            response = await self._slack_call(
                functools.partial(
                    self.slack.chat_postMessage,
                    channel=self.channel,
                    text=rendered["text"],
                    blocks=rendered["blocks"],
                )
            )
            self.stats.posts += 1
            self.shown[intent_id] = Shown(organisation, project, str(response["ts"]))

    async def _slack_call(
        self, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        """call(), again after Retry-After seconds for as long as Slack answers 429."""
        while True:
            try:
                return await call()
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                self.stats.rate_limited += 1
                await asyncio.sleep(float(exc.response.headers.get("Retry-After", "1")))

    def on_signal(self, msg: Msg) -> None:
        self.stats.signals += 1
        if msg.subject.startswith("forest.release.status."):
            text = msg.subject.rsplit(".", 1)[-1]
        elif msg.subject == "forest.intent.evaluate":
            text = msg.data.decode("utf-8", "replace").strip()
        else:
            text = ""
        shown = self.shown.get(_uuid(text)) if text else None
        if shown is None:
            self.stats.ignored += 1
            return
        task = asyncio.create_task(self._refresh(_uuid(text), shown))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refresh(self, intent_id: str, shown: Shown) -> None:
        async with self.limit:
            try:
                listing = await self.reader.listing(shown.organisation, shown.project)
                releases = await self.reader.releases(listing, [intent_id], self.team_id)
                release = releases.get(intent_id)
                if release is not None:
                    rendered = release_message(release)
                    await self._slack_call(
                        lambda: self.slack.chat_update(
                            channel=self.channel,
                            ts=shown.ts,
                            text=rendered["text"],
                            blocks=rendered["blocks"],
                        )
                    )
                    self.stats.updates += 1
            except Exception as exc:
                self.stats.failures += 1
                log.warning("signal for %s: %s: %s", intent_id, type(exc).__name__, exc)
            finally:
                self.stats.handled += 1


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


async def serve_http(bot: NaiveBot, port: int) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(status=200 if bot.stats.ready else 503, text="ok")

    async def stats(_: web.Request) -> web.Response:
        body = {**asdict(bot.stats), "in_flight": len(bot.tasks), "messages": len(bot.shown)}
        return web.Response(text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/stats", stats)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def main() -> None:
    import nats

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    env = dict(os.environ)
    bot = NaiveBot(env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = await serve_http(bot, int(env["NAIVE_HTTP_PORT"]))
    store = await Store.open(env["NAIVE_DATABASE_URL"], TokenCipher(env["NAIVE_TOKEN_KEY"]))
    nc = await nats.connect(env["NAIVE_NATS_URL"], name="naive-bot")
    try:
        await bot.start(store)

        async def on_message(msg: Msg) -> None:
            bot.on_signal(msg)

        for subject in SUBJECTS:
            await nc.subscribe(subject, cb=on_message, pending_msgs_limit=1_000_000)
        await nc.flush()
        await stop.wait()
    finally:
        await nc.close()
        for task in list(bot.tasks):
            task.cancel()
        await asyncio.gather(*bot.tasks, return_exceptions=True)
        await runner.cleanup()
        await bot.forest.close()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
