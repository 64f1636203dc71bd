"""Prometheus metrics: per-stage latency, drops by reason, stream health, fps, model and build info.

``PipelineMetrics`` owns one ``CollectorRegistry`` (a new one unless given: never the global
one) and is fed from two sides:

- *pushed* by the pipeline, on its own threads: ``observe_result`` (every processed frame),
  ``observe_render`` (time spent in the outputs), ``count_dropped`` (drops the pipeline itself
  sees, e.g. ``output_backlog``);
- *pulled* at scrape time from the capture threads: a callable returning ``CaptureSnapshot``s
  (``set_snapshot_source``), read by a custom collector.

Families and who emits them (each family is emitted by exactly one collector; the registry
checks that at registration, through ``describe()``):

    histograms {camera}      camera_app_{frame_age,preprocess,invoke,postprocess,render}_seconds,
                             camera_app_end_to_end_latency_seconds          (observe_*)
    counters                 camera_app_frames_processed_total{camera},
                             camera_app_detections_total{camera,label}      (observe_result)
    info                     camera_app_model_info{...}, camera_app_build_info{version,python}
    snapshot collector       camera_app_frames_captured_total{camera}
                             camera_app_frames_dropped_total{camera,reason}
                             camera_app_reconnects_total{camera}
                             camera_app_stream_errors_total{camera,class}
                             camera_app_camera_state{camera,state}  (1 for the current state)
                             camera_app_camera_up{camera}           (1 while streaming)
                             camera_app_fps{camera}                 (processed, sliding window)

Drops, the split: ``camera_app_frames_dropped_total`` is emitted by the snapshot collector
only. For each camera and reason it is the capture slot's count from the snapshot
(``replaced``, ``too_old``) *plus* what the pipeline counted with ``count_dropped`` (plain
integers kept here, not a prometheus Counter, so the family cannot appear twice). Call
``count_dropped`` only for drops the capture slot does not count already.

Cardinality: label values come from the config (camera names), the label map (detection
labels; with ``labels`` given, anything else is counted as ``other``) and fixed enums
(stage, drop reason, error class, state). Every label value is passed through ``redact_text``
once, when it is first bound, so a URL pasted into a camera name cannot leak its password.

Cost: labelled children are bound once per camera (and per camera and label) and cached, so
``observe_result`` is a dict lookup, five histogram observations and a few counter increments;
see ``benchmarks/metrics_cost.py``.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_app import __version__
from camera_app.pipeline.types import OutputState, Result
from camera_app.redact import redact_text
from camera_app.sources.capture import (
    MAX_HUNG_READERS,
    CaptureSnapshot,
    CaptureState,
    DropReason,
)
from camera_app.sources.errors import ErrorKind

__all__ = [
    "DROP_REASONS",
    "LATENCY_BUCKETS_S",
    "OTHER_LABEL",
    "ModelInfo",
    "PipelineMetrics",
]

log = logging.getLogger(__name__)

# Millisecond resolution where frames live (1..100 ms), coarser up to 5 s for stalls.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0,
)  # fmt: skip

OUTPUT_BACKLOG = "output_backlog"
DROP_REASONS: tuple[str, ...] = (*(r.value for r in DropReason), OUTPUT_BACKLOG)
OTHER_LABEL = "other"

SnapshotSource = Callable[[], Iterable[CaptureSnapshot]]
OutputSource = Callable[[], Iterable[OutputState]]


@dataclass(frozen=True)
class ModelInfo:
    """What ``camera_app_model_info`` says about the loaded model and its runtime."""

    name: str
    input_dtype: str
    quantization: str  # e.g. "uint8 scale=0.0078 zero_point=128", "float"
    runtime: str  # "ai-edge-litert" or "tflite-runtime"
    runtime_version: str
    threads: int
    interpreters: int
    layout: str


class _Camera:
    """The labelled children of one camera, bound once."""

    __slots__ = (
        "detections",
        "e2e",
        "frame_age",
        "invoke",
        "name",
        "postprocess",
        "preprocess",
        "processed",
        "render",
    )

    def __init__(self, m: PipelineMetrics, name: str) -> None:
        self.name = name
        self.frame_age = m._frame_age.labels(name)
        self.preprocess = m._preprocess.labels(name)
        self.invoke = m._invoke.labels(name)
        self.postprocess = m._postprocess.labels(name)
        self.render = m._render.labels(name)
        self.e2e = m._e2e.labels(name)
        self.processed = m._processed.labels(name)
        self.detections: dict[str, Counter] = {}


class PipelineMetrics:
    """All of camera_app's metrics, in ``self.registry``. Thread-safe."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        cameras: Sequence[str] = (),
        labels: Iterable[str] | None = None,
        snapshots: SnapshotSource | None = None,
        fps_window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not fps_window_s > 0:
            raise ValueError(f"fps_window_s: expected a positive number, got {fps_window_s!r}")
        self.registry = registry if registry is not None else CollectorRegistry()
        self._labels = None if labels is None else frozenset(labels)
        self._snapshots = snapshots
        self._outputs: OutputSource | None = None
        self._fps_window_s = fps_window_s
        self._clock = clock
        self._lock = threading.Lock()  # guards the dicts below and the fps deques
        self._cameras: dict[str, _Camera] = {}
        self._done_s: dict[str, deque[float]] = {}
        self._drops: dict[str, dict[str, int]] = {}

        r = self.registry

        def histogram(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, ["camera"], buckets=LATENCY_BUCKETS_S, registry=r)

        self._frame_age = histogram(
            "camera_app_frame_age_seconds",
            "Time a frame waited between capture and invoke(), preprocessing excluded.",
        )
        self._preprocess = histogram("camera_app_preprocess_seconds", "Time in preprocessing.")
        self._invoke = histogram("camera_app_invoke_seconds", "Time in the model's invoke.")
        self._postprocess = histogram(
            "camera_app_postprocess_seconds", "Time in postprocessing (decode, NMS)."
        )
        self._render = histogram(
            "camera_app_render_seconds", "Time spent handing one result to the outputs."
        )
        self._e2e = histogram(
            "camera_app_end_to_end_latency_seconds", "Capture to results, per frame."
        )
        self._processed = Counter(
            "camera_app_frames_processed", "Frames run through the model.", ["camera"], registry=r
        )
        self._detections = Counter(
            "camera_app_detections",
            "Detections reported, by label.",
            ["camera", "label"],
            registry=r,
        )
        self._model_info = Info("camera_app_model", "The loaded model and runtime.", registry=r)
        build = Info("camera_app_build", "camera_app version and Python.", registry=r)
        build.info({"version": __version__, "python": platform.python_version()})
        r.register(_SnapshotCollector(self))
        r.register(_OutputCollector(self))
        for camera in cameras:
            self._camera(camera)

    # -- pushed by the pipeline ------------------------------------------------------------

    def observe_result(self, result: Result) -> None:
        """Record one processed frame: its stage times, end-to-end latency and detections."""
        cam = self._cameras.get(result.frame.camera) or self._camera(result.frame.camera)
        times = result.times
        cam.frame_age.observe(times.frame_age_s)
        cam.preprocess.observe(times.preprocess_s)
        cam.invoke.observe(times.invoke_s)
        cam.postprocess.observe(times.postprocess_s)
        cam.e2e.observe(result.done_monotonic_s - result.frame.capture_monotonic_s)
        cam.processed.inc()
        labels = result.detections.labels
        if labels:
            children = cam.detections
            for label in labels:
                child = children.get(label) or self._detection_child(cam, label)
                child.inc()
        with self._lock:
            done = self._done_s[cam.name]
            done.append(result.done_monotonic_s)
            horizon = result.done_monotonic_s - self._fps_window_s
            while done[0] < horizon:
                done.popleft()

    def observe_render(self, camera: str, seconds: float) -> None:
        """Record the time the outputs took for one result of ``camera``."""
        cam = self._cameras.get(camera) or self._camera(camera)
        cam.render.observe(seconds)

    def count_dropped(self, camera: str, reason: str | Enum) -> None:
        """Count a frame the pipeline dropped itself (not one the capture slot counted)."""
        value = reason.value if isinstance(reason, Enum) else reason
        if value not in DROP_REASONS:
            raise ValueError(f"drop reason: expected one of {list(DROP_REASONS)}, got {value!r}")
        cam = self._cameras.get(camera) or self._camera(camera)
        with self._lock:
            self._drops[cam.name][value] += 1

    def set_model_info(self, info: ModelInfo) -> None:
        self._model_info.info(
            {
                "name": redact_text(info.name),
                "input_dtype": info.input_dtype,
                "quantization": info.quantization,
                "runtime": info.runtime,
                "runtime_version": info.runtime_version,
                "threads": str(info.threads),
                "interpreters": str(info.interpreters),
                "layout": info.layout,
            }
        )

    def set_snapshot_source(self, snapshots: SnapshotSource | None) -> None:
        """Where the capture snapshots come from at scrape time (None: no capture metrics)."""
        self._snapshots = snapshots

    def set_output_source(self, outputs: OutputSource | None) -> None:
        """Where the outputs' states come from at scrape time (None: no output metrics)."""
        self._outputs = outputs

    # -- read at scrape time ---------------------------------------------------------------

    def fps(self, camera: str) -> float:
        """Frames processed per second over the last ``fps_window_s`` (0 for unknown cameras)."""
        now = self._clock()
        with self._lock:
            done = self._done_s.get(camera)
            if not done:
                return 0.0
            horizon = now - self._fps_window_s
            count = sum(1 for t in done if t >= horizon)
        return count / self._fps_window_s

    def cameras(self) -> list[str]:
        """The (redacted) names of the cameras bound so far."""
        with self._lock:
            return [cam.name for cam in self._cameras.values()]

    def pipeline_drops(self, camera: str) -> dict[str, int]:
        with self._lock:
            return dict(self._drops.get(camera) or dict.fromkeys(DROP_REASONS, 0))

    # -- binding ---------------------------------------------------------------------------

    def _camera(self, camera: str) -> _Camera:
        with self._lock:
            cam = self._cameras.get(camera)
            if cam is None:
                cam = _Camera(self, redact_text(camera))
                self._done_s.setdefault(cam.name, deque())
                self._drops.setdefault(cam.name, dict.fromkeys(DROP_REASONS, 0))
                self._cameras[camera] = cam
            return cam

    def _detection_child(self, cam: _Camera, label: str) -> Counter:
        if self._labels is not None and label not in self._labels:
            value = OTHER_LABEL
        else:
            value = redact_text(label)
        child = self._detections.labels(cam.name, value)
        with self._lock:
            cam.detections[label] = child
        return child


