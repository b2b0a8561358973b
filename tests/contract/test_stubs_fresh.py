"""The committed forest/v1 stubs are exactly what scripts/gen-protos produces from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-protos"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "forest" / "v1").glob("*_pb2*.py*")}
    committed = {p.name: p.read_bytes() for p in (ROOT / "forest" / "v1").glob("*_pb2*.py*")}
    protos = sorted(p.stem for p in (ROOT / "proto" / "forest" / "v1").glob("*.proto"))
    assert len(fresh) == 3 * len(protos)  # _pb2.py, _pb2.pyi and _pb2_grpc.py for each
    assert sorted(fresh) == sorted(committed), "stub files added or removed: run scripts/gen-protos"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"stale stubs {stale}: run scripts/gen-protos and commit the result"
