"""Golden tests: the whole payload of the main states, compared with tests/blocks/golden/.

Regenerate with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/blocks/test_golden.py`, then
read the diff: a golden file is a reviewed decision about what users see, not a recording.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from blocks import ephemeral, ids, modals
from blocks.home import home_view
from blocks.model import Plan, PlanDestination, Subscription
from blocks.pending import pending_for
from blocks.plan_thread import plan_posts
from blocks.release import release_message
from tests.blocks.checks import assert_valid_message, assert_valid_view
from tests.blocks.states import INTENT, NOW, SLACK_IDS, SMALL_PLAN, STATES

GOLDEN = Path(__file__).parent / "golden"
MENTIONS = SLACK_IDS.values()


def render(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def check_golden(name: str, payload: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = render(payload)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the golden file"


@pytest.mark.parametrize("state", sorted(STATES))
def test_release_message_golden(state: str) -> None:
    msg = release_message(STATES[state](), now=NOW)
    assert_valid_message(msg, MENTIONS)
    check_golden(f"release_{state}", msg)


@pytest.mark.parametrize("state", sorted(STATES))
def test_rendering_is_deterministic(state: str) -> None:
    first = json.dumps(release_message(STATES[state](), now=NOW), sort_keys=False)
    second = json.dumps(release_message(STATES[state](), now=NOW), sort_keys=False)
    assert first == second


def test_plan_post_golden() -> None:
    release = STATES["awaiting_plan"]()
    plan = Plan(
        "plan-production",
        "production",
        "AWAITINGAPPROVAL",
        (PlanDestination("prod-eu", "SUCCEEDED", SMALL_PLAN),),
    )
    posts = plan_posts(release, plan)
    assert len(posts) == 1 and posts[0].upload is None
    msg = {"text": posts[0].text, "blocks": posts[0].blocks}
    assert_valid_message(msg, MENTIONS)
    check_golden("plan_post_small", msg)


def _context() -> ids.ModalContext:
    return ids.ModalContext(
        ids.ReleaseRef("acme", "api", INTENT, "production"), "C0DEPLOYS", "1795521600.000100"
    )


def test_modal_goldens() -> None:
    release = STATES["gate_1_of_2_with_history"]()
    views = {
        "modal_reject": modals.reject_modal(_context(), release),
        "modal_bypass": modals.bypass_modal(_context(), release),
        "modal_plan_reject": modals.plan_reject_modal(_context(), release),
        "modal_link_account": modals.link_account_modal(
            token_url="https://forest.example.com/settings/tokens", origin=_context()
        ),
    }
    for name, view in views.items():
        assert_valid_view(view, MENTIONS)
        check_golden(name, view)


def test_ephemeral_goldens() -> None:
    ref = _context().ref
    messages = {
        "ephemeral_own_release_admin": ephemeral.own_release(ref, is_admin=True),
        "ephemeral_forest_unreachable": ephemeral.forest_unreachable(),
        "ephemeral_link_first": ephemeral.link_account_first(ref),
    }
    for name, msg in messages.items():
        assert_valid_message(msg, MENTIONS)
        check_golden(name, msg)


def test_home_golden() -> None:
    other = replace(STATES["gate_1_of_2_with_history"](), intent_id="0b6e2a44-other-intent")
    releases = [STATES["awaiting_plan"](), other]
    items = pending_for(
        releases, "u-dave", {INTENT: "https://acme.slack.com/archives/C0DEPLOYS/p1795521600000100"}
    )
    view = home_view(
        linked_username="dave",
        pending=items,
        subscriptions=[Subscription("acme", "api", "C0DEPLOYS")],
    )
    assert_valid_view(view, MENTIONS)
    check_golden("home", view)
