"""The composition root: builds the pipeline from a config, and the supervisor that runs it.

``App(cfg, services=...)`` does everything that can fail because of the user (model, labels,
class names, sources, outputs, ports) before any thread starts, so a bad config never
half-starts. The supervisor's list reads in start order: servers, outputs, inference, capture,
then the service manager's notifier; ``stop()`` is the same list reversed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from camera_app import preflight
from camera_app.config import AppConfig, CameraConfig
from camera_app.detect.decode import Thresholds
from camera_app.detect.detector import Detector, load_detectors
from camera_app.detect.model import LoadedModel
from camera_app.options import detector_options
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.gating import camera_gates, gate_status_of
from camera_app.pipeline.order import ResultOrder
from camera_app.pipeline.types import ResultSink
from camera_app.pipeline.worker import InferenceWorker
from camera_app.sources.backoff import BackoffPolicy
from camera_app.sources.base import FrameSource, SourceSpec
from camera_app.sources.capture import CaptureThread
from camera_app.sources.factory import open_source
from camera_app.supervisor import Component, Supervisor
from camera_app.telemetry import Parts, Telemetry

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


def source_spec(cam: CameraConfig) -> SourceSpec:
    return SourceSpec(
        source=cam.source,
        transport=cam.transport,
        width=cam.width,
        height=cam.height,
        fps=cam.fps,
        fourcc=cam.fourcc,
        realtime=cam.realtime,
        loop=cam.loop,
        open_timeout_s=cam.open_timeout_s,
        read_timeout_s=cam.read_timeout_s,
        max_frame_pixels=max(1, round(cam.max_frame_megapixels * 1e6)),
    )


def model_status(model: LoadedModel, interpreters: int) -> dict[str, object]:
    """The status page's description of the loaded model."""
    return {
        "path": str(model.path),
        "name": model.name,
        "input": model.input.describe(),
        "runtime": f"{model.runtime.name} {model.runtime.version}",
        "interpreters": interpreters,
        "threads": model.threads,
    }


@dataclass(frozen=True)
class Context:
    """What the services may read of the pipeline being built (no threads run yet)."""

    cfg: AppConfig
    telemetry: Telemetry
    detector: Detector  # the first interpreter's: model, labels
    interpreters: int
    stop_event: threading.Event
    thresholds: Mapping[str, Thresholds]  # each camera's
    board: FrameBoard  # each camera's slot and gate


@dataclass
class Services:
    """What the services add: sinks per camera, components around the pipeline."""

    sinks: dict[str, list[ResultSink]] = field(default_factory=dict)
    before: list[Component] = field(default_factory=list)  # servers: start first, stop last
    after: list[Component] = field(default_factory=list)  # the service manager: start last


def _capture(
    cam: CameraConfig, source: FrameSource, board: FrameBoard, stop: threading.Event
) -> CaptureThread:
    b = cam.backoff
    return CaptureThread(
        cam.name,
        source,
        stop,
        open_timeout_s=cam.open_timeout_s,
        read_timeout_s=cam.read_timeout_s,
        stall_timeout_s=cam.stall_timeout_s,
        backoff=BackoffPolicy(b.initial_s, b.max_s, b.multiplier, b.jitter, b.stable_s),
        latest=board.slots[cam.name],
    )


class App:
    def __init__(
        self,
        cfg: AppConfig,
        *,
        services: Callable[[Context], Services] | None = None,
        source_for: Callable[[CameraConfig], FrameSource] | None = None,
    ) -> None:
        preflight.check(cfg)  # before the model loads and anything is created or bound
        self.cfg = cfg
        self.stop_event = threading.Event()
        opts = detector_options(cfg)
        self.detectors = load_detectors(cfg.model.path, opts, cfg.model.interpreters)
        first = self.detectors[0]
        thresholds = preflight.thresholds(first, cfg)
        preflight.home_assistant_labels(first, cfg)
        names = [c.name for c in cfg.cameras]
        self.telemetry = Telemetry(names, model_status(first.model, len(self.detectors)))
        self.order = ResultOrder()
        policies, motion = camera_gates(cfg)
        self.board = FrameBoard(names, max_age_s=None, order=self.order,
                                policies=policies, motion=motion)  # fmt: skip
        opener = source_for or (lambda cam: open_source(source_spec(cam)))
        self.captures = [_capture(c, opener(c), self.board, self.stop_event) for c in cfg.cameras]
        for cap in self.captures:  # a lossless file goes on past frames the gate leaves out
            self.board.slots[cap.camera].lossless = cap.lossless
        self.telemetry.hooks.camera_status.append(gate_status_of(self.board))
        ctx = Context(cfg, self.telemetry, first, len(self.detectors), self.stop_event, thresholds,
                      self.board)  # fmt: skip
        extra = services(ctx) if services is not None else Services()
        self.sinks: Mapping[str, Sequence[ResultSink]] = {
            n: tuple(extra.sinks.get(n, ())) for n in names
        }
        t = self.telemetry
        self.dispatcher = Dispatcher(
            self.sinks,
            self.stop_event,
            on_result=t.observe_result,
            on_render=t.observe_render,
            on_drop=t.count_dropped,
            order=self.order,
        )
        self.workers = [
            InferenceWorker(
                i, det, self.board, self.dispatcher.publish, self.stop_event, thresholds
            )
            for i, det in enumerate(self.detectors)
        ]
        t.attach(Parts(self.workers, self.dispatcher, self.captures, self.sinks))
        self.supervisor = Supervisor(
            [*extra.before, self.dispatcher, *self.workers, *self.captures, *extra.after],
            self.stop_event,
        )

    def start(self) -> None:
        """Start every component in order; if one fails, those started are stopped."""
        self.supervisor.start()
        log.info(
            "pipeline started cameras=%d interpreters=%d threads=%d",
            len(self.captures),
            len(self.workers),
            self.cfg.model.threads,
        )

    def stop(self) -> list[str]:
        """Set the stop event, stop in reverse order; returns the parts that did not end."""
        hung = self.supervisor.stop(STOP_TIMEOUT_S)
        if not hung:
            log.info("pipeline stopped frames_processed=%d", self.telemetry.frames_processed)
        return hung

    def run(
        self,
        *,
        duration_s: float | None = None,
        max_frames: int | None = None,
        status_every_s: float = 300.0,
    ) -> None:
        """Block until stopped (signal), the duration passed, or max_frames were processed;
        a status line every ``status_every_s`` (what changes between them, a camera down or
        back, has lines of its own; systemd's ``STATUS=`` follows every few seconds)."""
        start = time.monotonic()
        next_status = start + status_every_s
        while not self.stop_event.wait(0.1):
            now = time.monotonic()
            if duration_s is not None and now - start >= duration_s:
                log.info("duration reached seconds=%.1f", duration_s)
                break
            frames = self.telemetry.frames_processed
            if max_frames is not None and frames >= max_frames:
                log.info("max frames reached frames=%d", frames)
                break
            if all(not c.alive() for c in self.captures):
                log.info("every source has ended")
                break
            if now >= next_status:
                log.info("status %s", self.telemetry.status_line())
                next_status = now + status_every_s

    def worker_errors(self) -> list[BaseException]:
        return [w.error for w in self.workers if w.error is not None]
