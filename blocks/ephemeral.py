"""Ephemeral answers: every outcome and error of a click, a modal or a command (DESIGN.md §1).

Every failure is said, never swallowed: each builder names what happened and whether the
user's action was recorded.
"""

from __future__ import annotations

from blocks import ids
from blocks.kit import Message, actions, button, context, message, section
from blocks.model import Approvals, Outcome, Verdict
from blocks.status import OUTCOME_WORDS
from blocks.text import esc

BLOCK_EPHEMERAL = "forest.ephemeral.v1"
BLOCK_EPHEMERAL_ACTIONS = "forest.ephemeral.actions.v1"


def _say(text: str, *, detail: str = "", buttons: list[dict[str, object]] | None = None) -> Message:
    blocks = [section(text, BLOCK_EPHEMERAL)]
    if detail:
        blocks.append(context(detail))
    if buttons:
        blocks.append(actions(buttons, BLOCK_EPHEMERAL_ACTIONS))
    return message(text, blocks)


def _link_button(ref: ids.ReleaseRef | None) -> dict[str, object]:
    value = ids.encode_value(ref) if ref is not None else None
    return button("Link Forest account", ids.ACTION_LINK_ACCOUNT, value=value, style="primary")


def forest_unreachable(what: str = "approval") -> Message:
    """Forest could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED, connection refused)."""
    return _say(
        f"⚠️ Forest is unreachable: your {esc(what, 40)} was *NOT* recorded. "
        "Please try again in a moment."
    )


def database_unreachable(what: str = "approval") -> Message:
    """The bot's own database could not be reached before Forest was called."""
    return _say(
        f"⚠️ The bot's database is unreachable: your {esc(what, 40)} was *NOT* recorded. "
        "Please try again in a moment."
    )


def forest_no_answer(what: str = "approval") -> Message:
    """A write timed out: Forest may have applied it after the bot stopped waiting."""
    return _say(
        f"⚠️ Forest did not answer in time: your {esc(what, 40)} may or may not have been "
        "recorded. The release message shows what Forest holds: check it before trying again."
    )


def link_account_first(ref: ids.ReleaseRef | None = None) -> Message:
    """The clicker has no linked Forest account; the button opens the link modal."""
    return _say(
        "🔗 Link your Forest account first: votes are cast as you, with your own account. "
        "Nothing was recorded.",
        buttons=[_link_button(ref)],
    )


def token_refused(ref: ids.ReleaseRef | None = None) -> Message:
    """Forest answered UNAUTHENTICATED for the stored token (expired or revoked)."""
    return _say(
        "🔑 Forest refused your linked token (expired or revoked): nothing was recorded. "
        "Link your account again, then retry.",
        buttons=[_link_button(ref)],
    )


def release_finished(outcome: Outcome | None = None) -> Message:
    words = f" ({OUTCOME_WORDS[outcome]})" if outcome and outcome is not Outcome.RUNNING else ""
    return _say(f"🏁 This release already finished{words}: votes no longer apply.")


def release_not_found(organisation: str, project: str) -> Message:
    """The button points at an intent Forest does not list for that project."""
    return _say(
        f"❓ Forest lists no such release in *{esc(f'{organisation}/{project}', 120)}* "
        "(it may be older than its 50 newest): nothing was recorded."
    )


def plan_already_decided() -> Message:
    return _say("ℹ️ This plan was already decided: nothing was changed.")


def gate_not_open(environment: str) -> Message:
    """NOT_FOUND for the policy, or the gate passed / its deploy started meanwhile."""
    return _say(
        f"ℹ️ There is no open approval gate for *{esc(environment, 60)}* any more: "
        "nothing was recorded."
    )


def unknown_button() -> Message:
    """A click whose value this bot cannot read (forged, or from a much older bot)."""
    return _say(
        "❓ This button is outdated or not from this bot: nothing was done. "
        "Use the buttons on the current release message."
    )


