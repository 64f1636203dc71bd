"""The composition root: builds the whole pipeline from a config, starts it, stops it.

``App(config)`` does everything that can fail because of the user (model, labels, class
names, sources, outputs, ports) before any thread starts, so a bad config never half-starts.
``start()`` is a readable list; ``stop()`` is the same list reversed, each join with a timeout.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from camera_app import __version__
from camera_app.config import AppConfig, CameraConfig, SourceKind
from camera_app.detect.anchors import AnchorConfig
from camera_app.detect.decode import Thresholds
from camera_app.detect.detector import Detector, DetectorOptions
from camera_app.detect.layout import Activation
from camera_app.detect.model import load_model
from camera_app.errors import ConfigError
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.order import ResultOrder
from camera_app.pipeline.types import OutputHealth, OutputState, Result, ResultSink
from camera_app.pipeline.worker import InferenceWorker
from camera_app.runtime import load_runtime
from camera_app.sources.backoff import BackoffPolicy
from camera_app.sources.base import SourceSpec
from camera_app.sources.capture import CaptureSnapshot, CaptureState, CaptureThread
from camera_app.sources.factory import open_source

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


def detector_options(cfg: AppConfig) -> DetectorOptions:
    """Config values -> the detector's own types (enums map one to one by value)."""
    m, d = cfg.model, cfg.detection
    anchors: Path | AnchorConfig | None
    if m.anchors is None:
        anchors = None
    elif isinstance(m.anchors, str):
        anchors = Path(m.anchors)
    else:
        a = m.anchors
        anchors = AnchorConfig(
            a.num_layers, a.min_scale, a.max_scale, tuple(a.aspect_ratios),
            a.interpolated_scale_aspect_ratio, a.reduce_boxes_in_lowest_layer,
            tuple(a.feature_map_sizes) if a.feature_map_sizes else None,
        )  # fmt: skip
    activation = (
        None if m.score_activation.value == "auto" else Activation(m.score_activation.value)
    )
    return DetectorOptions(
        threshold=d.threshold,
        iou_threshold=d.iou_threshold,
        max_detections=d.max_detections,
        classes=tuple(d.classes),
        colour_order=m.colour_order,
        resize=m.resize,
        mean=m.normalization.mean,
        std=m.normalization.std,
        score_activation=activation,
        background=m.background_class,
        anchors=anchors,
        labels=Path(m.labels) if m.labels else None,
        label_offset=m.label_offset,
        threads=m.threads,
        # The interpreter's threads idle while its worker prepares a frame: the resize may use
        # two of them (not with prepare_ahead, where invoke() runs meanwhile: see the worker).
        resize_threads=min(2, m.threads),
        runtime=None if m.runtime.value == "auto" else m.runtime.value,
    )


def source_spec(cam: CameraConfig) -> SourceSpec:
    return SourceSpec(
        source=cam.source, transport=cam.transport, width=cam.width,
        height=cam.height, fps=cam.fps, fourcc=cam.fourcc, realtime=cam.realtime, loop=cam.loop,
        open_timeout_s=cam.open_timeout_s, read_timeout_s=cam.read_timeout_s,
        max_frame_pixels=max(1, round(cam.max_frame_megapixels * 1e6)),
    )  # fmt: skip


class RateMeter:
    """Events per second over a sliding window (for status lines and STATUS=)."""

    def __init__(self, window_s: float = 10.0) -> None:
        self._times: collections.deque[float] = collections.deque()
        self._window_s = window_s
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self._window_s:
                self._times.popleft()

    def rate(self, now: float) -> float:
        with self._lock:
            while self._times and now - self._times[0] > self._window_s:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], 1e-9)
            return (len(self._times) - 1) / span if span > 0 else 0.0


@dataclass
class Hooks:
    """Optional observers (metrics, service manager). All default to no-ops."""

    on_result: list[Callable[[Result], None]] = field(default_factory=list)
    on_render: list[Callable[[str, float], None]] = field(default_factory=list)
    on_drop: list[Callable[[str, str], None]] = field(default_factory=list)
    # extra readiness (the MQTT broker) and per-camera status (objects in view): objects/wiring
    ready: list[Callable[[], Any]] = field(default_factory=list)
    camera_status: list[Callable[[str], dict[str, Any]]] = field(default_factory=list)


class Service(Protocol):
    def start(self) -> None: ...


def _stop(part: Any, timeout_s: float) -> bool:
    """Servers and supervisors have stop(timeout); threads end on the stop event and join."""
    if hasattr(part, "stop"):
        return bool(part.stop(timeout_s))
    return bool(part.join(timeout_s))


