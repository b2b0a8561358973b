"""The runner: script and demo destinations, terraform-looking plans, and the completion path."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from blocks.terraform import Action, summarize_plan
from forest.v1 import releases_pb2, runner_pb2
from forestd.auth import hash_token
from forestd.db.models import Destination, ReleaseState
from forestd.db.types import utcnow
from forestd.errors import FailedPrecondition, InvalidArgument, NotFound
from forestd.runner import apply_completion, demo_plan, demo_plan_bytes, execute
from forestd.runner.completion import expire_orphans
from forestd.runner.destinations import encode_config
from forestd.server import ForestServer

from .factories import World, create_intent, provision
from .releases_helpers import (
    Stubs,
    awaiting_plan,
    create_pipeline,
    deploy,
    plan,
    release,
    stage_is,
    stage_of,
    wait_for,
)

PY = sys.executable


def assignment(
    kind: str, config: dict, mode: int = runner_pb2.RELEASE_MODE_PLAN
) -> runner_pb2.WorkAssignment:
    return runner_pb2.WorkAssignment(
        release_token="frel_test",
        release_id="r1",
        release_intent_id="i1",
        artifact_id="a1",
        destination=runner_pb2.DestinationInfo(
            name="prod-eu",
            environment="production",
            metadata=encode_config(config),
            type=runner_pb2.DestinationCapability(name=kind),
            organisation="acme",
        ),
        mode=mode,  # type: ignore[arg-type]
    )


# ---- the demo plan --------------------------------------------------------------------


@pytest.mark.parametrize("lines", [10, 40, 400, 5000])
def test_demo_plans_look_like_terraform_and_their_counts_add_up(lines: int) -> None:
    text = demo_plan(lines, seed="s")
    assert text == demo_plan(lines, seed="s")  # deterministic per seed
    assert text != demo_plan(lines, seed="other")
    assert "Terraform will perform the following actions:" in text
    summary = summarize_plan(text)
    assert summary.counted
    actions = [r.action for r in summary.resources]
    assert summary.add == actions.count(Action.CREATE) + actions.count(Action.REPLACE)
    assert summary.change == actions.count(Action.UPDATE)
    assert summary.destroy == actions.count(Action.DESTROY) + actions.count(Action.REPLACE)
    assert text.rstrip().splitlines()[-1].startswith("Plan: ")
    count = len(text.splitlines())
    assert count <= max(25, lines * 1.3), count
    assert count >= lines * 0.7 or lines == 10


def test_demo_plan_reaches_several_megabytes_with_every_symbol() -> None:
    text = demo_plan_bytes(3_000_000, seed=7)
    assert len(text.encode()) >= 3_000_000
    for symbol in ("\n  + resource ", "\n  ~ resource ", "\n  - resource ", "\n-/+ resource "):
        assert symbol in text
    assert "# forces replacement" in text and "(known after apply)" in text


# ---- destinations -------------------------------------------------------------------------


async def test_script_plan_stdout_is_the_plan(tmp_path: Path) -> None:
    script = tmp_path / "plan.py"
    script.write_text(
        "import os, sys\n"
        "print('Plan: 1 to add, 0 to change, 0 to destroy.', os.environ['FOREST_ENVIRONMENT'])\n"
        "print('diagnostics', file=sys.stderr)\n"
    )
    result = await execute(assignment("script", {"plan": [PY, str(script)]}))
    assert result.outcome == runner_pb2.RELEASE_OUTCOME_SUCCESS
    assert result.plan_output == "Plan: 1 to add, 0 to change, 0 to destroy. production\n"
    assert result.release_token == "frel_test"


async def test_script_failures_say_why(tmp_path: Path) -> None:
    failing = [PY, "-c", "import sys; print('Error: boom', file=sys.stderr); sys.exit(3)"]
    result = await execute(assignment("script", {"plan": failing}))
    assert result.outcome == runner_pb2.RELEASE_OUTCOME_FAILURE
    assert result.error_message == "plan command exited with status 3: Error: boom"

    slow = [PY, "-c", "import time; time.sleep(10)"]
    result = await execute(
        assignment(
            "script", {"deploy": slow, "timeout_seconds": 0.3}, runner_pb2.RELEASE_MODE_DEPLOY
        )
    )
    assert result.outcome == runner_pb2.RELEASE_OUTCOME_FAILURE
    assert result.error_message == "deploy command timed out after 0.3s"

    result = await execute(assignment("script", {"deploy": ["true"]}))
    assert "no 'plan' command" in result.error_message
    result = await execute(assignment("script", {"plan": [str(tmp_path / "missing")]}))
    assert result.error_message.startswith("could not start")


async def test_demo_destination_deploys_and_plans() -> None:
    deployed = await execute(
        assignment("demo", {"deploy_seconds": 0}, runner_pb2.RELEASE_MODE_DEPLOY)
    )
    assert deployed.outcome == runner_pb2.RELEASE_OUTCOME_SUCCESS
    assert not deployed.HasField("plan_output")
    planned = await execute(assignment("demo", {"plan_seconds": 0, "plan_lines": 12}))
    assert summarize_plan(planned.plan_output).counted
    failed = await execute(assignment("demo", {"plan_seconds": 0, "fail": "plan"}))
    assert failed.outcome == runner_pb2.RELEASE_OUTCOME_FAILURE


# ---- through the server -------------------------------------------------------------------


async def test_a_script_destination_drives_a_plan_stage(
    rpc: Stubs, release_world: World, tmp_path: Path
) -> None:
    plan_text = demo_plan(20, seed="script")
    (tmp_path / "plan.txt").write_text(plan_text)
    async with rpc.db.transaction() as uow:
        await uow.session.execute(
            update(Destination)
            .where(Destination.environment == "production")
            .values(
                kind="script",
                config={
                    "plan": [PY, "-c", "import sys; sys.stdout.write(open('plan.txt').read())"],
                    "deploy": [PY, "-c", "print('applied')"],
                    "cwd": str(tmp_path),
                },
            )
        )
    await create_pipeline(
        rpc, release_world, [plan("plan", "production"), deploy("go", "production", "plan")]
    )
    intent_id = await release(rpc, release_world)
    await wait_for(rpc, release_world, intent_id, awaiting_plan("plan"))
    output = await rpc.releases.GetPlanOutput(
        releases_pb2.GetPlanOutputRequest(release_intent_id=intent_id, stage_id="plan"),
        metadata=release_world.auth("bob"),
    )
    assert output.plan_output == plan_text
    assert [(o.destination_name, o.status) for o in output.outputs] == [
        ("acme-production", "SUCCEEDED")
    ]
    await rpc.releases.ApprovePlanStage(
        releases_pb2.ApprovePlanStageRequest(release_intent_id=intent_id, stage_id="plan"),
        metadata=release_world.auth("bob"),  # no self-check on plans (contract §6)
    )
    state = await wait_for(rpc, release_world, intent_id, stage_is("go", 3))
    assert stage_of(state, "plan").approval_status == "APPROVED"


async def test_a_failed_plan_fails_the_stage_with_the_scripts_error(
    rpc: Stubs, release_world: World
) -> None:
    async with rpc.db.transaction() as uow:
        await uow.session.execute(
            update(Destination)
            .where(Destination.environment == "production")
            .values(kind="script", config={"plan": [PY, "-c", "raise SystemExit('no creds')"]})
        )
    await create_pipeline(rpc, release_world, [plan("plan", "production")])
    intent_id = await release(rpc, release_world)
    state = await wait_for(rpc, release_world, intent_id, stage_is("plan", 4))
    message = stage_of(state, "plan").error_message
    assert message == "plan on acme-production failed: plan command exited with status 1: no creds"


async def test_completion_is_applied_once_and_checked(machine: ForestServer) -> None:
    assert machine.ctx is not None
    db = machine.ctx.db
    release_world = await provision(db)
    intent_id = await create_intent(db, release_world)
    async with db.transaction() as uow:
        step = ReleaseState(
            release_intent_id=intent_id,
            destination_id=release_world.destinations["staging"],
            destination_name="acme-staging",
            environment="staging",
            mode="plan",
            status="RUNNING",
            release_token_hash=hash_token("frel_known"),
        )
        uow.session.add(step)
    done = runner_pb2.CompleteReleaseRequest(
        release_token="frel_known",
        outcome=runner_pb2.RELEASE_OUTCOME_SUCCESS,
        plan_output="Plan: 0 to add, 1 to change, 0 to destroy.",
    )
    with pytest.raises(InvalidArgument):
        await apply_completion(db, runner_pb2.CompleteReleaseRequest(release_token="frel_known"))
    with pytest.raises(NotFound):
        await apply_completion(
            db,
            runner_pb2.CompleteReleaseRequest(
                release_token="frel_unknown", outcome=runner_pb2.RELEASE_OUTCOME_SUCCESS
            ),
        )
    assert await apply_completion(db, done) == "SUCCEEDED"
    with pytest.raises(FailedPrecondition):
        await apply_completion(db, done)
    async with db.read() as session:
        row = await session.scalar(select(ReleaseState).where(ReleaseState.id == step.id))
    assert row is not None and row.plan_output == done.plan_output
    assert row.completed_at is not None


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
async def test_a_real_terraform_plan_through_a_script_destination(
    rpc: Stubs, release_world: World, tmp_path: Path
) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" "release" {\n  input = "v1"\n}\n')
    command = (
        "terraform init -input=false -no-color >/dev/null && terraform plan -no-color -input=false"
    )
    async with rpc.db.transaction() as uow:
        await uow.session.execute(
            update(Destination)
            .where(Destination.environment == "production")
            .values(
                kind="script",
                config={"plan": ["sh", "-c", command], "cwd": str(tmp_path), "timeout_seconds": 60},
            )
        )
    await create_pipeline(rpc, release_world, [plan("plan", "production")])
    intent_id = await release(rpc, release_world)
    await wait_for(rpc, release_world, intent_id, awaiting_plan("plan"), within=60)
    output = await rpc.releases.GetPlanOutput(
        releases_pb2.GetPlanOutputRequest(release_intent_id=intent_id, stage_id="plan"),
        metadata=release_world.auth("bob"),
    )
    summary = summarize_plan(output.plan_output)
    assert (summary.add, summary.change, summary.destroy) == (1, 0, 0)
    assert [r.address for r in summary.resources] == ["terraform_data.release"]


async def test_releases_orphaned_by_a_dead_runner_time_out(machine: ForestServer) -> None:
    assert machine.ctx is not None
    db = machine.ctx.db
    release_world = await provision(db)
    intent_id = await create_intent(db, release_world)
    now = utcnow()
    ages = {"old": timedelta(minutes=20), "recent": timedelta(minutes=2)}
    ids: dict[str, str] = {}
    async with db.transaction() as uow:
        for name, age in ages.items():
            step = ReleaseState(
                release_intent_id=intent_id,
                destination_id=release_world.destinations["staging"],
                destination_name="acme-staging",
                environment="staging",
                status="RUNNING",
                started_at=now - age,
            )
            uow.session.add(step)
            await uow.session.flush()
            ids[name] = step.id
    assert await expire_orphans(db) == 1
    async with db.read() as session:
        status = {
            name: (await session.get_one(ReleaseState, step_id)).status
            for name, step_id in ids.items()
        }
    assert status == {"old": "TIMED_OUT", "recent": "RUNNING"}
    # A destination with a short timeout orphans sooner.
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Destination)
            .where(Destination.id == release_world.destinations["staging"])
            .values(config={"timeout_seconds": 30})
        )
    assert await expire_orphans(db) == 1
