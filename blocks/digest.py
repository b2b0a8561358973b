"""A stable digest of a rendered payload, for the refresher's "did anything change?" check."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def payload_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace): equal payloads, equal digest."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
