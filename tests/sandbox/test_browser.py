"""The sandbox UI in headless Chromium (Debian's package, driven by Playwright's own driver).

A person (bob) opens the page, sees the bot's message rendered from Block Kit, clicks Approve
(the test's Bolt app answers with chat.update and the page changes without a reload), clicks
Reject… (a confirm dialog, then the app opens a modal), fills the modal in and submits it (the
app posts into the message's thread). Untrusted text stays text.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import Sandbox
from tests.sandbox.conftest import SIGNING_SECRET, bolt_app, eventually, serve_bolt
from tests.sandbox.test_driver_http import REJECT_MODAL

pytestmark = pytest.mark.browser


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "sandbox"

APPROVE, REJECT, MORE = "forest.approve.v1", "forest.reject.v1", "forest.more.v1"


def release_blocks(status: str, *, buttons: bool = True) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "🚀 acme/api · release 3f2a9c1"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            "main @ `3f2a9c1` · \"Fix &lt;img src=x onerror=window.__xss=1&gt; rounding\" "
            "· by <@U0ALICE001> · <https://forest.example/r/1|open in Forest> "
            "· <javascript:window.__xss=2|not a link>"}]},
        {"type": "section", "block_id": "status", "text": {"type": "mrkdwn", "text": status},
         "fields": [{"type": "mrkdwn", "text": "*Environment*\nproduction"},
                    {"type": "mrkdwn", "text": "*Approvals*\n1/2"}]},
        {"type": "divider"},
        {"type": "rich_text", "elements": [{"type": "rich_text_preformatted", "elements": [
            {"type": "text", "text": "+ aws_s3_bucket.logs\n~ aws_iam_role.deploy"}]}]},
        {"type": "image", "image_url": "https://forest.example/graph.png", "alt_text": "graph"},
    ]
    if buttons:
        blocks.append({"type": "actions", "block_id": "gate", "elements": [
            {"type": "button", "action_id": APPROVE, "value": "intent-42", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT, "value": "intent-42", "style": "danger",
             "text": {"type": "plain_text", "text": "Reject…"},
             "confirm": {"title": {"type": "plain_text", "text": "Reject this release?"},
                         "text": {"type": "mrkdwn", "text": "A rejection is a vote."},
                         "confirm": {"type": "plain_text", "text": "Yes, reject"},
                         "deny": {"type": "plain_text", "text": "Cancel"}, "style": "danger"}},
            {"type": "overflow", "action_id": MORE, "options": [
                {"text": {"type": "plain_text", "text": "View plan"}, "value": "plan"}]},
        ]})
    return blocks


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); "
                    "scripts/test installs it when run as root")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def test_click_update_modal_submit_in_the_browser(
    sandbox: Sandbox, browser: Any, tmp_path: Path
) -> None:
    app = bolt_app(sandbox)
    submitted: list[dict[str, Any]] = []

    @app.action(APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text="approved",
            blocks=release_blocks(f"✅ *Approved* by <@{body['user']['id']}>"))

    @app.action(REJECT)
    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        meta = f"{body['container']['channel_id']}|{body['container']['message_ts']}"
        await client.views_open(trigger_id=body["trigger_id"],
                                view={**REJECT_MODAL, "private_metadata": meta})

    @app.view("forest.reject.v1")
    async def rejected(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        submitted.append(body)
        values = body["view"]["state"]["values"]
        channel, ts = body["view"]["private_metadata"].split("|")
        comment = escape(values["comment"]["text"]["value"])  # untrusted: escaped, as a bot must
        await client.chat_postMessage(
            channel=channel, thread_ts=ts,
            text=f"❌ <@{body['user']['id']}> rejected: {comment} "
                 f"({values['env']['pick']['selected_option']['value']})")

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        posted = await sandbox.client().chat_postMessage(
            channel="deploys", text="release", blocks=release_blocks("⏳ Awaiting approval"))
        ts = posted["ts"]
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{sandbox.base_url}?user=bob")

        message = page.locator(f'article.message[data-ts="{ts}"]')
        await message.locator("h3", has_text="acme/api · release 3f2a9c1").wait_for()
        await message.get_by_text("⏳ Awaiting approval").wait_for()
        # mrkdwn safety: the escaped tag is shown as text, never parsed; only real links link
        await message.get_by_text("Fix <img src=x onerror=window.__xss=1> rounding",
                                  exact=False).wait_for()
        assert await message.locator("img").count() == 0
        assert await message.locator("a", has_text="open in Forest").get_attribute("href") == (
            "https://forest.example/r/1")
        assert await message.locator('a[href^="javascript"]').count() == 0
        assert await message.locator(".mention", has_text="@alice").count() == 1
        assert await message.locator("pre", has_text="aws_iam_role.deploy").count() == 1
        assert await message.locator(".image-placeholder", has_text="graph").count() == 1

        # Approve: the app calls chat.update; the page shows it live, without a reload
        await message.locator(f'button[data-action-id="{APPROVE}"]').click()
        await message.get_by_text("Approved by").wait_for()
        await message.locator(".mention", has_text="@bob").wait_for()
        await message.locator(".edited").wait_for()

        # Reject…: confirm dialog, then the app opens a modal
        await message.locator(f'button[data-action-id="{REJECT}"]').click()
        await page.locator(".dialog.confirm", has_text="Reject this release?").wait_for()
        await page.locator(".confirm-ok").click()
        modal = page.locator("#modal")
        await modal.locator("h2", has_text="Reject release").wait_for()
        await modal.locator("textarea").fill("wait for #812 <b>now</b>")
        await modal.locator("select").select_option("prod")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "sandbox-modal.png"))
        await modal.locator(".modal-submit").click()
        await modal.wait_for(state="detached")

        await eventually(lambda: bool(submitted))
        await message.locator(".replies", has_text="1 reply").wait_for()
        await message.locator(".replies").click()
        thread = page.locator("#thread")
        await thread.get_by_text("rejected: wait for #812 <b>now</b> (prod)").wait_for()
        assert await thread.locator("b", has_text="now").count() == 0
        await page.locator("#thread-input").fill("thanks, *waiting*")
        await page.locator("#thread-input").press("Enter")
        await thread.locator("article.message", has_text="thanks").locator(
            "b", has_text="waiting").wait_for()
        await message.locator(".replies", has_text="2 replies").wait_for()

        OUTPUT.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "sandbox-ui.png"))
        await page.screenshot(path=str(tmp_path / "sandbox-ui.png"))
        assert await page.evaluate("window.__xss") is None
        assert errors == []
        stored = sandbox.workspace.message(posted["channel"], ts)
        assert stored is not None and len(stored.edits) == 1
        assert submitted[0]["user"]["id"] == "U0BOB00001"


async def test_ephemerals_are_shown_only_to_their_user(sandbox: Sandbox, browser: Any) -> None:
    client = sandbox.client()
    channel = (await client.conversations_info(channel="#deploys"))["channel"]["id"]
    await client.chat_postEphemeral(channel=channel, user="U0CAROL001",
                                    text="only carol sees this")
    await client.chat_postMessage(channel=channel, text="everyone sees this")
    page = await browser.new_page()
    await page.goto(f"{sandbox.base_url}?user=carol")
    await page.get_by_text("everyone sees this").wait_for()
    eph = page.locator("article.message.ephemeral", has_text="only carol sees this")
    await eph.get_by_text("Only visible to you").wait_for()
    await page.locator("#user-picker").select_option("U0BOB00001")
    await page.locator("article.message", has_text="everyone sees this").wait_for()
    await page.locator("article.message.ephemeral").wait_for(state="detached")


MRKDWN_CASES: list[tuple[str, str, list[str]]] = [
    # (mrkdwn as the bot sends it, textContent shown, tags that must appear)
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>", []),
    ("<@U0BOB00001> approved", "@bob approved", ["span.mention"]),
    ("<@U0NOBODY1> and <@U0NOBODY1|dave>", "@U0NOBODY1 and @dave", ["span.mention"]),
    ("&lt;@U0BOB00001&gt; is text", "<@U0BOB00001> is text", []),
    ("<https://x.example/a?b=1&amp;c=2|the label>", "the label", ["a"]),
    ("<javascript:alert(1)|click>", "click", []),
    ("*bold* _it_ ~gone~ `code &lt;b&gt;`", "bold it gone code <b>", ["b", "i", "s", "code"]),
    ("```\nline &amp; more\n```", "line & more", ["pre"]),
    (":white_check_mark: done :no_such_emoji:", "✅ done :no_such_emoji:", []),
    ("> quoted\nplain", "quotedplain", ["blockquote"]),
    ("&gt; not a quote", "> not a quote", []),
    ("<!here> deploy", "@here deploy", ["span.mention"]),
    ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4", []),
    ("<#C000000001|deploys>", "#deploys", ["span.mention"]),
]


async def test_mrkdwn_rendering_is_safe(sandbox: Sandbox, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(f"{sandbox.base_url}?user=alice")
    await page.wait_for_function("window.SandboxMrkdwn !== undefined")
    results = await page.evaluate(
        """(cases) => cases.map(([text, _, tags]) => {
            const ctx = {users: {U0BOB00001: {name: "bob"}},
                         channels: {C000000001: {name: "deploys"}}};
            const node = SandboxMrkdwn.render(text, ctx);
            const href = node.querySelector("a") && node.querySelector("a").href;
            return {text: node.textContent, found: tags.map((t) => !!node.querySelector(t)),
                    tags: [...node.querySelectorAll("*")].map((e) => e.tagName.toLowerCase()),
                    href};
        })""",
        [list(c) for c in MRKDWN_CASES],
    )
    for (source, shown, tags), got in zip(MRKDWN_CASES, results, strict=True):
        assert got["text"] == shown, source
        assert all(got["found"]), (source, tags, got["tags"])
        assert {"script", "img", "iframe"}.isdisjoint(got["tags"]), source
        if "a" not in tags:
            assert "a" not in got["tags"], source
    assert results[4]["href"] == "https://x.example/a?b=1&c=2"


async def test_escaped_untrusted_text_never_becomes_markup(sandbox: Sandbox, browser: Any) -> None:
    """Any string escaped as a bot must (& < >) renders with no link, mention or HTML."""
    rng = random.Random(1234)
    alphabet = "<>&|@#!*_~`:/.\n abcUC0123=\"'"
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
               for _ in range(400)]
    samples += ["<script>x</script>", "<@U0BOB00001>", "<https://evil.example|ok>",
                "<img src=x onerror=alert(1)>", "&lt;already&gt;", "<!channel>"]
    page = await browser.new_page()
    await page.goto(f"{sandbox.base_url}?user=alice")
    await page.wait_for_function("window.SandboxMrkdwn !== undefined")
    rendered = await page.evaluate(
        """(texts) => texts.map((t) => {
            const node = SandboxMrkdwn.render(t, {users: {}, channels: {}});
            return {tags: [...node.querySelectorAll("*")].map((e) => e.tagName.toLowerCase()),
                    mentions: node.querySelectorAll(".mention").length,
                    text: node.textContent};
        })""",
        [escape(s) for s in samples],
    )
    allowed = {"span", "b", "i", "s", "code", "pre", "br", "blockquote"}
    for source, got in zip(samples, rendered, strict=True):
        assert set(got["tags"]) <= allowed, (source, got["tags"])
        assert got["mentions"] == 0, source
        for dangerous in ("<script", "<img", "<@U0BOB00001>", "<!channel>"):
            if dangerous in source:
                assert dangerous in got["text"], (source, got["text"])


async def test_home_tab_command_files_and_modal_errors_in_the_browser(
    sandbox: Sandbox, browser: Any
) -> None:
    app = bolt_app(sandbox)
    home_clicks: list[str] = []

    def home_view(note: str) -> dict[str, Any]:
        return {"type": "home", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Pending releases"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": note},
             "accessory": {"type": "button", "action_id": "forest.refresh.v1",
                           "text": {"type": "plain_text", "text": "Refresh"}}}]}

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view=home_view("Nothing waits for you"))

    @app.action("forest.refresh.v1")
    async def refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        home_clicks.append(body["container"]["type"])
        await client.views_publish(user_id=body["user"]["id"], view=home_view("*Refreshed*"))

    @app.command("/forest")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        if body["text"] == "login":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=REJECT_MODAL)
        else:
            await ack(text=f"Usage: /forest subscribe org/project (you said {body['text']})")

    @app.view("forest.reject.v1")
    async def submitted(ack: AsyncAck) -> None:
        await ack(response_action="errors", errors={"comment": "That token is not valid"})

    async with serve_bolt(app) as url:
        sandbox.driver.use_http(url, SIGNING_SECRET)
        client = sandbox.client()
        channel = (await client.conversations_info(channel="#deploys"))["channel"]["id"]
        await client.files_upload_v2(channel=channel, content="+ resource added\n",
                                     filename="plan.txt", title="Plan for production",
                                     initial_comment="Full plan")
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(f"{sandbox.base_url}?user=carol")

        file_card = page.locator(".file", has_text="Plan for production")
        await file_card.locator("pre", has_text="+ resource added").wait_for()

        composer = page.locator("#composer-input")
        await composer.fill("/forest help")
        await composer.press("Enter")
        eph = page.locator("article.message.ephemeral", has_text="Usage: /forest subscribe")
        await eph.get_by_text("(you said help)").wait_for()

        await composer.fill("/forest login")
        await composer.press("Enter")
        modal = page.locator("#modal")
        await modal.locator("textarea").fill("xoxp-bad")
        await modal.locator(".modal-submit").click()
        await modal.locator(".input-error", has_text="That token is not valid").wait_for()
        assert await modal.locator("textarea").input_value() == "xoxp-bad", "input kept"
        await modal.locator(".modal-close").click()
        await modal.wait_for(state="detached")

        await page.locator("#nav-home").click()
        home = page.locator("#home")
        await home.get_by_text("Nothing waits for you").wait_for()
        await home.locator('button[data-action-id="forest.refresh.v1"]').click()
        await home.locator("b", has_text="Refreshed").wait_for()
        assert home_clicks == ["view"]
        # an unanswered view_closed is silent, as on Slack (no error toast)
        assert await page.locator("#toast.error:visible").count() == 0
        OUTPUT.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "sandbox-home.png"))


async def test_golden_messages_render_without_unsupported_parts(
    sandbox: Sandbox, browser: Any
) -> None:
    from tests.sandbox.test_golden_messages import FILES, load

    if not FILES:
        pytest.skip("no golden Block Kit files in tests/blocks/golden")
    client = sandbox.client()
    messages = [p for p in FILES if p.stem.startswith(("release", "plan"))]
    for path in messages:
        data = load(path)
        await client.chat_postMessage(channel="deploys", text=data["text"], blocks=data["blocks"])
    modal = next((p for p in FILES if p.stem.startswith("modal")), None)
    if modal is not None:
        await client.views_open(trigger_id=sandbox.workspace.new_trigger("U0ALICE001"),
                                view=load(modal))
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{sandbox.base_url}?user=alice")
    await page.locator("article.message").nth(len(messages) - 1).wait_for()
    if modal is not None:
        await page.locator("#modal").wait_for()
    assert await page.locator(".unsupported").count() == 0
    assert await page.locator("article.message .blocks").count() == len(messages)
    assert errors == []
    # one picture per golden message: scripts/doc-images copies some into docs/img/
    shots = OUTPUT / "golden"
    shots.mkdir(parents=True, exist_ok=True)
    if modal is not None:
        await page.locator("#modal").screenshot(path=str(shots / f"{modal.stem}.png"))
        await page.keyboard.press("Escape")
        await page.locator("#modal").wait_for(state="hidden")
    for index, path in enumerate(messages):
        article = page.locator("article.message").nth(index)
        await article.scroll_into_view_if_needed()
        await article.screenshot(path=str(shots / f"{path.stem}.png"))
