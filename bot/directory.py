"""What waits for one person across the projects followed in their workspace
(`/forest pending` and the Home tab)."""

from __future__ import annotations

import asyncio

from blocks.from_forest import release_from_forest
from blocks.model import PendingItem, Release, Subscription
from blocks.pending import pending_for
from bot.release_reader import ReleaseReader
from bot.slack_gateway import SlackGateway
from bot.store import Store


async def followed(store: Store, team_id: str) -> list[Subscription]:
    return [
        Subscription(s.organisation, s.project, s.channel_id)
        for s in await store.all_subscriptions()
        if s.team_id == team_id
    ]


async def pending_items(
    store: Store, reader: ReleaseReader, slack: SlackGateway, team_id: str, user_id: str
) -> list[PendingItem]:
    """Open gates and plans awaiting a decision in the team's followed projects."""
    link = await store.user_link(team_id, user_id)
    projects = sorted({(s.organisation, s.project) for s in await followed(store, team_id)})

    async def live(organisation: str, project: str) -> list[Release]:
        listing = await reader.listing(organisation, project)
        ids = [
            i
            for i, intent in listing.intents.items()
            if not release_from_forest(intent, organisation=organisation).finished
        ]
        releases = await reader.releases(listing, ids, team_id)
        return [r for r in releases.values() if not r.finished]

    batches = await asyncio.gather(*(live(o, p) for o, p in projects))
    releases = [r for batch in batches for r in batch]
    permalinks: dict[str, str] = {}
    for release in releases:
        rows = [r for r in await store.messages_for_intent(release.intent_id) if r.ts]
        if rows and rows[0].ts:
            permalinks[release.intent_id] = await slack.permalink(rows[0].channel_id, rows[0].ts)
    return pending_for(releases, link.forest_user_id if link else None, permalinks)
