"""Slack's rate budget, spent where people are looking first.

Two things decide whether a refresher call goes to Slack now:
- a **pace** per method (Slack publishes chat.update as Tier 3, about 50 a minute per workspace):
  background refreshes may use the budget only up to a reserve, which is kept for urgent calls
  (the message someone just clicked, a release that just finished), so those never queue behind
  a release train of hundreds of messages;
- a **hold** learnt from a 429: nothing of that method (urgent calls included) goes to Slack
  before its Retry-After has passed.

A call that may not go now is not made: the caller gets the wait and re-queues the work (the
refresher never sleeps), so a 429 storm costs Slack no extra calls.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pace:
    """At most `calls` per `per_seconds`; background calls leave `reserve` of them unused."""

    calls: int
    per_seconds: float = 60.0
    reserve: int = 0

    def __post_init__(self) -> None:
        if self.calls < 1 or not 0 <= self.reserve < self.calls or self.per_seconds <= 0:
            raise ValueError(f"a pace needs calls >= 1 and 0 <= reserve < calls, not {self}")


def chat_update_pace(per_minute: int) -> Pace | None:
    """The pace for chat.update from a per-minute budget (0: no pacing); a fifth is reserved."""
    if per_minute <= 0:
        return None
    return Pace(per_minute, 60.0, reserve=max(1, per_minute // 5) if per_minute > 1 else 0)


class SlackBudget:
    def __init__(
        self,
        paces: dict[str, Pace] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._paces = dict(paces or {})
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._held_until: dict[str, float] = {}

    def wait(self, method: str, *, urgent: bool) -> float:
        """0 and the call is counted, or the seconds to wait before trying again."""
        now = self._clock()
        held = self._held_until.get(method, 0.0) - now
        if held > 0:
            return held
        pace = self._paces.get(method)
        if pace is None:
            return 0.0
        window = self._calls.setdefault(method, deque())
        while window and window[0] + pace.per_seconds <= now:
            window.popleft()
        allowed = pace.calls if urgent else pace.calls - pace.reserve
        if len(window) >= allowed:
            # the (len - allowed + 1)-th oldest call leaving the window frees a slot for us
            return window[len(window) - allowed] + pace.per_seconds - now
        window.append(now)
        return 0.0

    def hold(self, method: str, seconds: float) -> None:
        """Slack answered 429: no call of `method` before `seconds` from now."""
        until = self._clock() + max(seconds, 0.0)
        self._held_until[method] = max(self._held_until.get(method, 0.0), until)
