"""What the running service says about itself, computed once: fps, liveness, readiness, outputs.

The status page, ``/api/status``, ``/metrics``, ``/healthz``, ``/readyz`` and systemd's
``STATUS=`` and watchdog all read this one object, so they never disagree. Results, render
times and drops are pushed here by the dispatcher; ``hooks`` pass them on (to the metrics).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from camera_app import __version__
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.types import OutputState, Result, ResultSink
from camera_app.pipeline.worker import InferenceWorker
from camera_app.redact import redact_text
from camera_app.sources.capture import CaptureSnapshot, CaptureState, CaptureThread


class RateMeter:
    """Events per second over a sliding window: (n - 1) intervals over the time from the
    oldest kept event to the newest, so it is right from a stream's second event, and holds
    still between events (every reader between two results reads the same number). Events
    older than the window are dropped; with fewer than two left, the rate is 0."""

    def __init__(self, window_s: float = 10.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s: expected a positive number, got {window_s!r}")
        self._times: collections.deque[float] = collections.deque()
        self._window_s = window_s
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def rate(self, now: float) -> float:
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window_s:
            self._times.popleft()


@dataclass(frozen=True)
class ThreadStatus:
    name: str  # e.g. "capture-front", "inference-0", "outputs"
    alive: bool


@dataclass(frozen=True)
class Health:
    """The threads the process needs, and whether each lives."""

    threads: tuple[ThreadStatus, ...]

    @property
    def ok(self) -> bool:
        return all(t.alive for t in self.threads)

    @property
    def dead(self) -> list[str]:
        return [t.name for t in self.threads if not t.alive]

    @classmethod
    def from_alive(cls, alive: Mapping[str, bool]) -> Health:
        return cls(tuple(ThreadStatus(name, bool(ok)) for name, ok in alive.items()))


@dataclass(frozen=True)
class CameraReadiness:
    camera: str
    state: str  # a CaptureState value
    streaming: bool
    reason: str | None = None  # why it is not streaming (credential-free), None when it is


@dataclass(frozen=True)
class ServiceReadiness:
    """A service the outputs need (the MQTT broker): up or not, and why (credential-free)."""

    name: str
    up: bool
    reason: str | None = None


@dataclass(frozen=True)
class Readiness:
    """Ready when the model is loaded, there is a camera, each one is streaming, and each
    service the outputs need is reachable."""

    model_loaded: bool
    cameras: tuple[CameraReadiness, ...]
    services: tuple[ServiceReadiness, ...] = ()

    @property
    def ready(self) -> bool:
        cameras = bool(self.cameras) and all(c.streaming for c in self.cameras)
        return self.model_loaded and cameras and all(s.up for s in self.services)

    @classmethod
    def from_snapshots(
        cls,
        model_loaded: bool,
        snapshots: Sequence[CaptureSnapshot],
        services: Sequence[ServiceReadiness] = (),
    ) -> Readiness:
        cameras = []
        for snap in snapshots:
            streaming = snap.state is CaptureState.STREAMING
            reason = None
            if not streaming:
                reason = snap.state.value
                if snap.last_error_kind is not None:
                    reason = f"{snap.last_error_kind.value}: {snap.last_error_message or ''}"
                if not snap.alive:
                    reason = f"capture thread not running ({reason})"
            cameras.append(CameraReadiness(snap.camera, snap.state.value, streaming, reason))
        return cls(model_loaded, tuple(cameras), tuple(services))

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "model_loaded": self.model_loaded,
            "cameras": [
                {
                    "camera": redact_text(c.camera),
                    "state": c.state,
                    "streaming": c.streaming,
                    "reason": None if c.reason is None else redact_text(c.reason),
                }
                for c in self.cameras
            ],
            "services": [
                {
                    "name": s.name,
                    "up": s.up,
                    "reason": None if s.reason is None else redact_text(s.reason),
                }
                for s in self.services
            ],
        }


@dataclass
class Hooks:
    """Who else hears of each result, render time and drop (the metrics)."""

    on_result: list[Callable[[Result], None]] = field(default_factory=list)
    on_render: list[Callable[[str, float], None]] = field(default_factory=list)
    on_drop: list[Callable[[str, str], None]] = field(default_factory=list)
    # services the outputs need (the MQTT broker), and more of each camera's status (objects)
    ready: list[Callable[[], ServiceReadiness]] = field(default_factory=list)
    camera_status: list[Callable[[str], dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Parts:
    """The pipeline's parts telemetry reads; given once the App has built them."""

    workers: Sequence[InferenceWorker]
    dispatcher: Dispatcher
    captures: Sequence[CaptureThread]
    sinks: Mapping[str, Sequence[ResultSink]]


