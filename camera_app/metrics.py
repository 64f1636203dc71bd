"""Prometheus metrics: per-stage latency, drops by reason, stream health, fps, model and build info.

``PipelineMetrics`` owns one ``CollectorRegistry`` (never the global one). Histograms and
counters are pushed by the pipeline (``observe_result``, ``observe_render``, ``count_dropped``);
capture counters, states, outputs and fps are read at scrape time from the sources it is given
(the telemetry's), so /metrics says what the status page says. Every label value is redacted
once, when first bound; labelled children are cached, so observing a result is a dict look-up
and a few observations. Families and label sets: docs/ARCHITECTURE.md (metrics).
"""

from __future__ import annotations

import logging
import platform
import threading
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
FpsSource = Callable[[str], float]  # a camera's (unredacted) name -> results per second


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
        outputs: OutputSource | None = None,
        fps: FpsSource | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._labels = None if labels is None else frozenset(labels)
        self._snapshots = snapshots
        self._outputs = outputs
        self._fps = fps
        self._lock = threading.Lock()  # guards the dicts below
        self._cameras: dict[str, _Camera] = {}
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

    # -- read at scrape time ---------------------------------------------------------------

    def fps(self, camera: str) -> float:
        """The fps source's value for ``camera`` (unredacted name); 0 without a source."""
        return 0.0 if self._fps is None else self._fps(camera)

    def cameras(self) -> dict[str, str]:
        """The cameras bound so far: name -> redacted name."""
        with self._lock:
            return {raw: cam.name for raw, cam in self._cameras.items()}

    def pipeline_drops(self, camera: str) -> dict[str, int]:
        with self._lock:
            return dict(self._drops.get(camera) or dict.fromkeys(DROP_REASONS, 0))

    # -- binding ---------------------------------------------------------------------------

    def _camera(self, camera: str) -> _Camera:
        with self._lock:
            cam = self._cameras.get(camera)
            if cam is None:
                cam = _Camera(self, redact_text(camera))
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


_Family = CounterMetricFamily | GaugeMetricFamily
_SNAPSHOT: tuple[tuple[str, type[_Family], str, str, list[str]], ...] = (
    ("captured", CounterMetricFamily, "camera_app_frames_captured",
     "Frames read from the camera.", ["camera"]),
    ("dropped", CounterMetricFamily, "camera_app_frames_dropped",
     "Frames dropped before or after inference, by reason.", ["camera", "reason"]),
    ("reconnects", CounterMetricFamily, "camera_app_reconnects",
     "Connection attempts after the first.", ["camera"]),
    ("errors", CounterMetricFamily, "camera_app_stream_errors",
     "Stream errors by class.", ["camera", "class"]),
    ("state", GaugeMetricFamily, "camera_app_camera_state",
     "Capture state: 1 for the current state, 0 for the others.", ["camera", "state"]),
    ("up", GaugeMetricFamily, "camera_app_camera_up",
     "1 while the camera is streaming.", ["camera"]),
    ("fps", GaugeMetricFamily, "camera_app_fps",
     "Frames processed per second over a sliding window.", ["camera"]),
    ("blocked", GaugeMetricFamily, "camera_app_reader_threads_blocked",
     "Abandoned reader threads still blocked inside the source; at "
     f"{MAX_HUNG_READERS} the camera opens no new connection until one returns.", ["camera"]),
)  # fmt: skip


class _SnapshotCollector(_ReadAtScrape[CaptureSnapshot]):
    """Reads the capture snapshots (and the pipeline's own drop counts and fps) at scrape time."""

    what = "the capture snapshots"

    def _source(self) -> SnapshotSource | None:
        return self._m._snapshots

    def _families(self, snaps: Sequence[CaptureSnapshot] = ()) -> Iterator[Metric]:
        f: dict[str, _Family] = {
            k: kind(name, doc, labels=labels) for k, kind, name, doc, labels in _SNAPSHOT
        }
        captured, dropped, reconnects, errors = (
            f["captured"],
            f["dropped"],
            f["reconnects"],
            f["errors"],
        )
        state, up, fps, blocked = f["state"], f["up"], f["fps"], f["blocked"]
        m = self._m
        seen: set[str] = set()
        for snap in snaps:
            cam = redact_text(snap.camera)
            seen.add(cam)
            captured.add_metric([cam], snap.frames_captured)
            ours = m.pipeline_drops(cam)
            from_slot = {r.value: n for r, n in snap.drops.items()} or {
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
            fps.add_metric([cam], m.fps(snap.camera))
            blocked.add_metric([cam], snap.hung_readers)
        for raw, cam in m.cameras().items():  # cameras the pipeline knows but no snapshot named
            if cam in seen:
                continue
            ours = m.pipeline_drops(cam)
            for reason in DROP_REASONS:
                dropped.add_metric([cam, reason], ours[reason])
            fps.add_metric([cam], m.fps(raw))
        yield from f.values()


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
