"""SlackBudget: background refreshes leave a reserve for clicked messages; a 429 holds everyone."""

from __future__ import annotations

import pytest

from bot.slack_budget import Pace, SlackBudget, chat_update_pace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_background_calls_leave_the_reserve_to_urgent_ones() -> None:
    clock = Clock()
    budget = SlackBudget({"chat.update": Pace(5, 60.0, reserve=2)}, clock=clock)
    assert [budget.wait("chat.update", urgent=False) for _ in range(3)] == [0, 0, 0]
    assert budget.wait("chat.update", urgent=False) == pytest.approx(60.0)  # reserve untouched
    assert budget.wait("chat.update", urgent=True) == 0
    assert budget.wait("chat.update", urgent=True) == 0
    assert budget.wait("chat.update", urgent=True) == pytest.approx(60.0)  # budget spent
    clock.now += 60.0
    assert budget.wait("chat.update", urgent=False) == 0  # the oldest calls left the window


def test_wait_is_until_a_slot_frees() -> None:
    clock = Clock()
    budget = SlackBudget({"chat.update": Pace(2, 10.0)}, clock=clock)
    assert budget.wait("chat.update", urgent=False) == 0
    clock.now += 4.0
    assert budget.wait("chat.update", urgent=False) == 0
    assert budget.wait("chat.update", urgent=False) == pytest.approx(6.0)
    clock.now += 6.0
    assert budget.wait("chat.update", urgent=False) == 0


def test_a_429_holds_every_call_of_the_method_until_retry_after() -> None:
    clock = Clock()
    budget = SlackBudget(clock=clock)  # no pace: only holds
    assert budget.wait("chat.update", urgent=False) == 0
    budget.hold("chat.update", 3.0)
    assert budget.wait("chat.update", urgent=True) == pytest.approx(3.0)
    assert budget.wait("chat.postMessage", urgent=False) == 0  # other methods are not held
    budget.hold("chat.update", 1.0)  # a shorter hold never shortens a longer one
    clock.now += 2.0
    assert budget.wait("chat.update", urgent=False) == pytest.approx(1.0)
    clock.now += 1.0
    assert budget.wait("chat.update", urgent=False) == 0


def test_pace_from_a_per_minute_budget() -> None:
    assert chat_update_pace(0) is None
    assert chat_update_pace(50) == Pace(50, 60.0, reserve=10)
    assert chat_update_pace(1) == Pace(1, 60.0, reserve=0)
    with pytest.raises(ValueError):
        Pace(3, 60.0, reserve=3)
