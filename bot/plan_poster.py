"""Plan diffs in the release message's thread: a summary per destination, the diff inline when
short, a file (files_upload_v2) when long. Each plan stage is posted once per message, claimed in
the store so neither a second refresh nor a second replica posts it again."""

from __future__ import annotations

from blocks import ephemeral
from blocks.from_forest import plan_from_forest
from blocks.ids import ReleaseRef
from blocks.kit import Message
from blocks.model import Release
from blocks.plan_thread import plan_posts
from bot.forest_client import ForestClient, ForestError
from bot.release_reader import ReleaseReader
from bot.slack_errors import SlackCallFailed
from bot.slack_gateway import SlackGateway
from bot.store import Store
from handlers.requests import Actor


def _key(stage_id: str) -> str:
    return f"plan:{stage_id}"


class PlanPoster:
    def __init__(
        self, *, store: Store, forest: ForestClient, reader: ReleaseReader, slack: SlackGateway
    ) -> None:
        self._store = store
        self._forest = forest
        self._reader = reader
        self._slack = slack

    async def post_awaiting(self, release: Release, channel: str, thread_ts: str) -> None:
        """Every plan awaiting approval, once per message."""
        for stage in release.awaiting_plans:
            await self.post_once(release, stage.stage_id, stage.environment, channel, thread_ts)

    async def post_once(
        self, release: Release, stage_id: str, environment: str, channel: str, thread_ts: str
    ) -> bool:
        key = _key(stage_id)
        if not await self._store.claim_thread_post(release.intent_id, channel, key):
            return False
        try:
            response = await self._forest.plan_output(release.intent_id, stage_id)
            plan = plan_from_forest(response, stage_id=stage_id, environment=environment)
            first_ts = ""
            for post in plan_posts(release, plan):
                ts = await self._slack.post(
                    channel, {"text": post.text, "blocks": post.blocks}, thread_ts=thread_ts
                )
                first_ts = first_ts or ts
                if post.upload is not None:
                    await self._slack.upload(channel, thread_ts, post.upload)
        except BaseException:
            await self._store.release_thread_post(release.intent_id, channel, key)
            raise
        await self._store.record_thread_post(release.intent_id, channel, key, first_ts)
        return True

    async def show(self, actor: Actor, ref: ReleaseRef) -> Message:
        """View plan: make sure the plan is in the thread of each message, then say where."""
        try:
            listing = await self._reader.listing(ref.organisation, ref.project)
            release = (await self._reader.releases(listing, [ref.intent_id], actor.team_id)).get(
                ref.intent_id
            )
        except ForestError as exc:
            return (
                ephemeral.forest_unreachable("request")
                if exc.unreachable
                else (ephemeral.permission_denied(exc.details))
            )
        stage = (
            next((s for s in release.stages if s.stage_id == ref.stage_id), None)
            if release
            else None
        )
        if release is None:
            return ephemeral.release_not_found(ref.organisation, ref.project)
        if stage is None:
            return ephemeral.plan_already_decided()
        rows = [r for r in await self._store.messages_for_intent(ref.intent_id) if r.ts]
        try:
            for row in rows:
                assert row.ts is not None
                await self.post_once(
                    release, stage.stage_id, stage.environment, row.channel_id, row.ts
                )
        except (ForestError, SlackCallFailed) as exc:
            return ephemeral.failed(str(exc)[:80], "request")
        return ephemeral.plan_in_thread(stage.environment)
