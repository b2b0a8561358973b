"""File bytes: the upload URL handed out by files.getUploadURLExternal, and downloads.

Step 2 of Slack's upload flow POSTs the raw bytes (or a multipart form with one file) to the
URL from step 1. The URL is single-use; the file is shared only by files.completeUploadExternal.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from aiohttp import web

from sandbox.state import Workspace


class Uploads:
    def __init__(self, workspace_getter: Callable[[], Workspace]) -> None:
        self._workspace = workspace_getter
        self._pending: dict[str, str] = {}  # token -> file id

    def issue(self, file_id: str) -> str:
        token = secrets.token_urlsafe(18)
        self._pending[token] = file_id
        return token

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sandbox/upload/v1/{token}", self.upload),
            web.get("/_sandbox/files/{file_id}/{name}", self.download),
        ]

    async def upload(self, request: web.Request) -> web.Response:
        file_id = self._pending.pop(request.match_info["token"], None)
        ws = self._workspace()
        file = ws.files.get(file_id) if file_id else None
        if file is None:
            return web.Response(status=404, text="upload url unknown or already used")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next(iter(form.values()), None)
            if isinstance(part, web.FileField):
                data = part.file.read()
            else:
                data = part.encode() if isinstance(part, str) else bytes(part or b"")
        else:
            data = await request.read()
        file.content = data
        file.length = len(data)
        ws.changed("file", file_id=file.id)
        return web.Response(text=f"OK - {len(data)}")

    async def download(self, request: web.Request) -> web.Response:
        file = self._workspace().files.get(request.match_info["file_id"])
        if file is None or file.content is None:
            return web.Response(status=404, text="file_not_found")
        text_like = bool(file.snippet_type) or file.name.endswith((".txt", ".diff", ".log"))
        return web.Response(
            body=file.content,
            content_type="text/plain" if text_like else "application/octet-stream",
            charset="utf-8" if text_like else None,
            headers={"Content-Disposition": f'inline; filename="{file.name}"'},
        )
