"""Values that cross thread boundaries in the pipeline. Frozen: nobody mutates them after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from camera_app.detect.detections import Detections
from camera_app.sources.base import Frame


@dataclass(frozen=True)
class StageTimes:
    """Seconds spent in each stage for one frame (all from time.monotonic / perf_counter)."""

    frame_age_s: float  # capture -> invoke() began, less preprocessing: time spent waiting
    preprocess_s: float
    invoke_s: float
    postprocess_s: float


@dataclass(frozen=True)
class Result:
    """One processed frame: what was seen, and how long each step took."""

    frame: Frame
    detections: Detections
    times: StageTimes
    done_monotonic_s: float  # when postprocessing finished
    worker: int  # which interpreter ran it

    @property
    def camera(self) -> str:
        return self.frame.camera

    @property
    def latency_s(self) -> float:
        """End-to-end: from capture to results."""
        return self.done_monotonic_s - self.frame.capture_monotonic_s


class ResultSink(Protocol):
    """An output: events, live view, recording, window. Called from the dispatcher thread only.

    ``handle`` must not block for long: it runs between inference results. ``close`` flushes
    and releases files; it is called once, at shutdown. ``health()`` is read from the
    telemetry's readers: (working now, failures so far), e.g. a file on a full disk.
    """

    output_name: str  # events, record, stream, window

    def handle(self, result: Result) -> None: ...

    def close(self) -> None: ...

    def health(self) -> tuple[bool, int]: ...


@runtime_checkable
class TickingSink(Protocol):
    """A sink that also acts on time passing without results (the objects sink ends the
    tracks of a camera that went down). ``tick`` runs on the dispatcher thread, between
    results, about every ``TICK_S`` (pipeline/dispatch.py); ``now_s`` is ``time.monotonic()``."""

    def tick(self, now_s: float) -> None: ...


@dataclass(frozen=True)
class OutputState:
    camera: str
    output: str  # events, record, stream, window
    up: bool
    failures: int
