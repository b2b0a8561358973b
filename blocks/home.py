"""The App Home tab: who you are linked as, what waits for you, what is followed where."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blocks import ids
from blocks.commands import BLOCK_LIST, pending_blocks, subscriptions_message
from blocks.kit import actions, button, context, divider, header, section
from blocks.limits import MAX_BLOCKS_PER_VIEW
from blocks.model import PendingItem, Subscription
from blocks.text import esc

BLOCK_HOME_ACCOUNT = "forest.home.account.v1"
BLOCK_HOME_ACTIONS = "forest.home.actions.v1"

_MAX_PENDING = MAX_BLOCKS_PER_VIEW - 20


def home_view(
    *,
    linked_username: str | None,
    pending: Sequence[PendingItem],
    subscriptions: Sequence[Subscription],
) -> dict[str, Any]:
    """views.publish payload for the Home tab."""
    blocks: list[dict[str, Any]] = [header("Forest")]
    if linked_username:
        blocks.append(
            section(f"Linked to Forest user *{esc(linked_username, 80)}*.", BLOCK_HOME_ACCOUNT)
        )
    else:
        blocks.append(
            section(
                "You have not linked a Forest account yet: link it to vote from Slack.",
                BLOCK_HOME_ACCOUNT,
            )
        )
        blocks.append(
            actions(
                [button("Link Forest account", ids.ACTION_LINK_ACCOUNT, style="primary")],
                BLOCK_HOME_ACTIONS,
            )
        )
    blocks += [divider(), header("Waiting for you")]
    if pending:
        blocks += pending_blocks(pending, _MAX_PENDING)
    else:
        blocks.append(context("🎉 Nothing is waiting for your decision."))
    blocks += [divider(), header("Followed projects")]
    followed = subscriptions_message(subscriptions)["blocks"][0]
    followed["block_id"] = BLOCK_LIST
    blocks.append(followed)
    blocks.append(context("Type `/forest help` in any channel for the commands."))
    return {"type": "home", "blocks": blocks}
