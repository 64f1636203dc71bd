"""A real Prometheus scraping the real `camera-app run`: its numbers match the app's own."""

from __future__ import annotations

import bisect
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from camera_app.metrics import LATENCY_BUCKETS_S
from tests.prom import PROMTOOL, PrometheusProcess, free_port, start_prometheus
from tests.shared import MODELS, REPO, TEST_MODELS, need_shared

__all__ = ["start_prometheus"]  # the fixture, imported for pytest


def bucket_bounds(value: float) -> tuple[float, float]:
    i = bisect.bisect_left(LATENCY_BUCKETS_S, value)
    lo = LATENCY_BUCKETS_S[i - 1] if i > 0 else 0.0
    hi = LATENCY_BUCKETS_S[i] if i < len(LATENCY_BUCKETS_S) else float("inf")
    return lo, hi


@pytest.mark.slow
def test_prometheus_sees_what_the_app_measured(
    start_prometheus: Callable[..., PrometheusProcess], tmp_path: Path
) -> None:
    need_shared()
    port = free_port()
    ev = tmp_path / "events.jsonl"
    env = {**os.environ, "CAMERA_APP_MODEL_PATH": f"{MODELS}:{TEST_MODELS}"}
    with open(tmp_path / "app.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "camera_app", "run", "--events", str(ev),
             "--metrics-address", f"127.0.0.1:{port}", "--http-address", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=REPO,
        )  # fmt: skip
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not (ev.exists() and ev.stat().st_size):
            time.sleep(0.2)
        prom = start_prometheus([f"127.0.0.1:{port}"])
        prom.wait_for_scrapes(15, timeout_s=60)
        window = "10s"
        rate = prom.query_value(f"sum(rate(camera_app_frames_processed_total[{window}]))")
        p50 = prom.query_value(
            "histogram_quantile(0.5, sum by (le) "
            f"(rate(camera_app_end_to_end_latency_seconds_bucket[{window}])))"
        )
        queried_at = time.time()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            exposition = r.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0

    # What the app measured itself, in the same 10 s window: its event lines.
    lines = [json.loads(x) for x in ev.read_text().splitlines()]

    def wall(e: dict[str, object]) -> float:
        return datetime.fromisoformat(str(e["capture_time"]).replace("Z", "+00:00")).timestamp()

    recent = [e for e in lines if queried_at - 12 <= wall(e) <= queried_at]
    app_rate = len(recent) / 12
    latencies = [float(e["latency_s"]) for e in recent]  # type: ignore[arg-type]
    p40, app_p50, p60 = statistics.quantiles(latencies, n=10)[3:6]
    assert rate == pytest.approx(app_rate, rel=0.2), (rate, app_rate)
    # histogram_quantile interpolates inside the bucket holding the median. Prometheus's 10 s
    # window (between scrapes) is not exactly the events' 12 s, so a median close to a bucket
    # edge may fall on either side: accept the buckets of the app's own p40..p60.
    lo, hi = bucket_bounds(p40)[0], bucket_bounds(p60)[1]
    assert lo - 1e-9 <= p50 <= hi + 1e-9, (p50, (p40, app_p50, p60), (lo, hi))
    assert 'camera_app_fps{camera="demo"}' in exposition
    assert "camera_app_model_info{" in exposition
    # Prometheus's own linter on the running app's exposition.
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=exposition, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
