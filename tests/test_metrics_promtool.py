"""Prometheus's own checker on what we serve and ship: promtool (Debian package prometheus)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app.metrics import ModelInfo, PipelineMetrics
from camera_app.server import metrics_server
from camera_app.sources.capture import CaptureState
from camera_app.sources.errors import ErrorKind
from camera_app.telemetry import Health, Readiness
from tests.prom import PROMTOOL
from tests.test_metrics import make_result, make_snapshot

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = ROOT / "contrib"

pytestmark = pytest.mark.skipif(
    not Path(PROMTOOL).is_file(),
    reason=f"{PROMTOOL} is absent (Debian package prometheus, see .ci/apt-packages.txt)",
)


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [PROMTOOL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{out}"
    return out


@pytest.fixture
def scraped() -> Iterator[str]:
    """The body of a real HTTP scrape of the metrics server fed with every kind of metric."""
    snaps = [
        make_snapshot("front", captured=300, replaced=12, too_old=1),
        make_snapshot(
            "yard",
            state=CaptureState.BACKING_OFF,
            reconnects=3,
            errors={ErrorKind.TIMEOUT: 2, ErrorKind.REFUSED: 1},
        ),
    ]
    m = PipelineMetrics(
        cameras=["front", "yard"], labels=["person", "car"], snapshots=lambda: snaps
    )
    m.set_model_info(ModelInfo("ssd.tflite", "uint8", "q", "ai-edge-litert", "1.2", 2, 1, "pp"))
    for i in range(50):
        m.observe_result(make_result("front", capture_s=i * 0.05, labels=("person", "dog")))
        m.observe_render("front", 0.002)
    m.count_dropped("front", "output_backlog")
    server = metrics_server(
        "127.0.0.1", 0, m.registry, lambda: Health(()), lambda: Readiness(True, ())
    )
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5.0) as r:
            yield r.read().decode("utf-8")
    finally:
        assert server.stop(5.0)


def test_check_metrics_on_a_real_scrape(scraped: str) -> None:
    assert "camera_app_frames_dropped_total" in scraped
    assert "camera_app_stream_errors_total" in scraped
    out = promtool("check", "metrics", stdin=scraped)
    assert out.strip() == "", out  # promtool prints lint problems, and nothing when clean


def test_check_metrics_can_fail() -> None:
    """The check above means something: promtool does flag a badly named counter."""
    bad = "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
    proc = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60
    )
    assert "_total" in proc.stdout + proc.stderr


def test_check_rules() -> None:
    out = promtool("check", "rules", str(CONTRIB / "prometheus" / "alerts.yml"))
    assert "SUCCESS: 7 rules found" in out


def test_alert_unit_tests() -> None:
    out = promtool("test", "rules", "alerts_test.yml", cwd=CONTRIB / "prometheus")
    assert "SUCCESS" in out


def test_check_example_config() -> None:
    out = promtool("check", "config", "prometheus.yml", cwd=CONTRIB / "prometheus")
    assert "SUCCESS: prometheus.yml is valid prometheus config file syntax" in out
    assert "SUCCESS: 7 rules found" in out


def test_file_sd_targets_example_is_valid() -> None:
    groups = json.loads((CONTRIB / "prometheus" / "targets" / "camera-app.json").read_text())
    assert groups
    for group in groups:
        assert set(group) <= {"targets", "labels"}
        assert all(":" in t for t in group["targets"])


def test_dashboard_is_valid_json_with_the_promised_panels() -> None:
    dash = json.loads((CONTRIB / "grafana" / "camera-app-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", ()))
    for needle in (
        "camera_app_fps",
        "histogram_quantile(0.99",
        "camera_app_end_to_end_latency_seconds_bucket",
        "camera_app_invoke_seconds_bucket",
        "camera_app_frames_dropped_total",
        "camera_app_reconnects_total",
        "camera_app_camera_state",
        "camera_app_output_up",
    ):
        assert needle in exprs, needle