_STATES = tuple(s.value for s in CaptureState)
_ERROR_CLASSES = tuple(k.value for k in ErrorKind)


_T = TypeVar("_T")


class _ReadAtScrape(Collector, Generic[_T]):
    """Families made from what ``_source()`` gives at scrape time; a source that raises is
    logged and read as empty (a scrape must not fail because one part did)."""

    what = ""  # for the log line

    def __init__(self, metrics: PipelineMetrics) -> None:
        self._m = metrics

    def _source(self) -> Callable[[], Iterable[_T]] | None:
        raise NotImplementedError

    def _families(self, items: Sequence[_T] = ()) -> Iterator[Metric]:
        raise NotImplementedError

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        items: list[_T] = []
        source = self._source()
        if source is not None:
            try:
                items = list(source())
            except Exception:
                log.exception("reading %s for /metrics failed", self.what)
        yield from self._families(items)


class _SnapshotCollector(_ReadAtScrape[CaptureSnapshot]):
    """Reads the capture snapshots (and the pipeline's own drop counts and fps) at scrape time."""

    what = "the capture snapshots"

    def _source(self) -> SnapshotSource | None:
        return self._m._snapshots

    def _families(self, snaps: Sequence[CaptureSnapshot] = ()) -> Iterator[Metric]:
        captured = CounterMetricFamily(
            "camera_app_frames_captured", "Frames read from the camera.", labels=["camera"]
        )
        dropped = CounterMetricFamily(
            "camera_app_frames_dropped",
            "Frames dropped before or after inference, by reason.",
            labels=["camera", "reason"],
        )
        reconnects = CounterMetricFamily(
            "camera_app_reconnects", "Connection attempts after the first.", labels=["camera"]
        )
        errors = CounterMetricFamily(
            "camera_app_stream_errors", "Stream errors by class.", labels=["camera", "class"]
        )
        state = GaugeMetricFamily(
            "camera_app_camera_state",
            "Capture state: 1 for the current state, 0 for the others.",
            labels=["camera", "state"],
        )
        up = GaugeMetricFamily(
            "camera_app_camera_up", "1 while the camera is streaming.", labels=["camera"]
        )
        fps = GaugeMetricFamily(
            "camera_app_fps",
            "Frames processed per second over a sliding window.",
            labels=["camera"],
        )
        blocked = GaugeMetricFamily(
            "camera_app_reader_threads_blocked",
            "Abandoned reader threads still blocked inside the source; at "
            f"{MAX_HUNG_READERS} the camera opens no new connection until one returns.",
            labels=["camera"],
        )
        m = self._m
        seen: set[str] = set()
        for snap in snaps:
            cam = redact_text(snap.camera)
            seen.add(cam)
            captured.add_metric([cam], snap.frames_captured)
            ours = m.pipeline_drops(cam)
            from_slot = {
                DropReason.REPLACED.value: snap.frames_replaced,
                DropReason.TOO_OLD.value: snap.frames_too_old,
            }
            for reason in DROP_REASONS:
                dropped.add_metric([cam, reason], from_slot.get(reason, 0) + ours[reason])
            reconnects.add_metric([cam], snap.reconnects)
            for kind in ErrorKind:
                errors.add_metric([cam, kind.value], snap.errors_by_kind.get(kind, 0))
            for value in _STATES:
                state.add_metric([cam, value], 1.0 if snap.state.value == value else 0.0)
            up.add_metric([cam], 1.0 if snap.state is CaptureState.STREAMING else 0.0)
            fps.add_metric([cam], m.fps(cam))
            blocked.add_metric([cam], snap.hung_readers)
        for cam in m.cameras():  # cameras the pipeline knows but no snapshot named
            if cam in seen:
                continue
            ours = m.pipeline_drops(cam)
            for reason in DROP_REASONS:
                dropped.add_metric([cam, reason], ours[reason])
            fps.add_metric([cam], m.fps(cam))
        yield from (captured, dropped, reconnects, errors, state, up, fps, blocked)


class _OutputCollector(_ReadAtScrape[OutputState]):
    """Whether each camera's outputs work, read at scrape time: a file output on a full disk
    is down until it writes again; one that raised was disabled by the dispatcher for good."""

    what = "the outputs' states"

    def _source(self) -> OutputSource | None:
        return self._m._outputs

    def _families(self, states: Sequence[OutputState] = ()) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "camera_app_output_up",
            "1 while the output works; 0 after a failure (a full disk: until it writes again).",
            labels=["camera", "output"],
        )
        failures = CounterMetricFamily(
            "camera_app_output_failures",
            "Times the output failed (a write refused, a file that could not be opened).",
            labels=["camera", "output"],
        )
        for st in states:
            labels = [redact_text(st.camera), st.output]
            up.add_metric(labels, 1.0 if st.up else 0.0)
            failures.add_metric(labels, st.failures)
        yield from (up, failures)
