"""PipelineMetrics and the metrics server, fed with synthetic Results and CaptureSnapshots."""

from __future__ import annotations

import gzip
import json
import logging
import platform
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from camera_app import __version__
from camera_app.detect.detections import Detections
from camera_app.errors import ConfigError
from camera_app.metrics import (
    DROP_REASONS,
    LATENCY_BUCKETS_S,
    OTHER_LABEL,
    ModelInfo,
    PipelineMetrics,
)
from camera_app.pipeline.types import OutputState, Result, StageTimes
from camera_app.server import HttpServer, metrics_server
from camera_app.sources.base import Frame
from camera_app.sources.capture import CaptureSnapshot, CaptureState, DropReason
from camera_app.sources.errors import ErrorKind
from camera_app.telemetry import CameraReadiness, Health, Readiness

# ---- builders --------------------------------------------------------------------------------


def make_detections(labels: Sequence[str] = ()) -> Detections:
    n = len(labels)
    return Detections(
        np.zeros((n, 4), np.float32),
        np.full(n, 0.9, np.float32),
        np.arange(n, dtype=np.int32),
        tuple(labels),
    )


def make_result(
    camera: str = "front",
    *,
    capture_s: float = 100.0,
    latency_s: float = 0.040,
    times: tuple[float, float, float, float] = (0.010, 0.002, 0.015, 0.003),
    labels: Sequence[str] = (),
    sequence: int = 0,
) -> Result:
    frame = Frame(np.zeros((2, 2, 3), np.uint8), camera, sequence, capture_s, 1.7e9 + capture_s)
    return Result(frame, make_detections(labels), StageTimes(*times), capture_s + latency_s, 0)


def make_snapshot(
    camera: str = "front",
    *,
    state: CaptureState = CaptureState.STREAMING,
    captured: int = 0,
    replaced: int = 0,
    too_old: int = 0,
    reconnects: int = 0,
    errors: Mapping[ErrorKind, int] | None = None,
    last_error: tuple[ErrorKind, str] | None = None,
    description: str = "rtsp://cam.local:554/stream",
    alive: bool = True,
    hung_readers: int = 0,
) -> CaptureSnapshot:
    counts = dict.fromkeys(ErrorKind, 0)
    counts.update(errors or {})
    return CaptureSnapshot(
        camera=camera,
        description=description,
        state=state,
        state_since_monotonic_s=1.0,
        state_since_wall_s=1.7e9,
        last_error_kind=last_error[0] if last_error else None,
        last_error_message=last_error[1] if last_error else None,
        frames_captured=captured,
        frames_replaced=replaced,
        frames_too_old=too_old,
        reconnects=reconnects,
        errors_by_kind=MappingProxyType(counts),
        last_frame_monotonic_s=None,
        alive=alive,
        hung_readers=hung_readers,
    )


