"""docs/messages.md shows the builders' real output."""

from __future__ import annotations

import os

from tests.blocks.docs_page import PAGE, build_page


def test_messages_page_is_current() -> None:
    page = build_page()
    if os.environ.get("UPDATE_GOLDEN"):
        PAGE.write_text(page, encoding="utf-8")
    assert PAGE.exists() and PAGE.read_text(encoding="utf-8") == page, (
        "docs/messages.md is stale: run UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/blocks"
    )
