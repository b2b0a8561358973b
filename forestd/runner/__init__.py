"""Running releases: the in-process runner, its destinations and the completion path.

- `Runner`: the server component that claims QUEUED release rows and runs them;
- `apply_completion(db, CompleteReleaseRequest)`: the one way a result is recorded;
- `execute(WorkAssignment)`: run a destination (`demo` or `script`);
- `demo_plan(lines, seed)`: terraform-looking plan text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .completion import apply_completion
from .demo_plan import demo_plan, demo_plan_bytes
from .destinations import execute
from .worker import Runner

if TYPE_CHECKING:
    from ..context import ServiceContext
    from ..server import ForestServer

__all__ = ["Runner", "apply_completion", "attach", "demo_plan", "demo_plan_bytes", "execute"]


def attach(server: ForestServer) -> None:
    """Add the coordinator and the in-process runner to a server's components (before start).

    They read the server's context when they start; the runner stays idle when
    `settings.runner_enabled` is false.
    """
    from ..coordinator import Coordinator

    def context() -> ServiceContext:
        if server.ctx is None:
            raise RuntimeError("the server has not started")
        return server.ctx

    server.components += [Coordinator(context), Runner(context)]
