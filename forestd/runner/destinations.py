"""Running one WorkAssignment on its destination; the result is a CompleteReleaseRequest.

Everything a destination needs travels in the assignment (`destination.type.name` is the kind,
`destination.metadata` its configuration, JSON-encoded where not a plain string), so a remote
runner could execute it the same way.

- `script`: runs `metadata["deploy"]` or `metadata["plan"]` (a JSON argv list, no shell) with
  asyncio's subprocess in `metadata["cwd"]`, killed after `timeout_seconds` (default 600). The
  release's identity is in FOREST_* environment variables. Exit 0 is success; in plan mode the
  command's stdout is the plan (stdout only, as Forest captures `terraform plan -no-color`).
- `demo`: built-in; deploys after `deploy_seconds` (default 1), plans after `plan_seconds`
  (default 0.2) producing a terraform-looking plan of `plan_lines` lines (default 40) or at
  least `plan_bytes` bytes, deterministic per `plan_seed` (default: artifact + destination).
  `fail` = "deploy" / "plan" / "both" makes it fail, for trying failure paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

from forest.v1 import runner_pb2

from .demo_plan import demo_plan, demo_plan_bytes

DEFAULT_TIMEOUT = 600.0
ERROR_TAIL = 2000


def encode_config(config: dict[str, Any]) -> dict[str, str]:
    """A destination's config as WorkAssignment metadata (strings stay, the rest is JSON)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def _value(metadata: Any, key: str, default: Any = None) -> Any:
    if key not in metadata:
        return default
    raw = metadata[key]
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def is_plan(assignment: runner_pb2.WorkAssignment) -> bool:
    return assignment.mode == runner_pb2.RELEASE_MODE_PLAN


def _result(
    assignment: runner_pb2.WorkAssignment, ok: bool, error: str = "", plan: str | None = None
) -> runner_pb2.CompleteReleaseRequest:
    request = runner_pb2.CompleteReleaseRequest(
        release_token=assignment.release_token,
        outcome=runner_pb2.RELEASE_OUTCOME_SUCCESS if ok else runner_pb2.RELEASE_OUTCOME_FAILURE,
        error_message=error,
    )
    if plan:
        request.plan_output = plan
    return request


async def execute(assignment: runner_pb2.WorkAssignment) -> runner_pb2.CompleteReleaseRequest:
    kind = assignment.destination.type.name
    if kind == "demo":
        return await _demo(assignment)
    if kind == "script":
        return await _script(assignment)
    return _result(assignment, False, f"unknown destination kind {kind!r}")


async def _demo(assignment: runner_pb2.WorkAssignment) -> runner_pb2.CompleteReleaseRequest:
    metadata = assignment.destination.metadata
    plan_mode = is_plan(assignment)
    delay = float(
        _value(
            metadata, "plan_seconds" if plan_mode else "deploy_seconds", 0.2 if plan_mode else 1.0
        )
    )
    await asyncio.sleep(max(0.0, delay))
    fail = str(_value(metadata, "fail", ""))
    if fail in ("both", "plan" if plan_mode else "deploy"):
        what = "plan" if plan_mode else "deploy"
        return _result(assignment, False, f"demo destination configured to fail the {what}")
    if not plan_mode:
        return _result(assignment, True)
    seed = _value(metadata, "plan_seed", f"{assignment.artifact_id}/{assignment.destination.name}")
    size = _value(metadata, "plan_bytes")
    if size:
        text = demo_plan_bytes(int(size), seed)
    else:
        text = demo_plan(int(_value(metadata, "plan_lines", 40)), seed)
    return _result(assignment, True, plan=text)


async def _script(assignment: runner_pb2.WorkAssignment) -> runner_pb2.CompleteReleaseRequest:
    metadata = assignment.destination.metadata
    key = "plan" if is_plan(assignment) else "deploy"
    argv = _value(metadata, key)
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return _result(
            assignment,
            False,
            f"destination {assignment.destination.name!r} has no {key!r} command "
            "(a JSON list of strings) configured",
        )
    timeout = float(_value(metadata, "timeout_seconds", DEFAULT_TIMEOUT))
    env = {
        **os.environ,
        "FOREST_RELEASE_ID": assignment.release_id,
        "FOREST_RELEASE_INTENT_ID": assignment.release_intent_id,
        "FOREST_ARTIFACT_ID": assignment.artifact_id,
        "FOREST_DESTINATION": assignment.destination.name,
        "FOREST_ENVIRONMENT": assignment.destination.environment,
        "FOREST_ORGANISATION": assignment.destination.organisation,
        "FOREST_RELEASE_MODE": key,
    }
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=_value(metadata, "cwd"),
            env=env,
        )
    except OSError as exc:
        return _result(assignment, False, f"could not start {argv[0]!r}: {exc}")
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        with contextlib.suppress(Exception):
            await process.wait()
        return _result(assignment, False, f"{key} command timed out after {timeout:g}s")
    except asyncio.CancelledError:
        process.kill()
        raise
    out = stdout.decode(errors="replace")
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-ERROR_TAIL:]
        error = f"{key} command exited with status {process.returncode}"
        return _result(
            assignment,
            False,
            f"{error}: {tail}" if tail else error,
            plan=out if key == "plan" else None,
        )
    return _result(assignment, True, plan=out if key == "plan" else None)