def value(m: PipelineMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def exposition(m: PipelineMetrics) -> str:
    return generate_latest(m.registry).decode("utf-8")


# ---- pushed metrics --------------------------------------------------------------------------

STAGES = [
    ("camera_app_frame_age_seconds", 0),
    ("camera_app_preprocess_seconds", 1),
    ("camera_app_invoke_seconds", 2),
    ("camera_app_postprocess_seconds", 3),
]


@pytest.mark.parametrize(("metric", "index"), STAGES)
def test_observe_result_records_each_stage(metric: str, index: int) -> None:
    m = PipelineMetrics()
    stage_s = [0.0005, 0.004, 0.012, 0.3]  # four frames, four different buckets
    for i, s in enumerate(stage_s):
        times = [0.001, 0.001, 0.001, 0.001]
        times[index] = s
        m.observe_result(make_result(times=tuple(times), sequence=i))  # type: ignore[arg-type]
    assert value(m, f"{metric}_count", camera="front") == 4
    assert value(m, f"{metric}_sum", camera="front") == pytest.approx(sum(stage_s))
    assert value(m, f"{metric}_bucket", camera="front", le="0.001") == 1
    assert value(m, f"{metric}_bucket", camera="front", le="0.005") == 2
    assert value(m, f"{metric}_bucket", camera="front", le="0.015") == 3
    assert value(m, f"{metric}_bucket", camera="front", le="0.2") == 3
    assert value(m, f"{metric}_bucket", camera="front", le="0.3") == 4
    assert value(m, f"{metric}_bucket", camera="front", le="+Inf") == 4


def test_end_to_end_latency_is_capture_to_done() -> None:
    m = PipelineMetrics()
    m.observe_result(make_result(capture_s=50.0, latency_s=0.045))
    m.observe_result(make_result(capture_s=51.0, latency_s=0.120))
    assert value(m, "camera_app_end_to_end_latency_seconds_count", camera="front") == 2
    assert value(m, "camera_app_end_to_end_latency_seconds_sum", camera="front") == pytest.approx(
        0.165
    )
    assert value(m, "camera_app_end_to_end_latency_seconds_bucket", camera="front", le="0.05") == 1
    assert value(m, "camera_app_end_to_end_latency_seconds_bucket", camera="front", le="0.15") == 2


def test_buckets_have_millisecond_resolution_up_to_5_s() -> None:
    assert LATENCY_BUCKETS_S[0] == 0.001
    assert LATENCY_BUCKETS_S[-1] == 5.0
    assert list(LATENCY_BUCKETS_S) == sorted(set(LATENCY_BUCKETS_S))
    between_10_and_50_ms = [b for b in LATENCY_BUCKETS_S if 0.01 <= b <= 0.05]
    assert len(between_10_and_50_ms) >= 6


def test_frames_and_detections_are_counted_per_camera_and_label() -> None:
    m = PipelineMetrics()
    m.observe_result(make_result("front", labels=("person", "person", "car")))
    m.observe_result(make_result("front", labels=("car",)))
    m.observe_result(make_result("yard", labels=()))
    assert value(m, "camera_app_frames_processed_total", camera="front") == 2
    assert value(m, "camera_app_frames_processed_total", camera="yard") == 1
    assert value(m, "camera_app_detections_total", camera="front", label="person") == 2
    assert value(m, "camera_app_detections_total", camera="front", label="car") == 2
    assert value(m, "camera_app_detections_total", camera="yard", label="car") is None


def test_observe_render() -> None:
    m = PipelineMetrics()
    m.observe_render("front", 0.004)
    m.observe_render("front", 0.030)
    assert value(m, "camera_app_render_seconds_count", camera="front") == 2
    assert value(m, "camera_app_render_seconds_bucket", camera="front", le="0.005") == 1
    assert value(m, "camera_app_render_seconds_sum", camera="front") == pytest.approx(0.034)


def test_configured_cameras_are_exported_before_their_first_frame() -> None:
    m = PipelineMetrics(cameras=["front", "yard"])
    assert value(m, "camera_app_frames_processed_total", camera="yard") == 0
    assert value(m, "camera_app_end_to_end_latency_seconds_count", camera="yard") == 0
    for reason in DROP_REASONS:
        assert value(m, "camera_app_frames_dropped_total", camera="yard", reason=reason) == 0


# ---- drops: one family, two sources ----------------------------------------------------------


def test_dropped_sums_capture_slot_and_pipeline_counts() -> None:
    snaps = [make_snapshot("front", replaced=7, too_old=2), make_snapshot("yard", replaced=1)]
    m = PipelineMetrics(cameras=["front", "yard"], snapshots=lambda: snaps)
    for _ in range(3):
        m.count_dropped("front", "output_backlog")
    m.count_dropped("yard", DropReason.TOO_OLD)  # an enum is accepted too
    expected = {
        ("front", "replaced"): 7,
        ("front", "too_old"): 2,
        ("front", "output_backlog"): 3,
        ("yard", "replaced"): 1,
        ("yard", "too_old"): 1,
        ("yard", "output_backlog"): 0,
    }
    for (camera, reason), count in expected.items():
        got = value(m, "camera_app_frames_dropped_total", camera=camera, reason=reason)
        assert got == count, (camera, reason)


def test_count_dropped_rejects_unknown_reasons() -> None:
    m = PipelineMetrics()
    with pytest.raises(ValueError, match="expected one of"):
        m.count_dropped("front", "cosmic_rays")


def test_every_family_is_emitted_once() -> None:
    m = PipelineMetrics(snapshots=lambda: [make_snapshot("front", replaced=1)])
    m.count_dropped("front", "output_backlog")
    m.observe_result(make_result("front", labels=("person",)))
    text = exposition(m)
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names)), names
    assert (
        sum(line.startswith("# TYPE camera_app_frames_dropped") for line in text.splitlines()) == 1
    )


