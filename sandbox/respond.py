"""`response_url`s: where an app answers an interaction without a token.

The driver hands out one with each block_actions and slash command. Like Slack's, it works
up to 5 times within 30 minutes and understands `replace_original`, `delete_original`,
`response_type` ("ephemeral" by default, or "in_channel") and `thread_ts`. A slash command's
immediate answer (the body of the ack) goes through the same `apply_response`. As on Slack,
`text` over 40,000 characters is truncated, with a `message_truncated` warning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from aiohttp import web

from sandbox.methods import check_message, fill_block_ids, truncate_text
from sandbox.state import JsonDict, ResponseUrl, Workspace
from sandbox.webapi import ApiError, json_response

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


def apply_response(ws: Workspace, info: ResponseUrl, body: JsonDict) -> JsonDict:
    """Do what a response_url body (or a command's ack body) asks. Raises ApiError.

    Returns the warning fields for the answer (empty, or Slack's message_truncated).
    """
    text = body.get("text")
    blocks = body.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if body.get("delete_original"):
        _delete_original(ws, info)
        return {}
    check_message(text, blocks)
    truncated, warning = truncate_text(text)
    text = truncated or ""
    if body.get("replace_original") and info.message_ts:
        if info.is_ephemeral:
            eph = ws.ephemeral(info.channel, info.message_ts)
            if eph is None:
                raise ApiError("message_not_found", status=404)
            ws.replace_ephemeral(eph, text, fill_block_ids(blocks))
        else:
            message = ws.message(info.channel, info.message_ts)
            if message is None:
                raise ApiError("message_not_found", status=404)
            ws.update(message, text, fill_block_ids(blocks))
        return warning
    thread_ts = body.get("thread_ts") or info.thread_ts
    if body.get("response_type") == "in_channel":
        ws.post(info.channel, ws.app.bot_user_id, text, fill_block_ids(blocks),
                thread_ts=thread_ts, bot=True)
    else:
        ws.post_ephemeral(info.channel, info.user, text, fill_block_ids(blocks),
                          thread_ts=thread_ts)
    return warning


def _delete_original(ws: Workspace, info: ResponseUrl) -> None:
    if not info.message_ts:
        raise ApiError("no_original_message", status=404)
    if info.is_ephemeral:
        eph = ws.ephemeral(info.channel, info.message_ts)
        if eph is not None:
            ws.delete_ephemeral(eph)
        return
    message = ws.message(info.channel, info.message_ts)
    if message is None:
        raise ApiError("message_not_found", status=404)
    ws.delete(message)


class ResponseUrls:
    def __init__(self, workspace_getter: Callable[[], Workspace]) -> None:
        self._workspace = workspace_getter

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/_sandbox/respond/{team}/{token}", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        ws = self._workspace()
        info = ws.response_urls.get(request.match_info["token"])
        expired = info is None or info.uses >= MAX_USES or (
            time.monotonic() - info.created > LIFETIME_SECONDS
        )
        if info is None or expired:
            return json_response({"ok": False, "error": "expired_url"}, status=404)
        try:
            body = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            return json_response({"ok": False, "error": "invalid_json"}, status=400)
        if not isinstance(body, dict):
            return json_response({"ok": False, "error": "invalid_json"}, status=400)
        info.uses += 1
        try:
            warning = apply_response(ws, info, body)
        except ApiError as exc:
            return json_response({"ok": False, "error": exc.code, **exc.extra},
                                 status=exc.status if exc.status != 200 else 400)
        return json_response({"ok": True, **warning})
