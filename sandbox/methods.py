"""The Web API methods the bot uses, with Slack's response shapes and error codes.

Each function takes a `Call` and returns the fields of `{"ok": true, ...}`, or raises
`ApiError`. Block Kit validation is `blocks.limits`, shared with our builders.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from blocks.limits import message_problems, view_problems
from sandbox.scopes import CHAT_WRITE_PUBLIC, conversation_type
from sandbox.state import Channel, File, JsonDict, Message, View, Workspace
from sandbox.webapi import ApiError, Call, method

TRIGGER_TTL_SECONDS = 3.0
MAX_VIEW_STACK = 3
# Slack truncates a posted message's `text` above 40,000 characters and says so in a warning
# (changelog 2018-04 "Truncating really long messages": chat.postMessage, chat.postEphemeral,
# response URLs); chat.update refuses `text` over 4,000 characters with msg_too_long.
MAX_POSTED_TEXT = 40_000
MAX_UPDATED_TEXT = 4_000
TRUNCATED: JsonDict = {
    "warning": "message_truncated",
    "response_metadata": {
        "messages": ["[WARN] Your message was truncated but still posted. "
                     f"The `text` field accepts up to {MAX_POSTED_TEXT:,} characters."],
        "warnings": ["message_truncated"],
    },
}


# -- shared checks ----------------------------------------------------------------------------


def _problem_list(problems: list[str]) -> JsonDict:
    messages = [f"[ERROR] {p}" for p in problems]
    return {"errors": problems, "response_metadata": {"messages": messages}}


def check_message(text: str | None, blocks: Any) -> None:
    """Raise the error Slack gives for these blocks (or a message with neither), if any.

    The length of `text` is not checked here: each method applies Slack's own rule
    (`truncate_text`, or MAX_UPDATED_TEXT for chat.update). blocks.limits keeps our builders
    below 4,000 characters everywhere, which is stricter than Slack.
    """
    if blocks is not None and not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    problems = [p for p in message_problems(text, blocks) if not p.startswith("msg_too_long:")]
    if not problems:
        return
    for code in ("msg_blocks_too_long", "no_text"):
        if any(p.startswith(f"{code}:") for p in problems):
            raise ApiError(code, **_problem_list(problems))
    raise ApiError("invalid_blocks", **_problem_list(problems))


def truncate_text(text: str | None) -> tuple[str | None, JsonDict]:
    """What Slack keeps of a posted message's `text`, and the warning fields to answer with."""
    if text is None or len(text) <= MAX_POSTED_TEXT:
        return text, {}
    return text[:MAX_POSTED_TEXT], TRUNCATED


def check_view(view: Any, *, kind: str | None = None) -> JsonDict:
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments", **_problem_list(["view must be a JSON object"]))
    if kind and view.get("type") != kind:
        raise ApiError("invalid_arguments", **_problem_list([f"view.type must be {kind!r}"]))
    problems = view_problems(view)
    if any(p.startswith("view_too_large") for p in problems):
        raise ApiError("view_too_large", **_problem_list(problems))
    if problems:
        raise ApiError("invalid_arguments", **_problem_list(problems))
    fill_block_ids(view.get("blocks"))
    return view


def fill_block_ids(blocks: list[JsonDict] | None) -> list[JsonDict] | None:
    """Slack gives every block (and every interactive element) an id when the app did not."""
    if not blocks:
        return blocks
    for block in blocks:
        if isinstance(block, dict):
            block.setdefault("block_id", secrets.token_urlsafe(3))
            elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
            for key in ("accessory", "element"):  # section accessory, input element
                if isinstance(block.get(key), dict):
                    elements.append(block[key])
            for element in elements:
                if isinstance(element, dict) and element.get("type") != "image":
                    element.setdefault("action_id", secrets.token_urlsafe(3))
    return blocks


def resolve_channel(ws: Workspace, ref: str, *, for_post: bool = False) -> Channel:
    """A channel the bot can see: by id, name, or (for posting) a user id meaning the DM."""
    channel = ws.channel(ref)
    if channel is None and for_post and ref in ws.users:
        channel = ws.im_with(ref)
    bot = ws.app.bot_user_id
    if channel is None or ((channel.is_private or channel.is_im) and bot not in channel.members):
        raise ApiError("channel_not_found")
    return channel


def _require_open(channel: Channel, error: str = "is_archived") -> None:
    """An archived channel takes no new messages (is_archived) and no edits (chat.update's
    is_inactive: "a frozen, archived or deleted channel")."""
    if channel.is_archived:
        raise ApiError(error)


