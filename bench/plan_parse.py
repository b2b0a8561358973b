"""Time the terraform summary and the plan post on a generated 5 MB plan.

    .venv/bin/python bench/plan_parse.py

The plan is real-shaped Terraform output (the generator the block tests use), with and
without ANSI colour. Goal: a 5 MB plan is summarised well under a second (DESIGN §7).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blocks.model import Plan, PlanDestination
from blocks.plan_thread import plan_post
from blocks.terraform import summarize_plan
from tests.blocks.plans import colour, huge_plan
from tests.blocks.states import STATES


def _median_ms(run: object, repeat: int = 7) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    text, count = huge_plan(5_000_000)
    coloured = colour(text)
    release = STATES["awaiting_plan"]()
    destination = PlanDestination("prod-eu", "SUCCEEDED", text)
    plan = Plan("plan-production", "production", "AWAITINGAPPROVAL", (destination,))
    print(f"plan: {len(text.encode()):,} bytes, {text.count(chr(10)):,} lines, {count:,} resources")
    print(f"summarize_plan (-no-color):   {_median_ms(lambda: summarize_plan(text)):7.1f} ms")
    print(f"summarize_plan (ANSI colour): {_median_ms(lambda: summarize_plan(coloured)):7.1f} ms")
    post_ms = _median_ms(lambda: plan_post(release, plan, destination))
    print(f"plan_post (summary + file):   {post_ms:7.1f} ms")


if __name__ == "__main__":
    main()
