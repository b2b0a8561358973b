"""Who sees what in `/forest pending`, and the refresher's digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from blocks.digest import payload_digest
from blocks.model import StageKind
from blocks.pending import pending_for
from blocks.release import release_message
from tests.blocks.states import NOW, STATES


def test_pending_skips_the_author_and_those_who_approved() -> None:
    release = STATES["gate_1_of_2_with_history"]()  # bob approved, carol rejected, alice authored

    def who(user: str | None) -> list[str]:
        return [i.environment for i in pending_for([release], user)]

    assert who("u-bob") == []
    assert who("u-alice") == []
    assert who("u-carol") == ["production"]  # a rejection can still become an approval
    assert who("u-dave") == ["production"]
    assert who(None) == ["production"]


def test_pending_lists_awaiting_plans_for_everyone_with_permalinks() -> None:
    release = STATES["awaiting_plan"]()
    items = pending_for([release], "u-alice", {release.intent_id: "https://x.slack.com/p1"})
    assert [(i.kind, i.stage_id, i.permalink) for i in items] == [
        (StageKind.PLAN, "plan-production", "https://x.slack.com/p1")
    ]


def test_pending_ignores_finished_releases_and_sorts_oldest_first() -> None:
    old = replace(STATES["plan_approved"](), intent_id="old", created_at=NOW - timedelta(days=1))
    new = STATES["gate_1_of_2_with_history"]()
    done = STATES["succeeded"]()
    assert [i.release.intent_id for i in pending_for([new, done, old], "u-dave")] == [
        "old",
        new.intent_id,
    ]


def test_digest_changes_only_with_the_payload() -> None:
    first = release_message(STATES["awaiting_plan"](), now=NOW)
    same = release_message(STATES["awaiting_plan"](), now=NOW + timedelta(minutes=5))
    other = release_message(STATES["plan_approved"](), now=NOW)
    assert payload_digest(first) == payload_digest(same)  # no wait stage running: clock-free
    assert payload_digest(first) != payload_digest(other)
    assert len(payload_digest(first)) == 64