def modal_failed() -> Message:
    """Slack refused to open the modal (the click took too long to reach the bot)."""
    return _say("⚠️ Slack could not open the form in time: nothing was done. Click again.")


def plan_in_thread(environment: str) -> Message:
    return _say(f"📋 The plan for *{esc(environment, 60)}* is in this release's thread.")


def own_release(ref: ids.ReleaseRef, *, is_admin: bool) -> Message:
    """The author clicked Approve. Admins are offered the Bypass button."""
    text = "✋ You can't approve your own release: someone else has to."
    if not is_admin:
        return _say(text + " Nothing was recorded.")
    return _say(
        text + " As an org admin you may *bypass* the gate: it is recorded with your reason "
        "and announced in the release's thread.",
        buttons=[
            button(
                "Bypass… (admin)", ids.ACTION_BYPASS, value=ids.encode_value(ref), style="danger"
            )
        ],
    )


def not_admin() -> Message:
    return _say("🚫 Only admins of the organisation can bypass an approval gate. Nothing changed.")


def permission_denied(detail: str = "") -> Message:
    """Forest answered PERMISSION_DENIED; `detail` is Forest's message (untrusted, escaped)."""
    return _say(
        "🚫 Forest refused: you don't have permission to do that. Nothing was recorded.",
        detail=f"Forest said: {esc(detail, 500)}" if detail.strip() else "",
    )


def failed(reference: str, what: str = "action") -> Message:
    """An unexpected error; `reference` lets an operator find it in the logs."""
    return _say(
        f"❌ Something went wrong: your {esc(what, 40)} may *not* have been recorded. "
        "Check the release message, then try again.",
        detail=f"Reference: `{esc(reference, 80)}`",
    )


def vote_recorded(
    verdict: Verdict, environment: str, approvals: Approvals | None = None
) -> Message:
    env = esc(environment, 60)
    words = {
        Verdict.APPROVED: f"✅ Your approval for *{env}* is recorded",
        Verdict.REJECTED: f"❌ Your rejection for *{env}* is recorded",
        Verdict.BYPASSED: f"⚠️ Your bypass of the *{env}* gate is recorded",
    }[verdict]
    if approvals is not None:
        words += f" (approvals {approvals.current}/{approvals.required})"
    return _say(words + ".")


def plan_decided(approved: bool, environment: str) -> Message:
    env = esc(environment, 60)
    if approved:
        return _say(f"✅ You approved the plan for *{env}*: the pipeline continues.")
    return _say(f"⛔ You rejected the plan for *{env}*: the release stops.")


def account_linked(username: str) -> Message:
    return _say(f"🔗 Your Slack account is now linked to Forest user *{esc(username, 80)}*.")


def account_unlinked() -> Message:
    return _say("🔓 Your Forest account is unlinked and its token deleted.")


def whoami(username: str | None) -> Message:
    if not username:
        return _say("You have not linked a Forest account yet.", buttons=[_link_button(None)])
    return _say(f"You are linked to Forest user *{esc(username, 80)}*.")


def subscribed(organisation: str, project: str) -> Message:
    return _say(
        f"📣 This channel now follows *{esc(f'{organisation}/{project}', 120)}*: each release "
        "appears here as one message, kept current."
    )


def unsubscribed(organisation: str, project: str) -> Message:
    return _say(f"🔕 This channel no longer follows *{esc(f'{organisation}/{project}', 120)}*.")


def unknown_project(organisation: str, project: str) -> Message:
    return _say(
        f"❓ Forest has no project *{esc(f'{organisation}/{project}', 120)}* "
        "(or the bot can't see it)."
    )


def usage(problem: str = "") -> Message:
    """A malformed slash command; `problem` is what the user typed (escaped)."""
    text = "❓ I didn't understand that."
    if problem.strip():
        text = f"❓ I didn't understand `{esc(problem, 200)}`."
    return _say(text + " Try `/forest help`.")
