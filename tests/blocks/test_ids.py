"""Action ids and the button value / private_metadata codecs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks import ids
from blocks.limits import (
    MAX_ACTION_ID,
    MAX_BUTTON_VALUE,
    MAX_CALLBACK_ID,
    MAX_PRIVATE_METADATA,
)

REF = ids.ReleaseRef("acme", "api", "7d9c1f0e-5b7a-4f3e-9d2c-3f2a9c1e8b10", "production", "p1")


def test_ids_are_stable_versioned_and_unique() -> None:
    names = [n for n in dir(ids) if n.startswith(("ACTION_", "CALLBACK_"))]
    values = [getattr(ids, n) for n in names]
    assert len(set(values)) == len(values)
    for value in values:
        assert value.startswith("forest.") and value.endswith(".v1")
        assert len(value) <= min(MAX_ACTION_ID, MAX_CALLBACK_ID)
    assert ids.ACTION_APPROVE == "forest.approve.v1"
    assert ids.CALLBACK_BYPASS == "forest.bypass_modal.v1"


def test_value_round_trip_and_shape() -> None:
    value = ids.encode_value(REF)
    assert value == "r1|acme|api|7d9c1f0e-5b7a-4f3e-9d2c-3f2a9c1e8b10|production|p1"
    assert ids.decode_value(value) == REF


def test_metadata_round_trip() -> None:
    context = ids.ModalContext(REF, "C0DEPLOYS", "1795521600.000100")
    assert ids.decode_metadata(ids.encode_metadata(context)) == context
    bare = ids.ModalContext(REF)
    assert ids.decode_metadata(ids.encode_metadata(bare)) == bare


def _fit(text: str, limit: int) -> str:
    """The longest prefix of `text` that is at most `limit` bytes of UTF-8."""
    return text.encode()[:limit].decode(errors="ignore")


def _name(field: str, *, required: bool = False) -> st.SearchStrategy[str]:
    """Any text (surrogates aside: they are not Unicode text) within the field's byte budget,
    up to the budget itself: 4-byte characters and characters that percent-encode included."""
    limit = ids.FIELD_BYTES[field]
    drawn = st.text(st.characters(codec="utf-8"), min_size=int(required), max_size=limit)
    return drawn.map(lambda text: _fit(text, limit)).filter(lambda text: bool(text) or not required)


@settings(max_examples=300, deadline=None)
@given(
    _name("organisation", required=True),
    _name("project", required=True),
    _name("intent_id", required=True),
    _name("environment"),
    _name("stage_id"),
)
def test_value_round_trips_any_name_within_the_budgets(
    org: str, project: str, intent: str, env: str, stage: str
) -> None:
    ref = ids.ReleaseRef(org, project, intent, env, stage)
    value = ids.encode_value(ref)
    assert len(value) <= ids.WORST_VALUE_CHARS <= MAX_BUTTON_VALUE
    assert ids.decode_value(value) == ref
    context = ids.ModalContext(ref, "C0DEPLOYS", "1795521600.000100")
    assert ids.decode_metadata(ids.encode_metadata(context)) == context


@pytest.mark.parametrize("filler", ["|", "%", "é", "🌲", "\x00"])
def test_the_worst_case_value_fits_slack(filler: str) -> None:
    """Every field full of characters that percent-encode to 3 characters per byte."""
    full = {f: filler * (n // len(filler.encode())) for f, n in ids.FIELD_BYTES.items()}
    ref = ids.ReleaseRef(**full)
    value = ids.encode_value(ref)
    assert len(value) == ids.WORST_VALUE_CHARS == 1999
    assert ids.decode_value(value) == ref
    metadata = ids.encode_metadata(ids.ModalContext(ref, "C" + "0" * 30, "1" * 12 + "." + "1" * 9))
    assert len(metadata) <= MAX_PRIVATE_METADATA


@pytest.mark.parametrize("field", list(ids.FIELD_BYTES))
def test_a_name_over_its_budget_is_refused_not_cut(field: str) -> None:
    limit = ids.FIELD_BYTES[field]
    fields = {"organisation": "acme", "project": "api", "intent_id": REF.intent_id}
    at_limit = ids.ReleaseRef(**{**fields, field: "🌲" * (limit // 4)})
    assert ids.decode_value(ids.encode_value(at_limit)) == at_limit
    over = ids.ReleaseRef(**{**fields, field: "🌲" * (limit // 4) + "x"})
    with pytest.raises(ValueError, match=f"{field} is {limit + 1} bytes of UTF-8"):
        ids.encode_value(over)
    with pytest.raises(ValueError, match=field):
        ids.encode_metadata(ids.ModalContext(over))


def test_text_that_is_not_unicode_is_refused() -> None:
    with pytest.raises(ValueError, match="environment is not valid Unicode"):
        ids.encode_value(ids.ReleaseRef("acme", "api", "i", "prod\ud800"))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "garbage",
        "r2|acme|api|i|e|s",
        "r1|acme|api|i|e",
        "r1|acme|api|i|e|s|x",
        "r1||api|i|e|s",
        "r1|acme|api||e|s",
        "r1|ac%ZZme|api|i|e|s",
        "r1|a%7Cb|api|i|e|s|",
        "r1|%61cme|api|i|e|s",  # not canonical: 'a' needlessly encoded
        "r1|acme|api|i|e|" + "s" * 300,
        "r1|" + "x" * 2100,
        "r1|ac%FFme|api|i|e|s",
    ],
)
def test_decode_value_rejects_malformed(bad: str | None) -> None:
    with pytest.raises(ids.MalformedPayload):
        ids.decode_value(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "m2|a|b|c|||C1|1.2",
        "m1|a|b|c|||",
        "m1|a|b|c|||C0DEPLOYS|",
        "m1|a|b|c|||C0DEPLOYS|1795521600.000100|x",
        "m1|a|b|c|||not-a-channel|1.2",
        "m1|a|b|c|||C0DEPLOYS|yesterday",
        "r1|acme|api|i|e|s",
    ],
)
def test_decode_metadata_rejects_malformed(bad: str) -> None:
    with pytest.raises(ids.MalformedPayload):
        ids.decode_metadata(bad)


def test_malformed_payload_is_a_value_error_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="version"):
        ids.decode_value("v9|x")


def test_encode_refuses_what_it_could_not_decode() -> None:
    with pytest.raises(ValueError):
        ids.encode_value(ids.ReleaseRef("", "api", "i"))
    with pytest.raises(ValueError):
        ids.encode_metadata(ids.ModalContext(REF, "C0DEPLOYS", ""))
    with pytest.raises(ValueError):
        ids.encode_value(ids.ReleaseRef("acme", "api", "i" * 300))


def test_modal_input_reads_view_state() -> None:
    values = {ids.REASON_BLOCK: {ids.REASON_INPUT: {"type": "plain_text_input", "value": " x "}}}
    assert ids.modal_input(values, ids.REASON_BLOCK, ids.REASON_INPUT) == "x"
    assert ids.modal_input(values, ids.COMMENT_BLOCK, ids.COMMENT_INPUT) == ""
    assert (
        ids.modal_input(
            {ids.COMMENT_BLOCK: {ids.COMMENT_INPUT: {"value": None}}},
            ids.COMMENT_BLOCK,
            ids.COMMENT_INPUT,
        )
        == ""
    )
    assert ids.modal_input(None, "a", "b") == ""
