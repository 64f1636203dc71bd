"""A real Prometheus scrapes the metrics server fed with known latencies; what it computes
(``histogram_quantile``, ``rate``) must match what was fed and what the app measured."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from camera_app.metrics import PipelineMetrics
from camera_app.server import HttpServer, metrics_server
from camera_app.sources.capture import CaptureState
from camera_app.telemetry import Health, Readiness, Telemetry
from tests.prom import PrometheusProcess, start_prometheus
from tests.test_metrics import make_result, make_snapshot

__all__ = ["start_prometheus"]  # the fixture, imported for pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RATE_HZ = 20.0
E2E_S = 0.045  # in the (0.04, 0.05] bucket: the interpolated median is its middle, 0.045
INVOKE_S = 0.018  # in (0.015, 0.02]: p99 interpolates to 0.015 + 0.99 * 0.005
STAGE_TIMES = (0.004, 0.003, INVOKE_S, 0.002)


class Feeder:
    """Feeds results for camera "cam0" at RATE_HZ from a background thread, paced by the clock."""

    def __init__(self, telemetry: Telemetry, max_s: float = 90.0) -> None:
        self.telemetry = telemetry
        self.max_s = max_s
        self.stop = threading.Event()
        self.fed = 0
        self.thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set() and time.monotonic() - start < self.max_s:
            due = start + self.fed / RATE_HZ
            if self.stop.wait(max(0.0, due - time.monotonic())):
                break
            now = time.monotonic()
            self.telemetry.observe_result(
                make_result(
                    "cam0", capture_s=now, latency_s=E2E_S, times=STAGE_TIMES, sequence=self.fed
                )
            )
            self.telemetry.observe_render("cam0", 0.001)
            self.fed += 1

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5.0)
        assert not self.thread.is_alive(), "the feeder thread did not stop"


@pytest.fixture
def app_metrics() -> Iterator[tuple[Telemetry, PipelineMetrics, HttpServer]]:
    snaps = [make_snapshot("cam0", state=CaptureState.STREAMING, captured=1)]
    telemetry = Telemetry(["cam0"], {})
    metrics = PipelineMetrics(cameras=["cam0"], snapshots=lambda: snaps, fps=telemetry.fps)
    telemetry.hooks.on_result.append(metrics.observe_result)
    telemetry.hooks.on_render.append(metrics.observe_render)
    server = metrics_server(
        "127.0.0.1",
        0,
        metrics.registry,
        lambda: Health(()),
        lambda: Readiness.from_snapshots(True, snaps),
    )
    server.start()
    try:
        yield telemetry, metrics, server
    finally:
        assert server.stop(5.0)


def test_prometheus_sees_what_was_fed(
    app_metrics: tuple[Telemetry, PipelineMetrics, HttpServer],
    start_prometheus: Callable[..., PrometheusProcess],
) -> None:
    telemetry, metrics, server = app_metrics
    with Feeder(telemetry):
        prom = start_prometheus([f"127.0.0.1:{server.port}"])
        # 12 scrapes at 1 s: the [10s] windows below hold only data from a steady feed.
        prom.wait_for_scrapes(12, timeout_s=60.0)

        p50 = prom.query_value(
            "histogram_quantile(0.5, sum by (le) "
            "(rate(camera_app_end_to_end_latency_seconds_bucket[10s])))"
        )
        p99_invoke = prom.query_value(
            "histogram_quantile(0.99, sum by (le) "
            '(rate(camera_app_invoke_seconds_bucket{camera="cam0"}[10s])))'
        )
        rate = prom.query_value("rate(camera_app_frames_processed_total[10s])")
        scraped_fps = prom.query_value('camera_app_fps{camera="cam0"}')
        app_fps = telemetry.fps("cam0")
        up = prom.query_value('camera_app_camera_up{camera="cam0"}')

    assert 0.04 < p50 <= 0.05  # the bucket the latencies were fed into
    assert p50 == pytest.approx(E2E_S, abs=1e-6)
    assert p99_invoke == pytest.approx(0.015 + 0.99 * 0.005, abs=1e-6)
    # How fast the feeder managed to feed is the machine's business; that Prometheus, the
    # gauge it scraped and the app agree on it is ours.
    assert app_fps > 0
    assert rate == pytest.approx(app_fps, rel=0.1)  # Prometheus agrees with the app itself
    assert scraped_fps == pytest.approx(app_fps, rel=0.1)
    assert up == 1.0
    registry = metrics.registry
    labels = {"camera": "cam0"}
    count = registry.get_sample_value("camera_app_end_to_end_latency_seconds_count", labels)
    total = registry.get_sample_value("camera_app_end_to_end_latency_seconds_sum", labels)
    assert count is not None
    assert total is not None
    assert total / count == pytest.approx(E2E_S)  # and what the app measured is what was fed


def shipped_expressions() -> list[str]:
    """Every PromQL expression in the shipped alerts and dashboard, Grafana variables filled."""
    rules = yaml.safe_load((ROOT / "contrib" / "prometheus" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dash = json.loads((ROOT / "contrib" / "grafana" / "camera-app-dashboard.json").read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", ())]
    fill = {"$__rate_interval": "1m", "$instance": ".*", "$camera": ".*"}
    return [
        re.sub(r"\$__rate_interval|\$instance|\$camera", lambda m: fill[m[0]], e) for e in exprs
    ]


def test_shipped_alerts_and_dashboard_queries_run_on_prometheus(
    start_prometheus: Callable[..., PrometheusProcess],
) -> None:
    prom = start_prometheus([])
    exprs = shipped_expressions()
    assert len(exprs) > 10
    for expr in exprs:
        prom.query(expr)  # raises PrometheusError on a parse or type error
