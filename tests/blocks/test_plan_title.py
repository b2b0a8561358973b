"""A plan's title, whatever the environment and destination are called (Forest does not limit
their characters): one line, no control characters, nothing Slack would expand into a mention
or link, within the title's length; in the file upload's plain title and in the post's summary."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from blocks.model import Plan, PlanDestination
from blocks.plan_thread import MAX_FILE_TITLE, plan_post
from tests.blocks import plans
from tests.blocks.states import STATES

RELEASE = STATES["awaiting_plan"]()
FILE_SIZED, _ = plans.huge_plan(20_000)  # too long to show inline: it becomes a file
# What Slack parses in text: <!channel>, <!here>, <@U…>, <#C…>, <!subteam^…>, <url|label>.
SLACK_MARKUP = re.compile(r"<[!@#]|<[a-z]+:|<http")

names = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)  # any but surrogates


def assert_safe_line(title: str) -> None:
    assert "\n" not in title and "\r" not in title
    assert not [c for c in title if unicodedata.category(c) in ("Cc", "Zl", "Zp")], title


@settings(max_examples=200, deadline=None)
@given(environment=names, destination=names)
@example(environment="<!channel> prod", destination="eu\x00\n<@U0ALICE>\u2028<https://x|y>")
@example(environment="\x85\x9b" * 150, destination="🌲" * 300)
def test_any_names_give_a_safe_plan_title(environment: str, destination: str) -> None:
    dest = PlanDestination(destination, "SUCCEEDED", FILE_SIZED)
    post = plan_post(
        RELEASE, Plan("plan-production", environment, "AWAITINGAPPROVAL", (dest,)), dest
    )

    assert post.upload is not None
    title = post.upload.title
    assert title.startswith("Plan for ")
    assert len(title) <= MAX_FILE_TITLE
    assert_safe_line(title)
    assert "<" not in title and ">" not in title  # plain text: nothing to escape with

    summary_title = post.blocks[0]["text"]["text"].split("\n", 1)[0]  # mrkdwn: escaped
    assert_safe_line(summary_title)
    assert not SLACK_MARKUP.search(summary_title), summary_title
    assert_safe_line(post.text)
    assert not SLACK_MARKUP.search(post.text), post.text


def test_the_title_keeps_ordinary_names_as_they_are() -> None:
    dest = PlanDestination("prod-eu", "SUCCEEDED", FILE_SIZED)
    post = plan_post(
        RELEASE, Plan("plan-production", "production", "AWAITINGAPPROVAL", (dest,)), dest
    )
    assert post.upload is not None and post.upload.title == "Plan for production · prod-eu"
