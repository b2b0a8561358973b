"""The terraform plan summary parser on real-shaped plans."""

from __future__ import annotations

from blocks.terraform import Action, PlanKind, strip_ansi, summarize_plan
from tests.blocks import plans


def test_mixed_plan_counts_and_resources() -> None:
    summary = summarize_plan(plans.MIXED)
    assert summary.kind is PlanKind.CHANGES and summary.counted
    assert (summary.add, summary.change, summary.destroy) == (4, 1, 4)
    assert summary.counts_text == "+4 to add, ~1 to change, -4 to destroy"
    addresses = {a: [r.address for r in summary.by_action(a)] for a in Action}
    assert addresses[Action.CREATE] == ['module.vpc.aws_subnet.private["eu-west-1a"]']
    assert addresses[Action.UPDATE] == ["aws_s3_bucket.assets"]
    assert addresses[Action.DESTROY] == ["aws_security_group.old"]
    assert addresses[Action.REPLACE] == ["aws_instance.db", "aws_lb.front", "aws_instance.web"]
    assert addresses[Action.READ] == ["data.aws_ami.ubuntu"]
    moved = summary.by_action(Action.MOVE)
    assert [(m.address, m.moved_to) for m in moved] == [("aws_iam_role.ci", "aws_iam_role.deploy")]
    orders = {r.address: r.replace_order for r in summary.by_action(Action.REPLACE)}
    assert orders == {"aws_instance.db": "-/+", "aws_lb.front": "+/-", "aws_instance.web": "-/+"}
    assert summary.errors == ()


def test_no_changes_both_wordings() -> None:
    assert summarize_plan(plans.NO_CHANGES).kind is PlanKind.NO_CHANGES
    assert summarize_plan(plans.NO_CHANGES_OLD).kind is PlanKind.NO_CHANGES
    assert summarize_plan(plans.OUTPUTS_ONLY).kind is PlanKind.NO_CHANGES


def test_errors_box_drawing_and_plain() -> None:
    summary = summarize_plan(plans.ERROR)
    assert summary.kind is PlanKind.ERROR
    assert summary.errors == ("Reference to undeclared resource", "Invalid value for variable")
    old = summarize_plan(plans.ERROR_OLD)
    assert old.kind is PlanKind.ERROR and old.errors[0].startswith("Error locking state")


def test_imports() -> None:
    summary = summarize_plan(plans.IMPORT)
    assert (summary.imports, summary.add) == (1, 1)
    assert summary.counts_text.startswith("1 to import, +1 to add")
    assert [r.address for r in summary.by_action(Action.IMPORT)] == ["aws_s3_bucket.legacy"]


def test_ansi_colours_are_ignored() -> None:
    coloured = plans.colour(plans.MIXED)
    assert "\x1b[" in coloured
    assert strip_ansi(coloured) != coloured
    assert summarize_plan(coloured) == summarize_plan(plans.MIXED)


def test_crlf_line_endings() -> None:
    assert summarize_plan(plans.MIXED.replace("\n", "\r\n")) == summarize_plan(plans.MIXED)


def test_other_tools_free_text_and_empty() -> None:
    assert summarize_plan(plans.FREE_TEXT).kind is PlanKind.UNKNOWN
    assert summarize_plan("").kind is PlanKind.UNKNOWN


def test_plan_cut_short_is_counted_from_headers() -> None:
    cut = plans.MIXED[: plans.MIXED.index("Plan:")]
    summary = summarize_plan(cut)
    assert summary.kind is PlanKind.CHANGES and not summary.counted
    assert (summary.add, summary.change, summary.destroy) == (4, 1, 4)


def test_five_megabyte_plan_is_summarised_completely() -> None:
    """Timing: bench/plan_parse.py."""
    text, count = plans.huge_plan(5_000_000)
    assert len(text) >= 5_000_000
    summary = summarize_plan(text)
    assert summary.add == count and len(summary.by_action(Action.CREATE)) == count


def test_plan_line_is_found_even_when_plan_text_follows_it() -> None:
    text = plans.MIXED + '  + note = "Plan: review me"\n'
    summary = summarize_plan(text)
    assert summary.counted and (summary.add, summary.change, summary.destroy) == (4, 1, 4)