def test_registries_are_independent_and_never_the_global_one() -> None:
    a, b = PipelineMetrics(), PipelineMetrics()
    a.observe_result(make_result("front"))
    assert value(a, "camera_app_frames_processed_total", camera="front") == 1
    assert value(b, "camera_app_frames_processed_total", camera="front") is None
    assert (
        REGISTRY.get_sample_value("camera_app_frames_processed_total", {"camera": "front"}) is None
    )
    shared = CollectorRegistry()
    PipelineMetrics(shared)
    with pytest.raises(ValueError, match="Duplicated"):
        PipelineMetrics(shared)  # the registry refuses a second copy of each family


# ---- pulled from the capture snapshots ------------------------------------------------------


def test_snapshot_counters_states_and_up() -> None:
    snaps = [
        make_snapshot("front", captured=120, reconnects=0),
        make_snapshot(
            "yard",
            state=CaptureState.BACKING_OFF,
            captured=30,
            reconnects=4,
            errors={ErrorKind.TIMEOUT: 3, ErrorKind.UNAUTHORIZED: 1},
            hung_readers=2,
        ),
    ]
    m = PipelineMetrics(snapshots=lambda: snaps)
    assert value(m, "camera_app_frames_captured_total", camera="front") == 120
    assert value(m, "camera_app_frames_captured_total", camera="yard") == 30
    assert value(m, "camera_app_reconnects_total", camera="yard") == 4
    for kind in ErrorKind:
        expected = {ErrorKind.TIMEOUT: 3, ErrorKind.UNAUTHORIZED: 1}.get(kind, 0)
        got = value(m, "camera_app_stream_errors_total", camera="yard", **{"class": kind.value})
        assert got == expected, kind
    for state in CaptureState:
        assert value(m, "camera_app_camera_state", camera="front", state=state.value) == (
            1 if state is CaptureState.STREAMING else 0
        )
        assert value(m, "camera_app_camera_state", camera="yard", state=state.value) == (
            1 if state is CaptureState.BACKING_OFF else 0
        )
    assert value(m, "camera_app_camera_up", camera="front") == 1
    assert value(m, "camera_app_camera_up", camera="yard") == 0
    assert value(m, "camera_app_reader_threads_blocked", camera="front") == 0
    assert value(m, "camera_app_reader_threads_blocked", camera="yard") == 2


def test_snapshots_are_read_at_scrape_time() -> None:
    snaps = [make_snapshot("front", captured=1)]
    m = PipelineMetrics(snapshots=lambda: snaps)
    assert value(m, "camera_app_frames_captured_total", camera="front") == 1
    snaps[0] = make_snapshot("front", captured=99)
    assert value(m, "camera_app_frames_captured_total", camera="front") == 99


def test_a_failing_snapshot_source_does_not_break_the_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> list[CaptureSnapshot]:
        raise RuntimeError("boom")

    m = PipelineMetrics(cameras=["front"], snapshots=broken)
    m.observe_result(make_result("front"))
    with caplog.at_level(logging.ERROR, logger="camera_app.metrics"):
        text = exposition(m)
    assert 'camera_app_frames_processed_total{camera="front"} 1.0' in text
    assert "capture snapshots" in caplog.text


def test_outputs_up_and_failures_are_read_at_scrape_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    states = [OutputState("front", "events", True, 0), OutputState("front", "record", True, 0)]
    assert "camera_app_output_up{" not in exposition(PipelineMetrics(cameras=["front"]))
    m = PipelineMetrics(cameras=["front"], outputs=lambda: states)
    assert value(m, "camera_app_output_up", camera="front", output="record") == 1.0
    states[1] = OutputState("front", "record", False, 3)  # a full disk, say
    assert value(m, "camera_app_output_up", camera="front", output="record") == 0.0
    assert value(m, "camera_app_output_failures_total", camera="front", output="record") == 3
    assert value(m, "camera_app_output_up", camera="front", output="events") == 1.0

    def broken() -> list[OutputState]:
        raise RuntimeError("boom")

    m = PipelineMetrics(cameras=["front"], outputs=broken)
    with caplog.at_level(logging.ERROR, logger="camera_app.metrics"):
        text = exposition(m)
    assert "# TYPE camera_app_output_up gauge" in text
    assert "outputs' states" in caplog.text


# ---- fps -------------------------------------------------------------------------------------


