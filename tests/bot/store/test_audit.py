"""The audit log keeps every decision made from Slack, with Forest's answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.store import AuditRecord, Store

INTENT = "7b0c6f5e-2a8c-4d7e-9d0a-6f6a1c2b3d4e"
ALICE = "3f8e0a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
BOB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

VOTE = AuditRecord(
    team_id="T1",
    slack_user_id="U2",
    forest_user_id=BOB,
    action="approve",
    organisation="acme",
    project="api",
    intent_id=INTENT,
    environment="production",
    stage_id="stage-1",
    result="recorded",
)


async def test_entries_come_back_oldest_first_and_per_intent(store: Store) -> None:
    written = [
        VOTE,
        replace(
            VOTE,
            action="reject",
            comment="not on a Friday\nsee #ops",
            result="refused",
            detail="PERMISSION_DENIED: not a member",
        ),
        replace(VOTE, intent_id="another", action="plan_approve", result="unreachable"),
        replace(VOTE, action="plan_reject", result="error", detail="boom"),
    ]
    for record in written:
        await store.audit(record)

    entries = await store.audit_entries()
    assert [replace(e, at=None) for e in entries] == written
    assert all(e.at is not None and e.at.tzinfo is not None for e in entries)
    assert [e.action for e in await store.audit_entries(INTENT)] == [
        "approve",
        "reject",
        "plan_reject",
    ]
    assert await store.audit_entries("nothing") == []
    both = await store.audit_entries_for([INTENT, "another", "nothing"])
    assert [(e.intent_id, e.action) for e in both] == [
        (e.intent_id, e.action) for e in entries if e.intent_id in (INTENT, "another")
    ]
    assert await store.audit_entries_for([]) == []


async def test_an_explicit_time_is_kept(store: Store) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    await store.audit(replace(VOTE, at=at))
    assert [e.at for e in await store.audit_entries(INTENT)] == [at]


@pytest.mark.parametrize(
    ("record", "refused"),
    [
        (replace(VOTE, action="vote"), "audit action 'vote'"),
        (replace(VOTE, result=""), "audit result ''"),
        (replace(VOTE, result="ok"), "audit result 'ok'"),
    ],
)
async def test_unknown_actions_and_results_are_refused(
    store: Store, record: AuditRecord, refused: str
) -> None:
    with pytest.raises(ValueError, match=refused):
        await store.audit(record)
    assert await store.audit_entries() == []