def _require_member(call: Call, channel: Channel, *, public_ok: bool) -> None:
    """The bot must be in the channel, or (with chat:write.public) it may post in a public one."""
    if call.ws.app.bot_user_id in channel.members:
        return
    if public_ok and CHAT_WRITE_PUBLIC in call.grant and not channel.is_private:
        return
    raise ApiError("not_in_channel")


def _bot_message(ws: Workspace, call: Call) -> tuple[Channel, Message]:
    channel = resolve_channel(ws, call.args.req("channel"))
    message = ws.message(channel.id, call.args.req("ts"))
    if message is None or message.deleted:
        raise ApiError("message_not_found")
    return channel, message


# -- auth / apps ------------------------------------------------------------------------------


@method("auth.test")
async def auth_test(call: Call) -> JsonDict:
    app = call.ws.app
    return {
        "url": f"{call.base_url}",
        "team": app.team_name,
        "user": app.bot_name,
        "team_id": app.team_id,
        "user_id": app.bot_user_id,
        "bot_id": app.bot_id,
        "is_enterprise_install": False,
    }


@method("apps.connections.open", token="app")
async def apps_connections_open(call: Call) -> JsonDict:
    url = call.server.socket_mode.open_url()
    if url is None:
        raise ApiError("too_many_websockets")
    return {"url": url}


# -- chat -------------------------------------------------------------------------------------


