"""Per-method rate limits and fault injection for the sandbox's Web API.

`RateLimits` keeps a sliding window of call times per (method, key) and answers how long the
caller must wait (Slack's `Retry-After`) when a call would exceed the method's limit.
`Faults` adds latency and a random fraction of 429s / 5xx, for tests and benchmarks.
Both can be changed while the server runs (the `/_sandbox/control` endpoint sets them).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limit:
    """At most `calls` per `per_seconds`; `per_channel` keys the window on the channel too."""

    calls: int
    per_seconds: float = 60.0
    per_channel: bool = False


EPSILON = 1e-6  # seconds

TIER_1 = Limit(1)
TIER_2 = Limit(20)
TIER_3 = Limit(50)
TIER_4 = Limit(100)

# Slack's published tiers (shared/slack-platform.md). chat.postMessage is "special": about one
# message per second per channel, with short bursts allowed; we allow a burst of 5 per 5 s.
SLACK_TIERS: Mapping[str, Limit] = {
    "auth.test": Limit(600),
    "chat.postMessage": Limit(5, 5.0, per_channel=True),
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "chat.postEphemeral": TIER_4,
    "chat.getPermalink": TIER_4,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.push": TIER_4,
    "views.publish": TIER_4,
    "users.info": TIER_4,
    "users.lookupByEmail": TIER_3,
    "conversations.info": TIER_3,
    "conversations.join": TIER_3,
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "files.info": TIER_4,
    # Tier 1 "1+ per minute" allows bursts; replicas (up to 10 connections) start together.
    "apps.connections.open": Limit(10),
}


class RateLimits:
    """Sliding-window limiter. An empty table (the default) limits nothing."""

    def __init__(self, limits: Mapping[str, Limit] | None = None) -> None:
        self.limits: dict[str, Limit] = dict(limits or {})
        self._calls: dict[tuple[str, str], deque[float]] = {}

    @classmethod
    def slack(cls, **overrides: Limit) -> RateLimits:
        """Slack's tiers, with per-method overrides (`**{"chat.update": Limit(5, 1)}`)."""
        return cls({**SLACK_TIERS, **overrides})

    def reset(self) -> None:
        self._calls.clear()

    def check(self, method: str, channel: str | None = None, now: float | None = None) -> int:
        """Record a call. 0 means allowed; otherwise the whole seconds to wait (>= 1)."""
        limit = self.limits.get(method)
        if limit is None:
            return 0
        now = time.monotonic() if now is None else now
        key = (method, (channel or "") if limit.per_channel else "")
        window = self._calls.setdefault(key, deque())
        # EPSILON: a caller that waits exactly the Retry-After it was given must get through,
        # whatever float rounding does to `now + wait`.
        while window and window[0] + limit.per_seconds <= now + EPSILON:
            window.popleft()
        if len(window) >= limit.calls:
            return max(1, math.ceil(window[0] + limit.per_seconds - now))
        window.append(now)
        return 0


@dataclass
class Faults:
    """Injected trouble. Fractions are probabilities per call, drawn from a seeded RNG."""

    latency: float = 0.0  # seconds added before every answer
    ratelimit_fraction: float = 0.0  # answered 429 + Retry-After
    error_fraction: float = 0.0  # answered `error_status` with a JSON error
    retry_after: int = 1
    error_status: int = 503
    methods: frozenset[str] = frozenset()  # empty: all methods
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def applies_to(self, method: str) -> bool:
        return not self.methods or method in self.methods

    def draw(self, method: str) -> str | None:
        """"ratelimited", "error" or None for this call."""
        if not self.applies_to(method):
            return None
        roll = self._rng.random()
        if roll < self.ratelimit_fraction:
            return "ratelimited"
        if roll < self.ratelimit_fraction + self.error_fraction:
            return "error"
        return None

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Update from a JSON object (the control endpoint); unknown keys raise KeyError."""
        for key, value in settings.items():
            if key == "methods":
                self.methods = frozenset(value or ())
            elif key == "seed":
                self.seed = value
                self._rng.seed(value)
            elif key in ("latency", "ratelimit_fraction", "error_fraction"):
                setattr(self, key, float(value))
            elif key in ("retry_after", "error_status"):
                setattr(self, key, int(value))
            else:
                raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "ratelimit_fraction": self.ratelimit_fraction,
            "error_fraction": self.error_fraction,
            "retry_after": self.retry_after,
            "error_status": self.error_status,
            "methods": sorted(self.methods),
            "seed": self.seed,
        }
