"""Plan thread posts: inline when it fits, a file otherwise, never silently truncated."""

from __future__ import annotations

from blocks.model import Plan, PlanDestination
from blocks.plan_thread import BLOCK_PLAN_DIFF, BLOCK_PLAN_FILE, plan_post, plan_posts
from tests.blocks import plans
from tests.blocks.checks import assert_valid_message
from tests.blocks.states import SLACK_IDS, STATES

RELEASE = STATES["awaiting_plan"]()


def _post(output: str, destination: str = "prod-eu"):  # type: ignore[no-untyped-def]
    dest = PlanDestination(destination, "SUCCEEDED", output)
    post = plan_post(
        RELEASE, Plan("plan-production", "production", "AWAITINGAPPROVAL", (dest,)), dest
    )
    assert_valid_message({"text": post.text, "blocks": post.blocks}, SLACK_IDS.values())
    return post


def _inline_text(blocks: list[dict]) -> str:  # type: ignore[type-arg]
    chunks = [
        b["text"]["text"][4:-4]  # strip "```\n" and "\n```"
        for b in blocks
        if b.get("block_id", "").startswith(BLOCK_PLAN_DIFF)
    ]
    joined = "\n".join(chunks)
    return joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_short_plan_is_inline_and_complete() -> None:
    post = _post(plans.MIXED)
    assert post.upload is None
    assert _inline_text(post.blocks) == plans.MIXED.rstrip("\n")
    summary = post.blocks[0]["text"]["text"]
    assert "+4 to add, ~1 to change, -4 to destroy" in summary
    resources = post.blocks[1]["text"]["text"]
    assert "*-/+ replace* (3)" in resources and "(+/-)" in resources
    assert "`aws_iam_role.ci` → `aws_iam_role.deploy`" in resources


def test_medium_plan_is_split_on_line_boundaries() -> None:
    text, _ = plans.huge_plan(6_000)
    post = _post(text)
    assert post.upload is None
    diff_blocks = [b for b in post.blocks if b.get("block_id", "").startswith(BLOCK_PLAN_DIFF)]
    assert len(diff_blocks) >= 3
    assert _inline_text(post.blocks) == text.rstrip("\n")
    for block in diff_blocks:
        body = block["text"]["text"]
        assert body.startswith("```\n") and body.endswith("\n```")


def test_long_plan_becomes_a_file_with_an_explicit_note() -> None:
    text, count = plans.huge_plan(200_000)
    post = _post(text)
    assert post.upload is not None
    assert post.upload.content == text.rstrip("\n")  # the whole plan, not a prefix
    assert post.upload.filename == "plan-production-prod-eu.txt"
    note = next(b for b in post.blocks if b.get("block_id") == BLOCK_PLAN_FILE)
    assert "attached below as a file" in note["elements"][0]["text"]
    assert f"+{count} to add" in post.blocks[0]["text"]["text"]
    assert f"_+{count - 8} more_" in post.blocks[1]["text"]["text"]


def test_a_line_too_long_for_a_block_sends_a_file() -> None:
    post = _post("x" * 5000)
    assert post.upload is not None and post.upload.content == "x" * 5000


def test_five_megabyte_plan_post_uploads_the_whole_plan() -> None:
    """How fast: bench/plan_parse.py."""
    text, _ = plans.huge_plan(5_000_000)
    post = _post(text)
    assert post.upload is not None and len(post.upload.content) == len(text.rstrip("\n"))


def test_plan_text_cannot_inject_markup_or_break_the_code_block() -> None:
    hostile = "<!channel> <@U999> <http://evil|click> &amp; ``` *bold*\n```\n<!here>"
    post = _post(hostile)
    assert post.upload is None
    joined = "".join(b["text"]["text"] for b in post.blocks if "text" in b)
    assert "<!channel>" not in joined and "<@U999>" not in joined and "<http" not in joined
    diff = [b for b in post.blocks if b.get("block_id", "").startswith(BLOCK_PLAN_DIFF)]
    assert all(b["text"]["text"].count("```") == 2 for b in diff)


def test_ansi_colours_are_stripped_from_inline_and_file() -> None:
    post = _post(plans.colour(plans.MIXED))
    assert "\x1b" not in _inline_text(post.blocks)
    big, _ = plans.huge_plan(100_000)
    post = _post(plans.colour(big))
    assert post.upload is not None and "\x1b" not in post.upload.content


def test_no_changes_error_free_text_and_empty() -> None:
    assert "No changes." in _post(plans.NO_CHANGES).blocks[0]["text"]["text"]
    error = _post(plans.ERROR).blocks[0]["text"]["text"]
    assert "The plan failed" in error and "2 errors" in error
    assert "shown as it is" in _post(plans.FREE_TEXT).blocks[0]["text"]["text"]
    empty = _post("")
    assert "no plan output" in empty.blocks[-1]["elements"][0]["text"]


def test_one_post_per_destination_and_none() -> None:
    destinations = (
        PlanDestination("prod-eu", "SUCCEEDED", plans.MIXED),
        PlanDestination("prod-us", "SUCCEEDED", plans.NO_CHANGES),
    )
    posts = plan_posts(RELEASE, Plan("p", "production", "AWAITINGAPPROVAL", destinations))
    assert [p.text.split("(")[1].split(")")[0] for p in posts] == ["prod-eu", "prod-us"]
    (none,) = plan_posts(RELEASE, Plan("p", "production", "ACTIVE", ()))
    assert "No plan output" in none.text
