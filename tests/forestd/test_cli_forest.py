"""`forest-bot forest ...`: migrate, seed-demo (once), serve with graceful shutdown, release."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bot.cli import main
from forest.v1 import releases_pb2, releases_pb2_grpc


def test_migrate_then_seed_demo_prints_tokens_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    assert main(["forest", "migrate", "--database-url", url]) == 0
    assert "database at revision" in capsys.readouterr().out
    assert main(["forest", "seed-demo", "--database-url", url]) == 0
    out = capsys.readouterr().out
    tokens = dict(re.findall(r"^  (alice|bob|carol)\s+(fpat_\S+)$", out, re.MULTILINE))
    assert set(tokens) == {"alice", "bob", "carol"}
    assert main(["forest", "seed-demo", "--database-url", url]) == 1
    captured = capsys.readouterr()
    assert "already seeded" in captured.err and "fpat_" not in captured.out


def test_serve_release_and_graceful_stop(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    cli = [sys.executable, "-m", "bot.cli", "forest"]
    assert main(["forest", "seed-demo", "--database-url", url, "--soak-seconds", "1"]) == 0
    bob = re.search(r"^  bob\s+(\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert bob is not None
    server = subprocess.Popen(
        [
            *cli,
            "serve",
            "--database-url",
            url,
            "--grpc-address",
            "127.0.0.1:0",
            "--nats-url",
            nats_url,
            "--service-token",
            "svc",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        address = ""
        for line in server.stdout:  # ends when forestd exits
            if found := re.search(r"forestd listening on (\S+)", line):
                address = found.group(1)
                break
        assert address, "forestd did not start"
        release = ["forest", "release", "--grpc-address", address]
        project = ["--project", "acme/api"]
        assert main([*release, "--token", bob.group(1), *project, "--sha", "c0ffee" * 6]) == 0
        printed = capsys.readouterr().out
        assert re.search(r"^artifact api-c0ffeec0-\w+ \(", printed, re.MULTILINE), printed
        found = re.search(r"^release intent (\S+)$", printed, re.MULTILINE)
        assert found is not None, printed
        intent_id = found.group(1)

        with grpc.insecure_channel(address) as channel:
            states = releases_pb2_grpc.ReleaseServiceStub(channel).GetReleaseIntentStates(
                releases_pb2.GetReleaseIntentStatesRequest(organisation="acme", project="api"),
                metadata=(("authorization", "Bearer svc"),),
            )
        assert [i.release_intent_id for i in states.release_intents] == [intent_id]
        assert [s.stage_id for s in states.release_intents[0].stages] == [
            "deploy-staging",
            "plan-production",
            "deploy-production",
        ]
        assert main([*release, "--token", "fpat_wrong", *project]) == 1
        assert "UNAUTHENTICATED" in capsys.readouterr().err
    finally:
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "forestd stopping" in rest


def test_serve_explains_an_unreachable_nats_instead_of_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    serve = ["forest", "serve", "--database-url", url, "--grpc-address", "127.0.0.1:0"]
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    assert main([*serve, "--nats-url", "nats://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach NATS at nats://127.0.0.1:9" in err
    assert "--nats-url ''" in err


def _serve(url: str, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "bot.cli", "forest", "serve", "--database-url", url),
            *("--grpc-address", address, "--nats-url", "", "--no-runner"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_serve_refuses_a_port_another_forestd_serves(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    first = _serve(url, "127.0.0.1:0")
    try:
        assert first.stdout is not None
        address = ""
        for line in first.stdout:  # ends when forestd exits
            if found := re.search(r"forestd listening on (\S+)", line):
                address = found.group(1)
                break
        assert address, "the first forestd did not start"

        second = _serve(url, address)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert err.splitlines() == [
            f"forestd: cannot serve: {address} is already in use (another forestd?)"
        ]
        assert "listening" not in out

        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
