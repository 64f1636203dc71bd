"""The benchmark scripts run (not timed: what they measure is only read, never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import MODELS, need_shared

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.realmodel
def test_pipeline_tail_times_invoke_beside_fixed_work() -> None:
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline.py"), "tail", "--seconds", "1"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = {}
    for name in ("invoke(), 1 thread", "fixed numpy work, 1 thread"):
        line = next(x for x in r.stdout.splitlines() if x.strip().startswith(name))
        m = re.search(r"n +(\d+) +p50 +([\d.]+) .* p99 +([\d.]+) .*% of calls alone exceed", line)
        assert m, line
        rows[name] = int(m[1]), float(m[2]), float(m[3])
    for n, p50, p99 in rows.values():
        assert n >= 2
        assert 0 < p50 <= p99
    # Both calls alternate on one thread, so each was timed as often as the other.
    assert rows["invoke(), 1 thread"][0] == rows["fixed numpy work, 1 thread"][0]
    assert re.search(r"bound 2 x invoke p50 \+ 1/60 s = +[\d.]+ ms", r.stdout), r.stdout