@method("chat.postMessage")
async def chat_post_message(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    channel = resolve_channel(ws, args.req("channel"), for_post=True)
    _require_open(channel)
    _require_member(call, channel, public_ok=True)
    text, blocks = args.text("text"), args.json("blocks")
    check_message(text, blocks)
    text, warning = truncate_text(text)
    thread_ts = args.text("thread_ts")
    if thread_ts:
        parent = ws.message(channel.id, thread_ts)
        if parent is None:
            raise ApiError("thread_not_found")
        thread_ts = parent.thread_ts if parent.is_reply else parent.ts
    message = ws.post(
        channel.id,
        ws.app.bot_user_id,
        text or "",
        fill_block_ids(blocks),
        thread_ts=thread_ts,
        bot=True,
        reply_broadcast=bool(thread_ts) and args.flag("reply_broadcast"),
    )
    return {"channel": channel.id, "ts": message.ts, "message": ws.message_to_api(message),
            **warning}


@method("chat.update")
async def chat_update(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    channel, message = _bot_message(ws, call)
    _require_open(channel, "is_inactive")
    if message.bot_id != ws.app.bot_id:
        raise ApiError("cant_update_message")
    text = args.text("text")
    blocks = args.json("blocks") if args.has("blocks") else None
    if text is None and blocks is None:
        raise ApiError("no_text")
    new_text = text if text is not None else message.text
    check_message(new_text, blocks)
    if text is not None and len(text) > MAX_UPDATED_TEXT:
        raise ApiError("msg_too_long")
    # Slack: text without blocks removes the old blocks; blocks without text keep the text.
    ws.update(message, new_text, fill_block_ids(blocks))
    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": ws.message_to_api(message),
    }


@method("chat.delete")
async def chat_delete(call: Call) -> JsonDict:
    ws = call.ws
    channel, message = _bot_message(ws, call)
    if message.bot_id != ws.app.bot_id:
        raise ApiError("cant_delete_message")
    ws.delete(message)
    return {"channel": channel.id, "ts": message.ts}


@method("chat.postEphemeral")
async def chat_post_ephemeral(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    channel = resolve_channel(ws, args.req("channel"), for_post=True)
    user = ws.user(args.req("user"))
    if user is None:
        raise ApiError("user_not_found")
    if user.id not in channel.members:
        raise ApiError("user_not_in_channel")
    _require_open(channel)
    _require_member(call, channel, public_ok=True)
    text, blocks = args.text("text"), args.json("blocks")
    check_message(text, blocks)
    text, warning = truncate_text(text)
    eph = ws.post_ephemeral(
        channel.id, user.id, text or "", fill_block_ids(blocks), thread_ts=args.text("thread_ts")
    )
    return {"message_ts": eph.ts, **warning}


def permalink(base_url: str, message: Message) -> str:
    link = f"{base_url}archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link


@method("chat.getPermalink")
async def chat_get_permalink(call: Call) -> JsonDict:
    ws = call.ws
    channel = resolve_channel(ws, call.args.req("channel"))
    message = ws.message(channel.id, call.args.req("message_ts"))
    if message is None or message.deleted:
        raise ApiError("message_not_found")
    return {"channel": channel.id, "permalink": permalink(call.base_url, message)}


# -- views ------------------------------------------------------------------------------------


def _use_trigger(ws: Workspace, trigger_id: str) -> str:
    trigger = ws.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if time.monotonic() - trigger.created > TRIGGER_TTL_SECONDS:
        raise ApiError("expired_trigger_id")
    return trigger.user


def _view_answer(ws: Workspace, view: View) -> JsonDict:
    return {"view": ws.view_to_api(view)}


@method("views.open")
async def views_open(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    trigger_id = args.req("trigger_id")
    body = check_view(args.json("view"), kind="modal")
    user = _use_trigger(ws, trigger_id)
    ws.triggers[trigger_id].used = True
    return _view_answer(ws, ws.open_view(user, body))


@method("views.push")
async def views_push(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    trigger_id = args.req("trigger_id")
    body = check_view(args.json("view"), kind="modal")
    user = _use_trigger(ws, trigger_id)
    stack = ws.view_stack(user)
    if not stack:
        raise ApiError("invalid_arguments", **_problem_list(["no open view to push onto"]))
    if len(stack) >= MAX_VIEW_STACK:
        raise ApiError("push_limit_reached")
    ws.triggers[trigger_id].used = True
    return _view_answer(ws, ws.open_view(user, body, push=True))


def _find_view(ws: Workspace, view_id: str | None, external_id: str | None) -> View:
    if view_id:
        view = ws.views.get(view_id)
    else:
        view = next((v for v in ws.views.values() if external_id and v.external_id == external_id),
                    None)
    if view is None:
        raise ApiError("not_found")
    return view


@method("views.update")
async def views_update(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    view_id, external_id = args.text("view_id"), args.text("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments", **_problem_list(["view_id or external_id required"]))
    view = _find_view(ws, view_id, external_id)
    body = check_view(args.json("view"), kind=view.type)
    expected = args.text("hash")
    if expected and expected != view.hash:
        raise ApiError("hash_conflict")
    return _view_answer(ws, ws.replace_view(view, body))


@method("views.publish")
async def views_publish(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    user = ws.user(args.req("user_id"))
    if user is None or user.is_bot:
        raise ApiError("user_not_found")
    body = check_view(args.json("view"), kind="home")
    existing = ws.home_view(user.id)
    expected = args.text("hash")
    if expected and existing is not None and expected != existing.hash:
        raise ApiError("hash_conflict")
    return _view_answer(ws, ws.publish_home(user.id, body))


# -- users ------------------------------------------------------------------------------------


@method("users.info")
async def users_info(call: Call) -> JsonDict:
    user = call.ws.users.get(call.args.req("user"))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.to_api(call.ws.app.team_id)}


@method("users.lookupByEmail")
async def users_lookup_by_email(call: Call) -> JsonDict:
    email = call.args.req("email").lower()
    for user in call.ws.users.values():
        if not user.is_bot and user.email.lower() == email:
            return {"user": user.to_api(call.ws.app.team_id)}
    raise ApiError("users_not_found")


# -- conversations ----------------------------------------------------------------------------


@method("conversations.info")
async def conversations_info(call: Call) -> JsonDict:
    channel = resolve_channel(call.ws, call.args.req("channel"))
    call.require_scope(conversation_type(channel))
    return {"channel": channel.to_api(call.ws.app.bot_user_id)}


@method("conversations.join")
async def conversations_join(call: Call) -> JsonDict:
    ws = call.ws
    channel = resolve_channel(ws, call.args.req("channel"))
    if channel.is_private or channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    _require_open(channel)
    bot = ws.app.bot_user_id
    answer: JsonDict = {}
    if bot in channel.members:
        answer = {"warning": "already_in_channel",
                  "response_metadata": {"warnings": ["already_in_channel"]}}
    else:
        channel.members.append(bot)
        ws.changed("channels")
    return {"channel": channel.to_api(bot), **answer}


@method("conversations.open")
async def conversations_open(call: Call) -> JsonDict:
    """Open (or find) the bot's DM with one user (im:write). Group DMs are not modelled."""
    ws = call.ws
    users = [u for u in (call.args.text("users") or "").split(",") if u]
    if call.args.text("channel"):
        channel = resolve_channel(ws, call.args.req("channel"))
        call.require_scope(conversation_type(channel))
        return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
    call.require_scope("im" if len(users) <= 1 else "mpim")
    if len(users) != 1:
        raise ApiError("invalid_arguments",
                       **_problem_list(["users: exactly one user (group DMs not supported)"]))
    user = ws.users.get(users[0])
    if user is None or user.is_bot:
        raise ApiError("user_not_found")
    existed = any(c.is_im and user.id in c.members for c in ws.channels.values())
    channel = ws.im_with(user.id)
    answer: JsonDict = {"channel": channel.to_api(ws.app.bot_user_id)
                        if call.args.flag("return_im") else {"id": channel.id}}
    if existed:
        answer.update({"no_op": True, "already_open": True})
    return answer


def _cursor_page(call: Call, messages: list[Message]) -> JsonDict:
    limit = max(1, min(call.args.integer("limit", 100), 999))
    cursor = call.args.text("cursor")
    try:
        start = int(base64.b64decode(cursor).decode().split(":", 1)[1]) if cursor else 0
    except (ValueError, IndexError) as exc:
        raise ApiError("invalid_cursor") from exc
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    next_cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
    return {
        "messages": [call.ws.message_to_api(m) for m in page],
        "has_more": more,
        "response_metadata": {"next_cursor": next_cursor},
    }


def _in_window(call: Call, messages: list[Message]) -> list[Message]:
    oldest, latest = call.args.text("oldest"), call.args.text("latest")
    inclusive = call.args.flag("inclusive")

    def keep(ts: str) -> bool:
        value = float(ts)
        if oldest and (value < float(oldest) or (value == float(oldest) and not inclusive)):
            return False
        too_new = latest and (value > float(latest) or (value == float(latest) and not inclusive))
        return not too_new

    return [m for m in messages if keep(m.ts)]


@method("conversations.history")
async def conversations_history(call: Call) -> JsonDict:
    channel = resolve_channel(call.ws, call.args.req("channel"))
    call.require_scope(conversation_type(channel))
    messages = list(reversed(_in_window(call, call.ws.top_level(channel.id))))
    return {**_cursor_page(call, messages), "pin_count": 0}


@method("conversations.replies")
async def conversations_replies(call: Call) -> JsonDict:
    ws = call.ws
    channel = resolve_channel(ws, call.args.req("channel"))
    call.require_scope(conversation_type(channel))
    root = ws.message(channel.id, call.args.req("ts"))
    if root is None:
        raise ApiError("thread_not_found")
    if root.is_reply:
        root = ws.message(channel.id, root.thread_ts or "") or root
    thread = [root, *ws.replies(channel.id, root.ts)]
    return _cursor_page(call, _in_window(call, thread) if call.args.has("oldest") else thread)


# -- files ------------------------------------------------------------------------------------


@method("files.getUploadURLExternal")
async def files_get_upload_url_external(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    filename = args.req("filename")
    length = args.integer("length", -1)
    if length < 0:
        raise ApiError("invalid_arguments", **_problem_list(["length must be given"]))
    file = File(
        id=ws.new_id("F"),
        name=filename,
        title=filename,
        length=length,
        user=ws.app.bot_user_id,
        created=int(time.time()),
        snippet_type=args.text("snippet_type"),
        alt_txt=args.text("alt_txt"),
    )
    ws.files[file.id] = file
    token = call.server.uploads.issue(file.id)
    return {"upload_url": f"{call.base_url}_sandbox/upload/v1/{token}", "file_id": file.id}


@method("files.completeUploadExternal")
async def files_complete_upload_external(call: Call) -> JsonDict:
    ws, args = call.ws, call.args
    items = args.json("files")
    if not isinstance(items, list) or not items:
        raise ApiError("invalid_arguments", **_problem_list(["files must be a non-empty list"]))
    files: list[File] = []
    for item in items:
        file = ws.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        if file is None or not file.uploaded:
            raise ApiError("file_not_found")
        if item.get("title"):
            file.title = str(item["title"])
        files.append(file)
    channel_id = args.text("channel_id")
    channel_refs = [channel_id] if channel_id else []
    channel_refs += [c for c in (args.text("channels") or "").split(",") if c]
    thread_ts = args.text("thread_ts")
    if thread_ts and len(channel_refs) != 1:
        raise ApiError("invalid_arguments", **_problem_list(["thread_ts needs exactly 1 channel"]))
    comment = args.text("initial_comment") or ""
    for ref in channel_refs:
        channel = resolve_channel(ws, ref, for_post=True)
        _require_member(call, channel, public_ok=False)
        if thread_ts:
            parent = ws.message(channel.id, thread_ts)
            if parent is None:
                raise ApiError("thread_not_found")
            thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        ws.post(channel.id, ws.app.bot_user_id, comment, None, thread_ts=thread_ts, bot=True,
                files=[f.id for f in files])
    return {"files": [ws.file_to_api(f, call.base_url) for f in files]}


@method("files.info")
async def files_info(call: Call) -> JsonDict:
    file = call.ws.files.get(call.args.req("file"))
    if file is None or not file.uploaded:
        raise ApiError("file_not_found")
    return {"file": call.ws.file_to_api(file, call.base_url), "comments": [],
            "response_metadata": {"next_cursor": ""}}
