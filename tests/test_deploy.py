"""compose.yaml and the Dockerfile: valid Compose, only real commands and settings, a non-root
image installed by scripts/setup; and the compose file's bot settings run as two replicas on one
PostgreSQL (outside containers), checked with the image's own HEALTHCHECK command.

The image itself is not built here (no image registry is reachable from the development
machines); these checks are what can be known without building it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from blocks import ids
from bot import run as bot_run
from bot.botprocess import BotProcess, bot_environment, free_port
from bot.cli import build_parser
from bot.config import BotSettings
from bot.devsystem import DevSystem
from forestd import cli as forestd_cli
from forestd.config import ForestSettings
from sandbox.records import Message
from sandbox.state import Workspace
from sandbox.testing import eventually
from tests.e2e.conftest import options
from tests.e2e.story import buttons, last_ephemeral, shown
from tests.e2e.test_kill import message_of
from tests.e2e.test_story import approval_state

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
# What each command that reads settings from the environment reads them into.
SETTINGS_OF: dict[Callable[..., Any], type[BaseSettings]] = {
    bot_run.run_command: BotSettings,
    forestd_cli.serve_command: ForestSettings,
}
# The values compose.yaml needs from its environment (`${VAR:?...}`), for `docker compose config`.
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "pw",
    "FOREST_SERVICE_TOKEN": "service-token",
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_APP_TOKEN": "xapp-1",
    "FOREST_BOT_TOKEN_KEY": "key",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return _instructions((ROOT / "Dockerfile").read_text())


def _exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def _last(instructions: list[tuple[str, str]], keyword: str) -> str:
    found = [arguments for name, arguments in instructions if name == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    return found[-1]


def _env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: its aliases, else prefix + field name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice).upper() for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def _required_env_names(settings: type[BaseSettings]) -> set[str]:
    names = set()
    for field in settings.model_fields.values():
        alias = field.validation_alias
        if field.is_required() and isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]))
    return names


def _image_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services run from this repository's image (built from the Dockerfile)."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def _command_func(service: dict[str, Any], dockerfile: list[tuple[str, str]]) -> Callable[..., Any]:
    entrypoint = _exec_form(_last(dockerfile, "ENTRYPOINT"))
    assert entrypoint == ["forest-bot"]
    command = service.get("command", _exec_form(_last(dockerfile, "CMD")))
    assert isinstance(command, list), "give commands in exec form (a list)"
    args = build_parser().parse_args(command)  # an unknown command or flag exits here
    func = getattr(args, "func", None)
    assert func is not None, f"forest-bot {' '.join(command)} is not a runnable command"
    return func  # type: ignore[no-any-return]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "write environment as a mapping"
    return {str(k): str(v) for k, v in environment.items()}


def test_compose_file_validates_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_a_broken_compose_file_is_rejected_by_the_schema(compose: dict[str, Any]) -> None:
    # Guards the check above against a schema that accepts anything.
    schema = json.loads(SCHEMA.read_text())
    broken = copy.deepcopy(compose)
    broken["services"]["bot"]["replicas_typo"] = 2
    broken["services"]["forestd"]["depends_on"]["nats"]["condition"] = "service_ready"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert sorted(list(error.path)[:2] for error in errors) == [
        ["services", "bot"],
        ["services", "forestd"],
    ]


def test_compose_runs_postgres_nats_with_jetstream_forestd_and_two_bot_replicas(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    services = compose["services"]
    assert "-js" in services["nats"]["command"]
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    commands = {name: _command_func(s, dockerfile) for name, s in _image_services(compose).items()}
    assert commands == {"forestd": forestd_cli.serve_command, "bot": bot_run.run_command}
    assert services["bot"]["deploy"]["replicas"] == 2
    for name in ("forestd", "bot"):
        waits_for = services[name]["depends_on"]
        assert waits_for["postgres"] == {"condition": "service_healthy"}
        assert waits_for["nats"] == {"condition": "service_healthy"}
    assert services["bot"]["depends_on"]["forestd"] == {"condition": "service_healthy"}


def test_every_service_command_is_a_real_forest_bot_command(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    for name, service in _image_services(compose).items():
        assert _command_func(service, dockerfile) in SETTINGS_OF, name


def test_every_environment_variable_is_a_setting_of_the_command_it_configures(
    compose: dict[str, Any], dockerfile: list[tuple[str, str]]
) -> None:
    for name, service in _image_services(compose).items():
        settings = SETTINGS_OF[_command_func(service, dockerfile)]
        unknown = set(_environment(service)) - _env_names(settings)
        assert not unknown, f"{name} sets what {settings.__name__} does not read: {unknown}"
    bot_env = _environment(compose["services"]["bot"])
    assert _required_env_names(BotSettings) <= set(bot_env)
    assert bot_env["FOREST_BOT_MODE"] == "socket" and "SLACK_APP_TOKEN" in bot_env


def test_the_settings_that_connect_the_services_agree(compose: dict[str, Any]) -> None:
    bot = _environment(compose["services"]["bot"])
    forestd = _environment(compose["services"]["forestd"])
    assert bot["FOREST_ADDRESS"] == "forestd:" + forestd["FORESTD_GRPC_ADDRESS"].split(":")[-1]
    assert bot["FOREST_SERVICE_TOKEN"] == forestd["FORESTD_SERVICE_TOKEN"]
    assert bot["FOREST_BOT_NATS_URL"] == forestd["FORESTD_NATS_URL"] == "nats://nats:4222"
    for url in (bot["FOREST_BOT_DATABASE_URL"], forestd["FORESTD_DATABASE_URL"]):
        assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url
    assert bot["FOREST_BOT_DATABASE_URL"] != forestd["FORESTD_DATABASE_URL"]


def test_secrets_come_from_the_environment_never_from_the_file(compose: dict[str, Any]) -> None:
    secret_names = {
        str(field.validation_alias.choices[0])
        for field in BotSettings.model_fields.values()
        if "SecretStr" in str(field.annotation) and isinstance(field.validation_alias, AliasChoices)
    }
    assert "FOREST_BOT_TOKEN_KEY" in secret_names
    bot = _environment(compose["services"]["bot"])
    for name in secret_names & set(bot):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", bot[name]), f"{name} is not ${{VAR:?...}}"
    postgres_password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert postgres_password.startswith("${POSTGRES_PASSWORD:?")


def test_dockerfile_is_slim_non_root_installed_by_scripts_setup_and_checks_healthz(
    dockerfile: list[tuple[str, str]],
) -> None:
    assert _last(dockerfile, "FROM") == "python:3.11-slim"
    runs = [arguments for name, arguments in dockerfile if name == "RUN"]
    assert any(re.match(r"scripts/setup( |$)", run) for run in runs), runs
    user = _last(dockerfile, "USER").split(":")[0]
    assert user not in ("root", "0")
    healthcheck = _last(dockerfile, "HEALTHCHECK")
    assert "/healthz" in healthcheck and "FOREST_BOT_HTTP_PORT" in healthcheck
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv/", ".git/", "test-output/", "*.db", "**/__pycache__/"} <= ignored


def test_setup_refuses_an_unknown_flag_before_touching_anything() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup"), "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "usage: scripts/setup [--no-dev]" in result.stderr


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    version = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False
    )
    if version.returncode != 0:
        pytest.skip(
            f"the docker compose plugin is not installed: {version.stderr.strip().splitlines()[0]}"
        )
    no_env_file = tmp_path / "empty.env"  # a developer's .env must not decide the outcome
    no_env_file.write_text("")
    compose_file = str(ROOT / "compose.yaml")
    result = subprocess.run(
        [docker, "compose", "-f", compose_file, "--env-file", str(no_env_file), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **COMPOSE_ENV},
    )
    assert result.returncode == 0, result.stderr


# ---- the compose file's bot settings, run as two replicas ---------------------------------------

_INTERPOLATION = re.compile(r"\$\{([A-Z_]+)(?::([?-])([^}]*))?\}")


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` (the variable must be set)."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if variables.get(name):
            return variables[name]
        assert kind != "?", f"compose would stop here: {rest}"
        return rest if kind == "-" else ""

    return _INTERPOLATION.sub(one, value)


def _replica_environment(
    compose: dict[str, Any], system: DevSystem, pg_url: str, port: int
) -> dict[str, str]:
    """The bot service's environment from compose.yaml, with the secrets the `.env` file would
    give and the three addresses that differ outside compose (forestd, NATS, PostgreSQL)."""
    assert system.forest is not None and system.sandbox is not None
    settings = system.bot_settings()
    secrets_file = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token.get_secret_value(),
        "SLACK_APP_TOKEN": system.sandbox.workspace.app.app_token,
        "FOREST_SERVICE_TOKEN": settings.forest_service_token.get_secret_value(),
        "FOREST_BOT_TOKEN_KEY": settings.token_key.get_secret_value(),
        "POSTGRES_PASSWORD": "unused: the test's database URL replaces it",
    }
    from_compose = {
        name: _interpolate(value, secrets_file)
        for name, value in _environment(compose["services"]["bot"]).items()
    }
    return {
        **bot_environment(settings),  # PATH, PYTHONPATH and the sandbox's SLACK_API_URL
        **from_compose,
        "FOREST_ADDRESS": system.forest.address,
        "FOREST_BOT_NATS_URL": system.nats_url,
        "FOREST_BOT_DATABASE_URL": pg_url,
        "FOREST_BOT_HTTP_HOST": "127.0.0.1",
        "FOREST_BOT_HTTP_PORT": str(port),
    }


def _empty_folder(path: Path) -> Path:
    path.mkdir()  # no .env in it: the replica reads its environment only
    return path


async def _start_replica(environment: dict[str, str], cwd: Path) -> BotProcess:
    port = environment["FOREST_BOT_HTTP_PORT"]
    return await BotProcess.start_with(environment, cwd=cwd, base_url=f"http://127.0.0.1:{port}")


async def _exits_zero(command: list[str], env: dict[str, str]) -> bool:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait() == 0


def _healthcheck_command(dockerfile: list[tuple[str, str]]) -> list[str]:
    """The Dockerfile's HEALTHCHECK command, run with this interpreter instead of the image's."""
    _, _, command = _last(dockerfile, "HEALTHCHECK").partition("CMD ")
    program, *args = _exec_form(command.strip())
    assert program == "python"
    return [sys.executable, *args]


def _told(ws: Workspace, user: str, text: str) -> Callable[[], bool]:
    return lambda: text in last_ephemeral(ws, user)


@pytest.mark.postgres
async def test_two_replicas_with_the_compose_settings_share_one_release_message(
    tmp_path: Path,
    nats_url: str,
    pg_url: str,
    compose: dict[str, Any],
    dockerfile: list[tuple[str, str]],
) -> None:
    within = 60.0  # give-up bound for a hung test, not a speed figure
    opts = options(
        tmp_path, nats_url, run_bot=False, bot_database_url=pg_url, soak_seconds=1, plan_lines=5
    )
    async with DevSystem(opts) as system:
        assert system.sandbox is not None and system.forest is not None
        ws, driver = system.sandbox.workspace, system.sandbox.driver
        deploys = ws.channel("deploys")
        assert deploys is not None
        environments = [
            _replica_environment(compose, system, pg_url, free_port()) for _ in range(2)
        ]
        replicas = [
            await _start_replica(env, _empty_folder(tmp_path / f"bot-{n}"))
            for n, env in enumerate(environments)
        ]
        try:
            driver.use_socket_mode()
            healthcheck = _healthcheck_command(dockerfile)
            sockets = system.sandbox.socket_mode

            async def all_healthy() -> bool:
                return all([await _exits_zero(healthcheck, env) for env in environments])

            await eventually(all_healthy, within, what="the image's HEALTHCHECK on each replica")
            await eventually(lambda: sockets.connection_count == 2, within)

            intent = await system.release("bob")
            first = await eventually(lambda: message_of(ws, deploys.id, intent), within)

            def current() -> Message | None:  # the same message, edited in place
                return ws.message(deploys.id, first.ts)

            await eventually(lambda: ids.ACTION_PLAN_APPROVE in buttons(current()), within)
            # the clicks go round-robin over the two Socket Mode connections: both replicas answer
            await driver.click("carol", message=current(), action_id=ids.ACTION_PLAN_APPROVE)
            for voter in ("alice", "carol"):
                await eventually(lambda: ids.ACTION_APPROVE in buttons(current()), within)
                await driver.click(voter, message=current(), action_id=ids.ACTION_APPROVE)
                await eventually(_told(ws, voter, "is recorded"), within)

            async def shows_forests_two_approvals() -> bool:
                state = await approval_state(system, intent)
                assert state.current_approvals == 2, state
                assert "approvals 2/2" in shown(current()), shown(current())
                return True

            await eventually(shows_forests_two_approvals, within)
            for replica in replicas:  # each replica's own /metrics: it answered some clicks
                metrics = await replica.metrics()
                assert sum(
                    v for (name, _), v in metrics.items() if name == "forest_bot_ack_seconds_count"
                )
            assert [m.ts for m in ws.top_level(deploys.id)] == [first.ts]
            plan_posts = [
                r for r in ws.replies(deploys.id, first.ts) if "terraform" in shown(r).lower()
            ]
            assert len(plan_posts) == 1, [shown(r)[:80] for r in plan_posts]
        finally:
            codes = [await replica.stop() for replica in replicas]
        assert codes == [0, 0], [replica.log_tail() for replica in replicas]