class Telemetry:
    """One source of truth for every surface that reports on the service."""

    def __init__(
        self,
        cameras: Sequence[str],
        model: Mapping[str, Any],
        *,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hooks = Hooks()
        self._cameras = list(cameras)
        self._model = dict(model)
        self._clock = clock
        self._started_s = clock()
        self._rates = {c: RateMeter(window_s) for c in self._cameras}
        self._parts: Parts | None = None

    def attach(self, parts: Parts) -> None:
        self._parts = parts

    # -- pushed by the dispatcher (on the workers' and its own thread) ----------------------

    def observe_result(self, result: Result) -> None:
        meter = self._rates.get(result.camera)
        if meter is not None:
            meter.tick(result.done_monotonic_s)
        for f in self.hooks.on_result:
            f(result)

    def observe_render(self, camera: str, seconds: float) -> None:
        for f in self.hooks.on_render:
            f(camera, seconds)

    def count_dropped(self, camera: str, reason: str) -> None:
        for f in self.hooks.on_drop:
            f(camera, reason)

    # -- read by every surface --------------------------------------------------------------

    def fps(self, camera: str) -> float:
        """Results per second of ``camera`` now (0 for an unknown camera)."""
        meter = self._rates.get(camera)
        return 0.0 if meter is None else meter.rate(self._clock())

    @property
    def frames_processed(self) -> int:
        return 0 if self._parts is None else sum(w.frames for w in self._parts.workers)

    def progress(self) -> int:
        """Inference loop turns: rises while workers are alive, cameras or not."""
        return 0 if self._parts is None else sum(w.iterations for w in self._parts.workers)

    def snapshots(self) -> list[CaptureSnapshot]:
        return [] if self._parts is None else [c.snapshot() for c in self._parts.captures]

    def health(self) -> Health:
        """Every pipeline thread that should run; a capture whose input ended (FAILED) is
        not missed."""
        if self._parts is None:
            return Health(())
        p = self._parts
        alive = {w.name: w.alive() for w in p.workers}
        alive[p.dispatcher.name] = p.dispatcher.alive()
        for c in p.captures:
            alive[c.name] = c.alive() or c.snapshot().state is CaptureState.FAILED
        return Health.from_alive(alive)

    def readiness(self) -> Readiness:
        services = [f() for f in self.hooks.ready]
        return Readiness.from_snapshots(self._parts is not None, self.snapshots(), services)

    def output_states(self) -> list[OutputState]:
        """Each camera's outputs: working or not, failures so far (a shared events file is
        listed under each of its cameras)."""
        if self._parts is None:
            return []
        states = []
        for camera, sinks in self._parts.sinks.items():
            for sink in sinks:
                up, failures = sink.health()
                if self._parts.dispatcher.broken(sink):
                    up, failures = False, failures + 1
                states.append(OutputState(camera, sink.output_name, up, failures))
        return states

    def status(self) -> dict[str, Any]:
        """The status page's and ``/api/status``'s document."""
        now = self._clock()
        failing: dict[str, list[str]] = {c: [] for c in self._cameras}
        for out in self.output_states():
            if not out.up:
                failing.setdefault(out.camera, []).append(out.output)
        cams = [self._camera_status(snap, now, failing) for snap in self.snapshots()]
        drops = 0 if self._parts is None else self._parts.dispatcher.dropped
        return {
            "version": __version__,
            "uptime_s": round(now - self._started_s, 1),
            "model": self._model,
            "cameras": cams,
            "frames_processed": self.frames_processed,
            "output_drops": drops,
        }

    def _camera_status(
        self, snap: CaptureSnapshot, now: float, failing: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        error = None
        if snap.last_error_kind is not None:
            error = {"class": snap.last_error_kind.value, "message": snap.last_error_message}
        retry_in_s = None
        if snap.backoff_s is not None:
            retry_in_s = round(max(0.0, snap.state_since_monotonic_s + snap.backoff_s - now), 1)
        row: dict[str, Any] = {
            "name": snap.camera,
            "source": snap.description,
            "state": snap.state.value,
            "since_s": round(now - snap.state_since_monotonic_s, 1),
            "fps": round(self.fps(snap.camera), 2),
            "frames_captured": snap.frames_captured,
            "reconnects": snap.reconnects,
            "retry_in_s": retry_in_s,
            "last_error": error,
            "outputs_failing": failing.get(snap.camera, []),
        }
        for extra in self.hooks.camera_status:
            row.update(extra(snap.camera))
        return row

    def status_line(self) -> str:
        """One line for the log and systemd's ``STATUS=``."""
        parts = [
            f"{s.camera}={s.state.value} {self.fps(s.camera):.1f}fps" for s in self.snapshots()
        ]
        n = len(self._cameras)
        return f"{n} camera{'' if n == 1 else 's'}: " + ", ".join(parts)
