"""Builds docs/messages.md from the golden states, so the page always shows real output.

`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/blocks/test_docs.py` rewrites it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from blocks import ephemeral, ids, modals, notices
from blocks.home import home_view
from blocks.model import Person, Plan, PlanDestination, Subscription
from blocks.pending import pending_for
from blocks.plan_thread import plan_posts
from blocks.release import release_message
from tests.blocks import plans
from tests.blocks.rendition import rendition, view_rendition
from tests.blocks.states import INTENT, NOW, SMALL_PLAN, STATES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "messages.md"

TITLES = {
    "new_release": "New release (staging deploying, production gate collecting votes early)",
    "soaking": "Soaking (the wait stage's end and the soak gate's opening, as Slack dates)",
    "awaiting_plan": "Plan awaiting approval",
    "plan_approved": "Plan approved, production gate 0/2",
    "gate_1_of_2_with_history": "Gate 1/2 with history (carol has not linked her account)",
    "bypassed": "Bypassed by the admin author",
    "rejected_plan": "Plan rejected (final)",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}

INTRO = """\
# What the bot's messages look like

Generated from the golden states in `tests/blocks/` (do not edit by hand: run
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/blocks` and review the diff). Each example is
a readable rendition of the Block Kit payload: `## …` is a header block, indented lines are
context blocks, `[Label]` are buttons ((green) = primary, (red) = danger, "asks to confirm" =
a Slack `confirm` dialog). Times are Slack date tokens (`<!date^…>`), shown in each reader's
own time zone; the rendition shows their UTC fallback. `@U0ALICE` stands for a real mention
(`<@U0ALICE>`), which the bot writes only for Forest users who linked their Slack account;
others appear by their escaped Forest username (like carol below).

The same message is shown to everyone, so it carries every button that applies *now*; the bot
decides per click (an author clicking Approve gets an ephemeral "you can't approve your own
release", with a Bypass button when they are an org admin). Finished releases have no buttons.

Builders: `blocks.release.release_message(release)` for the release message,
`blocks.plan_thread.plan_posts(release, plan)` for the thread, `blocks.modals`,
`blocks.ephemeral`, `blocks.notices`, `blocks.commands`, `blocks.home`. The view model comes
from `blocks.from_forest.release_from_forest(…, policies=…)`.

The release message depends on nothing but the release: no clock, no countdown, and none of
Forest's soak-time reason texts (their seconds change on every read). Soak time is rendered from
its policy (duration, source environment) and the source deploy's finish time; a wait stage
shows when it ends. The bot re-renders and hashes the payload on every refresh, so a message is
updated only when something a person should see has changed.

## As the sandbox renders them

Screenshots of the golden payloads in the Slack sandbox's browser UI (headless Chromium;
`scripts/doc-images` retakes them): the gate at 1/2 with its history, a plan's thread post,
and the admin's Bypass modal.

![Release message: production gate 1/2 with history](img/release_gate_1_of_2_with_history.png)

![Plan posted in the thread](img/plan_post_small.png)

![Bypass modal](img/modal_bypass.png)
"""


def _fence(text: str, lang: str = "text") -> str:
    # Four backticks: renditions of plan posts hold Slack's own ``` code blocks.
    return f"````{lang}\n{text}\n````"


def _message_section(title: str, msg: Mapping[str, Any]) -> str:
    return f"### {title}\n\n{_fence(rendition(msg['blocks']))}\n\nFallback `text`: " + (
        f"`{msg['text']}`\n"
    )


def build_page() -> str:
    parts = [INTRO, "## The release message\n"]
    for state, title in TITLES.items():
        parts.append(_message_section(title, release_message(STATES[state](), now=NOW)))

    gate = release_message(STATES["gate_1_of_2_with_history"](), now=NOW)
    parts.append(
        "### The JSON of one of them (gate 1/2 with history)\n\n"
        + _fence(json.dumps(gate, indent=2, ensure_ascii=False), "json")
        + "\n"
    )

    release = STATES["awaiting_plan"]()
    parts.append("## Plan posts in the thread\n")
    small = Plan(
        "plan-production",
        "production",
        "AWAITINGAPPROVAL",
        (PlanDestination("prod-eu", "SUCCEEDED", SMALL_PLAN),),
    )
    post = plan_posts(release, small)[0]
    parts.append(
        _message_section("A short plan: inline", {"text": post.text, "blocks": post.blocks})
    )
    big_text, _ = plans.huge_plan(200_000)
    big = Plan(
        "plan-production",
        "production",
        "AWAITINGAPPROVAL",
        (PlanDestination("prod-us", "SUCCEEDED", big_text),),
    )
    post = plan_posts(release, big)[0]
    assert post.upload is not None
    parts.append(
        _message_section(
            "A long plan: summary here, the full text as a file",
            {"text": post.text, "blocks": post.blocks},
        )
        + f"\nThen the bot uploads `{post.upload.filename}` ({len(post.upload.content):,} "
        "characters) into the thread.\n"
    )

    context = ids.ModalContext(
        ids.ReleaseRef("acme", "api", INTENT, "production"), "C0DEPLOYS", "1795521600.000100"
    )
    gate_release = STATES["gate_1_of_2_with_history"]()
    parts.append("## Modals\n")
    for title, view in (
        ("Reject", modals.reject_modal(context, gate_release)),
        ("Bypass", modals.bypass_modal(context, gate_release)),
        ("Reject plan", modals.plan_reject_modal(context, release)),
        (
            "Link account",
            modals.link_account_modal(token_url="https://forest.example.com/settings/tokens"),
        ),
    ):
        parts.append(f"### {title}\n\n{_fence(view_rendition(view))}\n")

    parts.append("## Ephemerals and thread notices (a selection)\n")
    ref = context.ref
    for title, msg in (
        ("Author clicks Approve (admin)", ephemeral.own_release(ref, is_admin=True)),
        ("Forest unreachable", ephemeral.forest_unreachable()),
        ("Forest did not answer a vote in time", ephemeral.forest_no_answer()),
        ("Not linked yet", ephemeral.link_account_first(ref)),
        ("Release already finished", ephemeral.release_finished()),
        ("Release not found in the project", ephemeral.release_not_found("acme", "api")),
        ("Plan already decided", ephemeral.plan_already_decided()),
        (
            "Bypass announced in the thread",
            notices.bypass_notice(
                Person("u-alice", "alice", "U0ALICE"), "production", "hotfix, checkout is down"
            ),
        ),
    ):
        parts.append(f"### {title}\n\n{_fence(rendition(msg['blocks']))}\n")

    other = replace(gate_release, intent_id="0b6e2a44-other-intent")
    home = home_view(
        linked_username="dave",
        pending=pending_for(
            [release, other], "u-dave", {INTENT: "https://acme.slack.com/archives/C0DEPLOYS/p1"}
        ),
        subscriptions=[Subscription("acme", "api", "C0DEPLOYS")],
    )
    parts.append(f"## App Home\n\n{_fence(view_rendition(home))}\n")
    parts.append(_identifiers())
    return "\n".join(parts)


def _identifiers() -> str:
    rows = [
        f"| `{name}` | `{getattr(ids, name)}` |"
        for name in sorted(dir(ids))
        if name.startswith(("ACTION_", "CALLBACK_")) or name.endswith(("_BLOCK", "_INPUT"))
    ]
    ref = ids.ReleaseRef("acme", "api", INTENT, "production", "plan-production")
    context = ids.ModalContext(ref, "C0DEPLOYS", "1795521600.000100")
    return (
        "## Identifiers\n\n"
        "Versioned: a change of meaning gets a new suffix, so buttons on old messages fail "
        "clearly instead of doing something else.\n\n"
        "| constant in `blocks.ids` | value |\n|---|---|\n" + "\n".join(rows) + "\n\n"
        "A button `value` carries ids only (`ids.encode_value` / `ids.decode_value`, which "
        "raises `ids.MalformedPayload` for anything it did not produce):\n\n"
        f"    {ids.encode_value(ref)}\n\n"
        "A modal's `private_metadata` adds the message it was opened from "
        "(`ids.encode_metadata` / `ids.decode_metadata`):\n\n"
        f"    {ids.encode_metadata(context)}\n\n"
        "Who clicked, and what they may do, always comes from Slack's signed payload and from "
        "Forest, never from these strings.\n"
    )
