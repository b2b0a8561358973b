"""Worst cases for the release message: it degrades step by step, and says what it left out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from blocks.limits import MAX_BLOCKS_PER_MESSAGE, MAX_MESSAGE_BLOCK_TEXT, message_text_length
from blocks.model import (
    Approvals,
    Commit,
    Decision,
    Gate,
    Person,
    Release,
    Requirement,
    RequirementKind,
    Stage,
    StageKind,
    StageStatus,
    Verdict,
)
from blocks.release import release_message
from tests.blocks.checks import assert_valid_message

NOW = datetime(2026, 11, 24, 12, 7, tzinfo=UTC)
LONG = "<!channel> & " * 400


def _monster(stages: int = 80, gates: int = 12, decisions: int = 60) -> Release:
    return Release(
        organisation="acme",
        project="api",
        intent_id="i-1",
        commit=Commit("main" * 100, "3f2a9c1", LONG),
        author=Person("u-a", LONG, None),
        created_at=NOW,
        environments=tuple(f"env-{n}-{LONG}" for n in range(gates)),
        stages=tuple(
            Stage(f"s{n}", StageKind.DEPLOY, StageStatus.SUCCEEDED, f"env-{n}-{LONG}")
            if n < stages // 2
            else Stage(
                f"s{n}",
                StageKind.PLAN,
                StageStatus.AWAITING_APPROVAL,
                f"env-{n}-{LONG}",
                error=LONG,
            )
            for n in range(stages)
        ),
        gates=tuple(
            Gate(
                environment=f"env-{g}-{LONG}",
                requirements=tuple(
                    Requirement(LONG, RequirementKind.APPROVAL, False, LONG) for _ in range(12)
                ),
                approvals=Approvals(1, 5),
                decisions=tuple(
                    Decision(
                        Person(f"u{d}", LONG, "U0BOB" if d % 2 else None),
                        Verdict.REJECTED,
                        LONG,
                        NOW - timedelta(minutes=d),
                    )
                    for d in range(decisions)
                ),
                accepting_votes=True,
            )
            for g in range(gates)
        ),
    )


def test_monster_release_fits_and_counts_what_it_hides() -> None:
    msg = release_message(_monster(), now=NOW)
    assert_valid_message(msg, {"U0BOB"})
    blocks = msg["blocks"]
    assert len(blocks) <= MAX_BLOCKS_PER_MESSAGE
    assert message_text_length(blocks) <= MAX_MESSAGE_BLOCK_TEXT
    text = "\n".join(
        b.get("text", {}).get("text", "")
        or " ".join(e.get("text", "") for e in b.get("elements", []))
        for b in blocks
    )
    assert "earlier stage" in text and "more stage" in text
    assert "more gated environment" in text
    assert "earlier decision" in text
    assert "more requirement" in text


def test_small_release_keeps_the_most_detail() -> None:
    small = _monster(stages=3, gates=1, decisions=3)
    msg = release_message(small, now=NOW)
    assert_valid_message(msg, {"U0BOB"})
    history = next(
        b for b in msg["blocks"] if b.get("block_id", "").startswith("forest.release.history")
    )
    assert history["text"]["text"].count("\n") == 2  # all three decisions, none hidden


def test_ids_too_long_for_buttons_are_said_not_dropped() -> None:
    msg = release_message(_monster(stages=4, gates=2, decisions=0), now=NOW)
    assert not [b for b in msg["blocks"] if b["type"] == "actions"]
    assert "too long for Slack buttons" in str(msg["blocks"])


def test_buttons_follow_open_gates_and_awaiting_plans() -> None:
    monster = _monster(stages=4, gates=2, decisions=0)
    short = replace(
        monster,
        stages=tuple(replace(s, environment=f"env-{n}") for n, s in enumerate(monster.stages)),
        gates=tuple(replace(g, environment=f"env-{n}") for n, g in enumerate(monster.gates)),
    )
    msg = release_message(short, now=NOW)
    action_ids = [
        e["action_id"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert action_ids.count("forest.approve.v1") == 2
    assert action_ids.count("forest.plan_approve.v1") == 2
    labels = [
        e["text"]["text"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert all(len(label) <= 75 for label in labels)
