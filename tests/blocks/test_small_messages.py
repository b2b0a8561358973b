"""Ephemerals, notices, commands and modals say the right thing and carry the right ids."""

from __future__ import annotations

from typing import Any

from blocks import commands, ephemeral, ids, modals, notices
from blocks.model import Approvals, Outcome, Person
from tests.blocks.checks import assert_valid_message, assert_valid_view
from tests.blocks.states import INTENT, STATES

REF = ids.ReleaseRef("acme", "api", INTENT, "production")


def _buttons(msg: Any) -> list[dict[str, Any]]:
    return [e for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_own_release_offers_bypass_to_admins_only() -> None:
    admin = ephemeral.own_release(REF, is_admin=True)
    (bypass,) = _buttons(admin)
    assert bypass["action_id"] == ids.ACTION_BYPASS and bypass["style"] == "danger"
    assert ids.decode_value(bypass["value"]) == REF
    assert "can't approve your own release" in admin["text"]
    assert _buttons(ephemeral.own_release(REF, is_admin=False)) == []


def test_failures_say_nothing_was_recorded() -> None:
    assert "NOT* recorded" in ephemeral.forest_unreachable()["text"]
    assert "your rejection was" in ephemeral.forest_unreachable("rejection")["text"]
    timed_out = ephemeral.forest_no_answer("approval")["text"]
    assert "may or may not have been recorded" in timed_out and "NOT" not in timed_out
    assert "already finished (failed)" in ephemeral.release_finished(Outcome.FAILED)["text"]
    assert "already decided" in ephemeral.plan_already_decided()["text"]
    denied = ephemeral.permission_denied("not a member of <!channel>")
    assert_valid_message(denied)
    assert "not a member of &lt;!channel&gt;" in str(denied["blocks"])


def test_link_first_button_carries_the_ref_to_resume() -> None:
    (link,) = _buttons(ephemeral.link_account_first(REF))
    assert link["action_id"] == ids.ACTION_LINK_ACCOUNT
    assert ids.decode_value(link["value"]) == REF
    (bare,) = _buttons(ephemeral.link_account_first())
    assert "value" not in bare


def test_bypass_notice_mentions_only_the_trusted_actor() -> None:
    notice = notices.bypass_notice(
        Person("u-a", "alice", "U0ALICE"), "production", "<!here> now", Approvals(1, 2)
    )
    assert_valid_message(notice, {"U0ALICE"})
    assert notice["text"].startswith(
        "⚠️ <@U0ALICE> approved their own release as an admin (bypass) for *production*"
    )
    assert "&lt;!here&gt; now" in notice["text"]
    # honest about what a bypass does: one approval counted, the gate still needs the rest
    assert "approvals 1/2" in notice["text"] and "gate opens when" in notice["text"]
    alice = Person("u-a", "alice", "U0ALICE")
    full = notices.bypass_notice(alice, "production", "x", Approvals(2, 2))
    assert "approvals 2/2" in full["text"] and "gate opens when" not in full["text"]
    unlinked = notices.plan_rejected_notice(Person("u-c", "carol", None), "production", "")
    assert unlinked["text"] == "⛔ carol rejected the plan for *production*"


def test_help_lists_every_command_in_the_design() -> None:
    text = commands.help_message()["blocks"][0]["text"]["text"]
    for word in (
        "subscribe",
        "unsubscribe",
        "list",
        "login",
        "logout",
        "whoami",
        "pending",
        "help",
    ):
        assert f"/forest {word}" in text


def test_modals_carry_their_context_and_inputs() -> None:
    context = ids.ModalContext(REF, "C0DEPLOYS", "1795521600.000100")
    release = STATES["gate_1_of_2_with_history"]()
    expected = {
        ids.CALLBACK_REJECT: (modals.reject_modal(context, release), ids.COMMENT_BLOCK, True),
        ids.CALLBACK_BYPASS: (modals.bypass_modal(context, release), ids.REASON_BLOCK, False),
        ids.CALLBACK_PLAN_REJECT: (modals.plan_reject_modal(context), ids.REASON_BLOCK, False),
    }
    for callback_id, (view, block_id, optional) in expected.items():
        assert_valid_view(view, {"U0ALICE", "U0BOB"})
        assert view["callback_id"] == callback_id
        assert ids.decode_metadata(view["private_metadata"]) == context
        (field,) = [b for b in view["blocks"] if b["type"] == "input"]
        assert field["block_id"] == block_id and field["optional"] is optional
    bypass = modals.bypass_modal(context, release)
    assert "1/2" in str(bypass["blocks"]) and "bypass" in bypass["submit"]["text"].lower()
    link = modals.link_account_modal()
    assert link["callback_id"] == ids.CALLBACK_LINK_ACCOUNT and "private_metadata" not in link
    assert "Personal access tokens" in str(link["blocks"])


def test_link_modal_refuses_untrusted_urls() -> None:
    view = modals.link_account_modal(token_url="https://x|<!channel>")
    assert_valid_view(view)
    assert "https://x" not in str(view["blocks"])


def test_input_errors_payload() -> None:
    payload = modals.input_errors({ids.TOKEN_BLOCK: "Forest did not accept this token"})
    assert payload == {
        "response_action": "errors",
        "errors": {ids.TOKEN_BLOCK: "Forest did not accept this token"},
    }