class App:
    def __init__(self, cfg: AppConfig, *, hooks: Hooks | None = None) -> None:
        if not cfg.cameras:
            raise ConfigError("no cameras configured; add one under 'cameras:' or use --source")
        self.cfg = cfg
        self.hooks = hooks or Hooks()
        self.stop_event = threading.Event()
        self.started_monotonic_s = time.monotonic()
        opts = detector_options(cfg)
        runtime = load_runtime(opts.runtime)
        # One interpreter per worker: interpreters are not thread-safe.
        self.detectors = [
            Detector(load_model(cfg.model.path, threads=opts.threads, runtime=runtime), opts)
            for _ in range(cfg.model.interpreters)
        ]
        first = self.detectors[0]
        self.thresholds: dict[str, Thresholds] = {}
        for cam in cfg.cameras:
            classes = cam.classes if cam.classes is not None else cfg.detection.classes
            self.thresholds[cam.name] = Thresholds(
                score=cam.threshold if cam.threshold is not None else cfg.detection.threshold,
                iou=cfg.detection.iou_threshold,
                max_detections=cfg.detection.max_detections,
                allowed_classes=first.labels.ids_for(tuple(classes)) if classes else None,
            )
        for cam in cfg.cameras:
            # A camera may come online later; a file or folder that is not there will not.
            if cam.source_kind is SourceKind.PATH and not Path(cam.source).expanduser().exists():
                raise ConfigError(
                    f"cameras.{cam.name}.source: {cam.source}: no such file or folder; "
                    "expected demo, a webcam, a stream URL, a video file or an image folder"
                )
        self.order = ResultOrder()
        self.board = FrameBoard([c.name for c in cfg.cameras], max_age_s=None, order=self.order)
        self.captures = [
            CaptureThread(
                cam.name, open_source(source_spec(cam)), self.stop_event,
                open_timeout_s=cam.open_timeout_s, read_timeout_s=cam.read_timeout_s,
                stall_timeout_s=cam.stall_timeout_s,
                backoff=BackoffPolicy(cam.backoff.initial_s, cam.backoff.max_s,
                                      cam.backoff.multiplier, cam.backoff.jitter),
                latest=self.board.slots[cam.name],
            )
            for cam in cfg.cameras
        ]  # fmt: skip
        self.rates = {c.name: RateMeter() for c in cfg.cameras}
        self.sinks: dict[str, list[ResultSink]] = {c.name: [] for c in cfg.cameras}
        self.dispatcher = Dispatcher(
            self.sinks, self.stop_event, on_result=self._on_result,
            on_render=self._on_render, on_drop=self._on_drop, order=self.order,
        )  # fmt: skip
        self.prepare_ahead = cfg.model.prepare_ahead
        self.workers = [
            InferenceWorker(i, det, self.board, self.dispatcher.publish, self.stop_event,
                            self.thresholds, prepare_ahead=self.prepare_ahead,
                            abandon=self.dispatcher.abandon)
            for i, det in enumerate(self.detectors)
        ]  # fmt: skip
        # Servers bind before the pipeline starts (a taken port stops everything cleanly);
        # supervisors (systemd) start last, once frames can flow, and stop first.
        self.servers: list[Service] = []
        self.supervisors: list[Service] = []
        self._started: list[Service] = []

    # -- observers --------------------------------------------------------------------------

    def _on_result(self, result: Result) -> None:
        self.rates[result.camera].tick(result.done_monotonic_s)
        for f in self.hooks.on_result:
            f(result)

    def _on_render(self, camera: str, seconds: float) -> None:
        for f in self.hooks.on_render:
            f(camera, seconds)

    def _on_drop(self, camera: str, reason: str) -> None:
        for f in self.hooks.on_drop:
            f(camera, reason)

    # -- what the outside reads -------------------------------------------------------------

    @property
    def frames_processed(self) -> int:
        return sum(w.frames for w in self.workers)

    @property
    def progress(self) -> int:
        """Inference loop turns: rises while workers are alive, cameras or not."""
        return sum(w.iterations for w in self.workers)

    def snapshots(self) -> list[CaptureSnapshot]:
        return [c.snapshot() for c in self.captures]

    def healthy(self) -> bool:
        return (
            all(w.is_alive() for w in self.workers)
            and self.dispatcher.is_alive()
            and all(
                c.is_alive() or c.snapshot().state is CaptureState.FAILED for c in self.captures
            )
        )

    def dead_threads(self) -> list[str]:
        dead = [f"inference-{w.index}" for w in self.workers if not w.is_alive()]
        if not self.dispatcher.is_alive():
            dead.append("outputs")
        dead += [f"capture-{c.camera}" for c in self.captures
                 if not c.is_alive() and c.snapshot().state is not CaptureState.FAILED]  # fmt: skip
        return dead

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        det = self.detectors[0]
        failing: dict[str, list[str]] = {c.name: [] for c in self.cfg.cameras}
        for out in self.output_states():
            if not out.up:
                failing[out.camera].append(out.output)
        cams = []
        for cam, snap in zip(self.cfg.cameras, self.snapshots(), strict=True):
            cams.append({
                "name": cam.name, "source": snap.description, "state": snap.state.value,
                "since_s": round(now - snap.state_since_monotonic_s, 1),
                "fps": round(self.rates[cam.name].rate(now), 2),
                "frames_captured": snap.frames_captured,
                "reconnects": snap.reconnects,
                "last_error": None if snap.last_error_kind is None else {
                    "class": snap.last_error_kind.value, "message": snap.last_error_message},
                "outputs_failing": failing[cam.name],
            })  # fmt: skip
            for extra in self.hooks.camera_status:
                cams[-1].update(extra(cam.name))
        return {
            "version": __version__,
            "uptime_s": round(now - self.started_monotonic_s, 1),
            "model": {
                "path": str(det.model.path), "name": det.model.name,
                "input": det.model.input.describe(),
                "runtime": f"{det.model.runtime.name} {det.model.runtime.version}",
                "interpreters": len(self.detectors), "threads": det.model.threads,
            },
            "cameras": cams,
            "frames_processed": self.frames_processed,
            "output_drops": self.dispatcher.dropped,
        }  # fmt: skip

    def output_states(self) -> list[OutputState]:
        """Each camera's outputs: working or not, failures so far (a shared events file is
        listed under each of its cameras). Read by the metrics and the status page."""
        states = []
        for camera, sinks in self.sinks.items():
            for sink in sinks:
                name = getattr(sink, "output_name", None)
                if name is None:
                    continue
                up, failures = sink.health() if isinstance(sink, OutputHealth) else (True, 0)
                if self.dispatcher.broken(sink):
                    up, failures = False, failures + 1
                states.append(OutputState(camera, name, up, failures))
        return states

    def status_line(self) -> str:
        now = time.monotonic()
        parts = [
            f"{c.camera}={c.state.value} {self.rates[c.camera].rate(now):.1f}fps"
            for c in self.snapshots()
        ]
        return f"{len(self.captures)} cameras: " + ", ".join(parts)

    # -- lifecycle --------------------------------------------------------------------------

    def _threads(self) -> list[Service]:
        return [*self.servers, self.dispatcher, *self.workers, *self.captures, *self.supervisors]

    def start(self) -> None:
        """Start servers, outputs, inference, capture, supervisors, in that order."""
        try:
            for part in self._threads():
                part.start()
                self._started.append(part)
        except BaseException:
            self.stop()
            raise
        log.info("pipeline started cameras=%d interpreters=%d threads=%d prepare_ahead=%s",
                 len(self.captures), len(self.workers), self.cfg.model.threads,
                 "yes" if self.prepare_ahead else "no")  # fmt: skip

    def stop(self) -> list[str]:
        """Stop what was started, in reverse order; returns the parts that did not end in time."""
        self.stop_event.set()
        hung: list[str] = []
        for part in reversed(self._started):
            if not _stop(part, JOIN_TIMEOUT_S):
                hung.append(getattr(part, "name", type(part).__name__))
        self._started.clear()
        if hung:
            log.error("still running after stop: %s", ", ".join(hung))
        else:
            log.info("pipeline stopped frames_processed=%d", self.frames_processed)
        return hung

    def run(
        self,
        *,
        duration_s: float | None = None,
        max_frames: int | None = None,
        status_every_s: float = 30.0,
    ) -> None:
        """Block until stopped (signal), the duration passed, or max_frames were processed."""
        start = time.monotonic()
        next_status = start + status_every_s
        while not self.stop_event.wait(0.1):
            now = time.monotonic()
            if duration_s is not None and now - start >= duration_s:
                log.info("duration reached seconds=%.1f", duration_s)
                break
            if max_frames is not None and self.frames_processed >= max_frames:
                log.info("max frames reached frames=%d", self.frames_processed)
                break
            if all(not c.is_alive() for c in self.captures):
                log.info("every source has ended")
                break
            if now >= next_status:
                log.info("status %s", self.status_line())
                next_status = now + status_every_s

    def worker_errors(self) -> list[BaseException]:
        return [w.error for w in self.workers if w.error is not None]
