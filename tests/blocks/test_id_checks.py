"""Every id, ts and URL check in blocks/ takes the whole string: `re.match(...$)` let a trailing
newline through ("U0BOB\\n" rendered as a broken mention)."""

from __future__ import annotations

import pytest

from blocks import commands, ids, modals
from blocks.model import PendingItem, StageKind, Subscription
from blocks.text import is_slack_user_id, mention
from tests.blocks.states import STATES

REF = ids.ReleaseRef("acme", "api", "i-1", "production")
TRAILERS = ("\n", "\r\n", " ", "\t", "x")


@pytest.mark.parametrize("tail", TRAILERS)
def test_slack_user_id_with_a_trailer_is_no_mention(tail: str) -> None:
    assert is_slack_user_id("U0BOB")
    assert mention("U0BOB", "bob") == "<@U0BOB>"
    assert not is_slack_user_id("U0BOB" + tail)
    assert mention("U0BOB" + tail, "bob") == "bob"


@pytest.mark.parametrize("tail", TRAILERS)
def test_metadata_channel_and_ts_with_a_trailer_are_refused(tail: str) -> None:
    good = ids.ModalContext(REF, "C0DEPLOYS", "1795521600.000100")
    assert ids.decode_metadata(ids.encode_metadata(good)) == good
    for bad in (
        ids.ModalContext(REF, "C0DEPLOYS" + tail, "1795521600.000100"),
        ids.ModalContext(REF, "C0DEPLOYS", "1795521600.000100" + tail),
    ):
        with pytest.raises(ValueError, match="not a Slack"):
            ids.encode_metadata(bad)
    with pytest.raises(ids.MalformedPayload, match="channel id"):
        ids.decode_metadata(f"m1|acme|api|i-1|production||C0DEPLOYS{tail}|1795521600.000100")
    with pytest.raises(ids.MalformedPayload, match="message ts"):
        ids.decode_metadata(f"m1|acme|api|i-1|production||C0DEPLOYS|1795521600.000100{tail}")


def test_message_ts_takes_ascii_digits_only() -> None:
    arabic_indic = "١٧٩٥٥٢١٦٠٠.٠٠٠١٠٠"
    with pytest.raises(ValueError, match="message ts"):
        ids.encode_metadata(ids.ModalContext(REF, "C0DEPLOYS", arabic_indic))


@pytest.mark.parametrize("tail", TRAILERS)
def test_subscription_channel_with_a_trailer_is_no_channel_link(tail: str) -> None:
    good = commands.subscriptions_message([Subscription("acme", "api", "C0DEPLOYS")])
    assert "<#C0DEPLOYS>" in good["blocks"][0]["text"]["text"]
    bad = commands.subscriptions_message([Subscription("acme", "api", "C0DEPLOYS" + tail)])
    assert "<#" not in bad["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("tail", ("\n", "\r\n"))
def test_urls_with_a_trailing_newline_get_no_button_or_link(tail: str) -> None:
    url = "https://acme.slack.com/archives/C0DEPLOYS/p1"
    release = STATES["gate_1_of_2_with_history"]()
    good = commands.pending_item_block(
        PendingItem(release, "production", StageKind.DEPLOY, permalink=url), 0
    )
    assert good["accessory"]["url"] == url
    bad = commands.pending_item_block(
        PendingItem(release, "production", StageKind.DEPLOY, permalink=url + tail), 0
    )
    assert "accessory" not in bad

    token_url = "https://forest.example.com/settings/tokens"
    assert f"<{token_url}|" in str(modals.link_account_modal(token_url=token_url)["blocks"])
    refused = modals.link_account_modal(token_url=token_url + tail)
    assert token_url not in str(refused["blocks"])
