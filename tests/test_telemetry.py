"""One telemetry, one answer: the status page, /api/status, /metrics and STATUS= agree."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request

import numpy as np
import pytest

from camera_app.app import App
from camera_app.config import parse_config
from camera_app.errors import SourceError
from camera_app.metrics import PipelineMetrics
from camera_app.outputs.live import LiveView
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.server import HttpServer, metrics_server, page_server
from camera_app.sources.capture import CaptureThread
from camera_app.telemetry import Parts, RateMeter, Readiness, Telemetry
from camera_app.wiring import services
from tests.fakes import FakeSource, make_image, wait_until
from tests.shared import TEST_MODELS
from tests.test_metrics import make_result


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_meter_is_right_from_the_second_event_and_still_between_events() -> None:
    m = RateMeter(10.0)
    assert m.rate(100.0) == 0.0
    m.tick(100.0)
    assert m.rate(100.0) == 0.0  # one event is no rate
    m.tick(100.1)
    assert m.rate(100.1) == pytest.approx(10.0)  # a 10 fps stream, from its second frame
    for i in range(1, 11):
        m.tick(100.1 + i * 0.5)  # then 2 per second
    assert m.rate(105.1) == m.rate(105.5) == pytest.approx(11 / 5.1)  # still between events
    assert m.rate(112.0) == pytest.approx(2.0)  # the 10 fps start has left the window
    assert m.rate(200.0) == 0.0  # nothing left in the window
    with pytest.raises(ValueError, match="window_s"):
        RateMeter(0)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as r:
        return str(r.read().decode())


def scraped_fps(text: str, camera: str) -> float:
    match = re.search(rf'^camera_app_fps\{{camera="{camera}"\}} (\S+)$', text, re.M)
    assert match is not None, text
    return float(match.group(1))


def test_every_surface_reads_the_same_fps_at_every_moment() -> None:
    """A 10 fps stream, on a clock of our own: in its first second and 20 s later, the
    status document, /api/status, /metrics and STATUS= give one number."""
    clock = Clock(50.0)
    stop = threading.Event()
    t = Telemetry(["door"], {"name": "m"}, clock=clock)
    capture = CaptureThread("door", FakeSource(), stop)  # never started: only its snapshot
    t.attach(Parts(workers=[], dispatcher=Dispatcher({}, stop), captures=[capture], sinks={}))
    metrics = PipelineMetrics(cameras=["door"], snapshots=t.snapshots, fps=t.fps)
    t.hooks.on_result.append(metrics.observe_result)
    page = page_server("127.0.0.1", 0, LiveView(["door"]), t.status)
    probe = metrics_server("127.0.0.1", 0, metrics.registry, t.health, t.readiness)
    for server in (page, probe):
        server.start()
    try:
        for seconds, expected in ((1.0, 10.0), (20.0, 10.0)):
            while clock.now < 50.0 + seconds - 1e-9:
                clock.now += 0.1
                t.observe_result(make_result("door", capture_s=clock.now - 0.04, latency_s=0.04))
            fps = t.fps("door")
            assert fps == pytest.approx(expected)
            api = json.loads(fetch(f"{page.url}/api/status"))["cameras"][0]["fps"]
            assert api == round(fps, 2) == t.status()["cameras"][0]["fps"]
            assert scraped_fps(fetch(f"{probe.url}/metrics"), "door") == pytest.approx(fps)
            assert f"door=connecting {fps:.1f}fps" in t.status_line()  # STATUS=
    finally:
        for server in (page, probe):
            assert server.stop(5.0)


def test_readiness_before_the_pipeline_is_attached() -> None:
    t = Telemetry(["door"], {})
    assert t.readiness() == Readiness(False, ())
    assert t.health().ok  # nothing to miss yet
    assert t.output_states() == []


class GatedCamera:
    """A camera that sends a frame (at most 20 a second) only when the test allows one."""

    description = "gated"
    lossless = False

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._allowed = 0
        self.sent = 0

    def allow(self, n: int) -> None:
        with self._cond:
            self._allowed += n
            self._cond.notify_all()

    def open(self, timeout_s: float) -> None:
        pass

    def read(self, timeout_s: float) -> np.ndarray:
        with self._cond:
            if not self._cond.wait_for(lambda: self.sent < self._allowed, timeout_s):
                raise SourceError("gated: no frame allowed", kind="timeout")
            self.sent += 1
            n = self.sent
        time.sleep(0.05)
        return make_image(n)

    def close(self) -> None:
        pass


def test_a_running_app_shows_one_fps_on_its_page_and_in_its_metrics() -> None:
    """The real App with its real servers: while the camera holds its next frame, in the
    first frames of the run and later, /api/status and /metrics give the same fps."""
    cfg = parse_config(
        f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}, threads: 1}}\n"
        "http: {address: 127.0.0.1, port: 0}\nmetrics: {address: 127.0.0.1, port: 0}\n"
        # Every frame the camera sends is run (no rate limit, no motion gate): none is held.
        "cameras:\n  - {name: door, source: demo, detect_fps: 0, motion: {enabled: false}}\n",
        "cfg.yaml",
        env={},
    )
    gated = GatedCamera()
    app = App(cfg, services=services, source_for=lambda cam: gated)
    servers = {c.name: c for c in app.supervisor.components if isinstance(c, HttpServer)}
    page, probe = servers["http"].url, servers["metrics"].url

    def settled(frames: int) -> bool:
        """Every frame sent was processed or replaced: no result is on its way."""
        snap = app.telemetry.snapshots()[0]
        done = app.telemetry.frames_processed + snap.frames_replaced
        return snap.frames_captured == frames and done == frames

    seen = []
    app.start()
    try:
        for frames in (5, 60):
            gated.allow(frames - gated.sent)
            assert wait_until(lambda: settled(frames), timeout_s=60)  # noqa: B023
            api = json.loads(fetch(f"{page}/api/status"))["cameras"][0]["fps"]
            seen.append((api, scraped_fps(fetch(f"{probe}/metrics"), "door")))
    finally:
        assert app.stop() == []
    for api, by_metrics in seen:
        assert api == round(by_metrics, 2)
    assert seen[-1][0] > 0


def test_health_names_the_pipeline_threads_that_do_not_run() -> None:
    """/healthz and the watchdog's alive() read this one answer."""
    stop = threading.Event()
    t = Telemetry(["door"], {})
    capture = CaptureThread("door", FakeSource(), stop)
    dispatcher = Dispatcher({}, stop)
    t.attach(Parts(workers=[], dispatcher=dispatcher, captures=[capture], sinks={}))
    assert t.health().dead == ["outputs", "capture-door"]  # built, not started
    dispatcher.start()
    try:
        assert wait_until(lambda: t.health().dead == ["capture-door"])
        assert not t.health().ok
    finally:
        stop.set()
        assert dispatcher.stop(5.0)
