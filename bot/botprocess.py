"""The bot in its own process, as in production: `python -m bot.cli run` configured only by its
environment (the variables docs/bot.md names), with its health, its Prometheus metrics, its CPU
time, a clean stop (SIGINT) and a hard kill (SIGKILL). The benchmarks and the fault tests use it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr

from bot.config import BotSettings

# Settings a bot child takes from its environment only; none are inherited from this process.
_BOT_ENV_PREFIXES = ("SLACK_", "FOREST_")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the child binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def bot_environment(settings: BotSettings) -> dict[str, str]:
    """The environment of `forest-bot run` configured by `settings`: every setting under the
    variable docs/bot.md names it by (the first of its aliases), over this process's environment
    minus every SLACK_*/FOREST_* variable."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_BOT_ENV_PREFIXES)}
    env = {**clean, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for name, field in BotSettings.model_fields.items():
        alias = field.validation_alias
        if not isinstance(alias, AliasChoices):
            continue
        value = getattr(settings, name)
        if value is None:
            continue  # unset: the child's default
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, float):
            value = f"{value:g}"
        env[str(alias.choices[0])] = str(value)
    return env


class BotProcess:
    """`python -m bot.cli run` as a child process, configured only by its environment: its
    health, its Prometheus metrics and its CPU time. Its output goes to log_path."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str, log_path: Path):
        import aiohttp

        self.process = process
        self.base_url = base_url
        self.log_path = log_path
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    @classmethod
    async def start(
        cls, settings: Any, *, cwd: Path, python_args: Sequence[str] = ()
    ) -> BotProcess:
        """Start the child configured by `settings` (cwd holds its log, appended to, and no
        .env); see wait_healthy. `python_args` go to the interpreter before `-m bot.cli` (e.g.
        a profiler's)."""
        base_url = f"http://{settings.http_host}:{settings.http_port}"
        return await cls.start_with(
            bot_environment(settings), cwd=cwd, base_url=base_url, python_args=python_args
        )

    @classmethod
    async def start_with(
        cls,
        environment: dict[str, str],
        *,
        cwd: Path,
        base_url: str,
        python_args: Sequence[str] = (),
    ) -> BotProcess:
        """Start the child with exactly this environment (e.g. a compose file's); its health
        and metrics answer at `base_url`."""
        log_path = cwd / "forest-bot.log"
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *python_args,
                "-m",
                "bot.cli",
                "run",
                cwd=cwd,
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, base_url, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """The child's user + system CPU time so far (/proc/<pid>/stat utime and stime)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # fields after the command name (which may hold spaces) in parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _check_running(self) -> None:
        if self.process.returncode is not None:
            raise RuntimeError(
                f"forest-bot exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    async def healthy(self) -> bool:
        """Whether its /healthz answers 200 (False while it is not listening yet)."""
        import aiohttp

        self._check_running()
        try:
            async with self._http.get(f"{self.base_url}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    async def wait_healthy(self, within: float) -> None:
        deadline = time.monotonic() + within
        while not await self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"forest-bot not healthy within {within:.0f} s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Its /metrics: (sample name, labels) -> value."""
        from prometheus_client.parser import text_string_to_metric_families

        self._check_running()
        async with self._http.get(f"{self.base_url}/metrics") as response:
            response.raise_for_status()
            text = await response.text()
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async def stop(self, within: float = 30.0) -> int:
        """SIGINT, as a person's Ctrl-C or a supervisor would; its exit code (killed, with
        RuntimeError, if it does not exit within `within` seconds)."""
        await self._http.close()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                raise RuntimeError(f"forest-bot ignored SIGINT for {within:.0f} s") from None
        code = self.process.returncode
        assert code is not None
        return code

    async def kill(self) -> int:
        """SIGKILL, as the kernel's OOM killer or a node failure would: no clean-up at all."""
        await self._http.close()
        if self.process.returncode is None:
            self.process.kill()
        return await self.process.wait()