def test_fps_is_read_from_its_source_at_scrape_time() -> None:
    """/metrics reports the fps source's number (the telemetry's), no count of its own."""
    rates = {"front": 12.5}
    m = PipelineMetrics(
        cameras=["front", "back"],
        snapshots=lambda: [make_snapshot("front")],
        fps=lambda camera: rates.get(camera, 0.0),
    )
    assert value(m, "camera_app_fps", camera="front") == 12.5
    assert value(m, "camera_app_fps", camera="back") == 0.0  # known, without a snapshot
    rates["front"] = 3.0
    assert value(m, "camera_app_fps", camera="front") == 3.0
    assert PipelineMetrics(cameras=["front"]).fps("front") == 0.0  # no source


# ---- info ------------------------------------------------------------------------------------


def test_model_and_build_info() -> None:
    m = PipelineMetrics()
    m.set_model_info(
        ModelInfo(
            name="ssd_mobilenet_v2.tflite",
            input_dtype="uint8",
            quantization="scale=0.0078125 zero_point=128",
            runtime="ai-edge-litert",
            runtime_version="1.2.0",
            threads=4,
            interpreters=2,
            layout="postprocess",
        )
    )
    labels = {
        "name": "ssd_mobilenet_v2.tflite",
        "input_dtype": "uint8",
        "quantization": "scale=0.0078125 zero_point=128",
        "runtime": "ai-edge-litert",
        "runtime_version": "1.2.0",
        "threads": "4",
        "interpreters": "2",
        "layout": "postprocess",
    }
    assert m.registry.get_sample_value("camera_app_model_info", labels) == 1
    build = {"version": __version__, "python": platform.python_version()}
    assert m.registry.get_sample_value("camera_app_build_info", build) == 1


# ---- cardinality and secrets -----------------------------------------------------------------


def series(m: PipelineMetrics) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for f in text_string_to_metric_families(exposition(m))
        for s in f.samples
    }


def test_label_values_are_bounded() -> None:
    m = PipelineMetrics(cameras=["front"], labels=["person", "car"])
    m.observe_result(make_result("front", labels=("person",)))
    before = series(m)
    for i in range(500):  # new frames, latencies, sequence numbers and unknown labels
        m.observe_result(
            make_result(
                "front",
                capture_s=100.0 + i,
                latency_s=0.001 * (i % 300),
                labels=("person", "car", f"class_{i}"),
                sequence=i,
            )
        )
    new = series(m) - before  # "car" and "other" appeared, nothing else did
    assert new == {
        (name, (("camera", "front"), ("label", label)))
        for name in ("camera_app_detections_total", "camera_app_detections_created")
        for label in ("car", OTHER_LABEL)
    }
    label_values = {
        s.labels["label"]
        for f in text_string_to_metric_families(exposition(m))
        if f.name == "camera_app_detections"
        for s in f.samples
        if "label" in s.labels
    }
    assert label_values == {"person", "car", OTHER_LABEL}
    assert value(m, "camera_app_detections_total", camera="front", label=OTHER_LABEL) == 500


SECRETS = ("hunter2", "s3cr@t", "s3cr%40t", "t0ken")


def leaky_setup() -> tuple[PipelineMetrics, list[CaptureSnapshot]]:
    """A camera *named* after its URL, snapshots and a model name that all carry passwords."""
    url_name = "rtsp://admin:hunter2@10.0.0.5:554/live"
    snaps = [
        make_snapshot(
            url_name,
            state=CaptureState.BACKING_OFF,
            description="rtsp://admin:s3cr%40t@10.0.0.6/live",
            last_error=(ErrorKind.UNAUTHORIZED, "rtsp://viewer:s3cr%40t@10.0.0.6/live: 401"),
        ),
        make_snapshot("gate", description="http://10.0.0.7/mjpg?user=a&password=t0ken"),
    ]
    m = PipelineMetrics(cameras=[url_name], snapshots=lambda: snaps)
    m.observe_result(make_result(url_name, labels=("person",)))
    m.observe_render(url_name, 0.01)
    m.count_dropped(url_name, "output_backlog")
    m.set_model_info(
        ModelInfo("https://u:t0ken@models.local/ssd.tflite", "uint8", "q", "r", "1", 1, 1, "x")
    )
    return m, snaps


def test_no_password_in_the_exposition() -> None:
    m, _ = leaky_setup()
    text = exposition(m)
    assert "camera_app_frames_processed_total" in text
    assert "10.0.0.5" in text  # the camera is there, masked
    for secret in SECRETS:
        assert secret not in text


# ---- the HTTP server -------------------------------------------------------------------------


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5.0) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


class State:
    def __init__(self) -> None:
        self.health = Health.from_alive({"capture-front": True, "inference-0": True})
        self.ready = Readiness(True, (CameraReadiness("front", "streaming", True),))


@pytest.fixture
def served() -> Iterator[tuple[HttpServer, PipelineMetrics, State]]:
    m, snaps = leaky_setup()
    state = State()
    state.ready = Readiness.from_snapshots(True, snaps)
    server = metrics_server("127.0.0.1", 0, m.registry, lambda: state.health, lambda: state.ready)
    server.start()
    try:
        yield server, m, state
    finally:
        assert server.stop(5.0)
    assert not server.alive()


def test_metrics_endpoint(served: tuple[HttpServer, PipelineMetrics, State]) -> None:
    server, _, _ = served
    assert server.port > 0
    status, headers, body = get(f"{server.url}/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"camera_app_end_to_end_latency_seconds_bucket" in body
    status, headers, zipped = get(f"{server.url}/metrics", **{"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    plain = gzip.decompress(zipped)
    assert plain.splitlines()[:5] == body.splitlines()[:5]
    # prometheus_client's own negotiation: OpenMetrics for a client that asks for it.
    status, headers, body = get(
        f"{server.url}/metrics", Accept="application/openmetrics-text; version=1.0.0"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz"])
def test_a_foreign_host_header_is_refused_on_loopback(
    served: tuple[HttpServer, PipelineMetrics, State], path: str
) -> None:
    """DNS rebinding: a page elsewhere must not read /metrics or /readyz through the browser."""
    server, _, _ = served
    status, _, body = get(f"{server.url}{path}", Host="evil.example:9108")
    assert status == 403
    assert b"unexpected Host header" in body
    status, _, _ = get(f"{server.url}{path}", Host=f"localhost:{server.port}")
    assert status in (200, 503)  # served (readyz may say not ready)


def test_a_metrics_port_on_all_addresses_serves_any_host() -> None:
    m = PipelineMetrics(cameras=["front"])
    state = State()
    server = metrics_server("0.0.0.0", 0, m.registry, lambda: state.health, lambda: state.ready)
    server.start()
    try:
        status, _, _ = get(f"http://127.0.0.1:{server.port}/healthz", Host="camera-box.lan")
    finally:
        assert server.stop(5.0)
    assert status == 200


def test_healthz(served: tuple[HttpServer, PipelineMetrics, State]) -> None:
    server, _, state = served
    assert get(f"{server.url}/healthz")[::2] == (200, b"ok\n")
    state.health = Health.from_alive({"capture-front": True, "inference-0": False, "outputs": 0})
    status, headers, body = get(f"{server.url}/healthz")
    assert status == 503
    assert headers["Content-Type"].startswith("text/plain")
    assert body == b"unhealthy: dead threads: inference-0, outputs\n"


def test_readyz(served: tuple[HttpServer, PipelineMetrics, State]) -> None:
    server, _, state = served
    status, headers, body = get(f"{server.url}/readyz")
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["ready"] is False
    assert doc["model_loaded"] is True
    by_camera = {c["camera"]: c for c in doc["cameras"]}
    assert by_camera["gate"] == {
        "camera": "gate",
        "state": "streaming",
        "streaming": True,
        "reason": None,
    }
    (masked,) = (c for c in doc["cameras"] if c["camera"] != "gate")
    assert masked["camera"] == "rtsp://***:***@10.0.0.5:554/live"
    assert masked["state"] == "backing_off"
    assert masked["reason"] == "unauthorized: rtsp://***:***@10.0.0.6/live: 401"
    state.ready = Readiness(True, (CameraReadiness("front", "streaming", True),))
    status, _, body = get(f"{server.url}/readyz")
    assert status == 200
    assert json.loads(body)["ready"] is True


@pytest.mark.parametrize(
    ("readiness", "ready"),
    [
        (Readiness(True, (CameraReadiness("a", "streaming", True),)), True),
        (Readiness(False, (CameraReadiness("a", "streaming", True),)), False),
        (Readiness(True, ()), False),
        (
            Readiness(
                True,
                (
                    CameraReadiness("a", "streaming", True),
                    CameraReadiness("b", "connecting", False),
                ),
            ),
            False,
        ),
    ],
)
def test_readiness_rule(readiness: Readiness, ready: bool) -> None:
    assert readiness.ready is ready


def test_readiness_from_snapshots_says_why() -> None:
    snaps = [
        make_snapshot("a"),
        make_snapshot("b", state=CaptureState.CONNECTING),
        make_snapshot("c", state=CaptureState.FAILED, last_error=(ErrorKind.EOF, "clip ended")),
        make_snapshot("d", state=CaptureState.FAILED, alive=False),
    ]
    ready = Readiness.from_snapshots(True, snaps)
    assert [(c.camera, c.streaming, c.reason) for c in ready.cameras] == [
        ("a", True, None),
        ("b", False, "connecting"),
        ("c", False, "eof: clip ended"),
        ("d", False, "capture thread not running (failed)"),
    ]


def test_failing_callbacks_answer_503(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Health:
        raise RuntimeError("rtsp://u:hunter2@x/ broke")

    def broken_ready() -> Readiness:
        raise RuntimeError("rtsp://u:hunter2@x/ broke")

    server = metrics_server("127.0.0.1", 0, CollectorRegistry(), broken, broken_ready)
    server.start()
    try:
        with caplog.at_level(logging.ERROR, logger="camera_app.server"):
            status, _, body = get(f"{server.url}/healthz")
            assert (status, body) == (503, b"unhealthy: the health check failed (RuntimeError)\n")
            status, _, body = get(f"{server.url}/readyz")
        assert status == 503
        assert json.loads(body) == {
            "ready": False,
            "error": "RuntimeError: rtsp://***:***@x/ broke",
        }
        assert get(f"{server.url}/nope")[0] == 404
    finally:
        assert server.stop(5.0)


def test_no_password_on_any_page(served: tuple[HttpServer, PipelineMetrics, State]) -> None:
    server, _, state = served
    state.health = Health.from_alive({"capture-rtsp://a:hunter2@h/": False})
    for path in ("/metrics", "/healthz", "/readyz", "/missing"):
        _, _, body = get(f"{server.url}{path}")
        text = body.decode()
        for secret in SECRETS:
            assert secret not in text, (path, secret)


def empty_server(port: int = 0) -> HttpServer:
    return metrics_server(
        "127.0.0.1", port, CollectorRegistry(), lambda: Health(()), lambda: Readiness(True, ())
    )


def test_bound_when_built_and_stop_before_start() -> None:
    server = empty_server()
    assert server.port > 0  # the real port, before start
    assert server.stop(1.0) is True  # never started: closes the socket


def test_start_twice_is_an_error() -> None:
    server = empty_server()
    server.start()
    try:
        with pytest.raises(RuntimeError, match="twice"):
            server.start()
    finally:
        assert server.stop(5.0)


def test_a_taken_port_is_one_clear_error() -> None:
    first = empty_server()
    try:
        with pytest.raises(ConfigError, match=f"metrics: cannot listen on 127.0.0.1:{first.port}"):
            empty_server(first.port)
    finally:
        assert first.stop(5.0)


# ---- threads ---------------------------------------------------------------------------------


def test_concurrent_observers_lose_nothing() -> None:
    m = PipelineMetrics(cameras=["front", "yard"])
    per_thread = 2000

    def feed(camera: str) -> None:
        for i in range(per_thread):
            m.observe_result(make_result(camera, capture_s=float(i), labels=("person",)))
            m.count_dropped(camera, "output_backlog")

    threads = [threading.Thread(target=feed, args=(c,)) for c in ("front", "yard") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30.0)
        assert not t.is_alive()
    for camera in ("front", "yard"):
        assert value(m, "camera_app_frames_processed_total", camera=camera) == 2 * per_thread
        assert value(m, "camera_app_detections_total", camera=camera, label="person") == (
            2 * per_thread
        )
        assert value(
            m, "camera_app_frames_dropped_total", camera=camera, reason="output_backlog"
        ) == (2 * per_thread)


def test_request_lines_are_logged_redacted(
    served: tuple[HttpServer, PipelineMetrics, State], caplog: pytest.LogCaptureFixture
) -> None:
    server, _, _ = served
    with caplog.at_level(logging.DEBUG, logger="camera_app.server"):
        get(f"{server.url}/metrics?u=rtsp://admin:hunter2@h/")
    lines = [r.getMessage() for r in caplog.records if "GET /metrics" in r.getMessage()]
    assert lines, caplog.text
    assert all("hunter2" not in line for line in lines)
