"""Inference workers: each owns one interpreter (a Detector) and keeps it busy.

With ``prepare_ahead`` (``model.prepare_ahead``), a worker is two threads around one interpreter:

- ``inference-N`` runs ``invoke()`` on the prepared input, postprocesses the outputs, publishes
  the result and takes the next prepared input at once, so the interpreter idles only for the
  postprocessing and the handover, not for preprocessing;
- ``prepare-N`` takes the newest frame from the board and preprocesses it *just in time*: it
  starts when the running ``invoke()`` may end (the lower quartile of recent ``invoke()``
  durations, less the recent preprocessing time and a margin). Started earlier, the frame would
  wait and age; later, the interpreter would wait. ``invoke()`` times are skewed (a long tail),
  so the mean would start too late for most frames. When nothing is running it starts at once.

At most one prepared input waits at a time. When the running ``invoke()`` overruns by half
its usual time and the camera has sent a newer frame meanwhile, the waiting input is prepared
again from the newer frame and the old frame is handed back (``abandon``: counted as replaced),
so a slow ``invoke()`` does not make the next result stale too. At stop, a prepared input is
still run and published, so no frame that left the board is lost.

By default a worker is one thread that takes, preprocesses, invokes and postprocesses in turn.
Measured on a 2-core box (``docs/PERFORMANCE.md``, both modes side by side), preparing ahead
took the interpreter's idle time per frame from about 1.0 to 0.2 ms; where the interpreters'
threads already filled both cores, ``invoke()`` got slower by about as much (no gain); with a
core to spare it raised throughput in two of four runs. Either way it added 1-5 ms to the
median end-to-end latency (a frame is taken a little before it is needed). It is meant for
boxes with cores to spare that value frames per second over the last milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from camera_app.detect.decode import Thresholds
from camera_app.detect.detector import Detector
from camera_app.detect.resize import release_helper
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.types import Result, StageTimes
from camera_app.sources.base import Frame

log = logging.getLogger(__name__)

MARGIN_S = 0.001  # start preparing this much before the estimate says it is needed
_EMA = 0.2  # weight of the newest preprocessing time in its running estimate
_RECENT = 16  # invoke() durations kept for the estimate
# A prepared frame that waited this fraction of an invoke() past its expected start (the
# running invoke() overran) is replaced by its camera's newer frame, if one has come.
REFRESH_AFTER = 0.5


@dataclass(frozen=True)
class _Job:
    frame: Frame
    model_input: Any
    placement: Any
    preprocess_s: float
    ready_monotonic_s: float  # when preprocessing finished


class InferenceWorker:
    """Frames from the board, through one interpreter, to ``publish``: one thread, or two with
    ``prepare_ahead``.

    ``iterations`` counts the inference thread's loop turns, frames or not: the service watchdog
    uses it to tell a hung interpreter (no turns) from a camera that is merely offline (turns,
    no frames).
    """

    def __init__(
        self,
        index: int,
        detector: Detector,
        board: FrameBoard,
        publish: Callable[[Result], None],
        stop: threading.Event,
        thresholds: Mapping[str, Thresholds],
        poll_s: float = 0.1,
        *,
        prepare_ahead: bool = False,
        abandon: Callable[[Frame], None] | None = None,
    ) -> None:
        self.index = index
        self.name = f"inference-{index}"
        self.detector = detector
        self._board = board
        self._publish = publish
        self._stop = stop
        self._thresholds = thresholds
        self._poll_s = poll_s
        self.prepare_ahead = prepare_ahead
        self._abandon = abandon  # hands back a taken frame that will not be run (replaced)
        self.refreshed = 0  # prepared frames replaced by a newer one during a long invoke()
        self.iterations = 0
        self.frames = 0
        self.error: BaseException | None = None
        # Shared by the two threads, under _cond.
        self._cond = threading.Condition()
        self._ready: _Job | None = None
        self._preparing = False
        self._invoke_started: float | None = None
        self._invoke_est_s = 0.0
        self._recent_invokes: deque[float] = deque(maxlen=_RECENT)
        self._preprocess_est_s = 0.0
        self._threads = [
            threading.Thread(target=self._guarded, args=(self._infer_loop,), name=self.name,
                             daemon=True),
        ]  # fmt: skip
        if prepare_ahead:
            self._threads.append(threading.Thread(
                target=self._guarded, args=(self._prepare_loop,), name=f"prepare-{index}",
                daemon=True,
            ))  # fmt: skip

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def is_alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for both threads; True if they ended, False (and a warning)."""
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("thread %s still alive after %.1f s", ", ".join(alive), timeout_s)
        return not alive

    def _guarded(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except Exception as exc:
            # A failure here is a bug or a broken runtime, not a camera problem: record it,
            # stop the pipeline, and let the service manager restart us.
            self.error = exc
            log.exception("inference worker %d failed; stopping the pipeline", self.index)
            self._stop.set()
            with self._cond:
                self._preparing = False
                self._cond.notify_all()
        finally:
            release_helper()  # this thread's resize helper, if it made one

    # -- inference thread ---------------------------------------------------------------------

    def _next_job(self) -> _Job | None:
        """The prepared input, waiting up to one poll; None if there is none (yet)."""
        with self._cond:
            if self._ready is None:
                self._cond.wait(self._poll_s)
            job, self._ready = self._ready, None
            if job is not None:
                self._invoke_started = time.monotonic()
                self._cond.notify_all()  # the preparer may schedule the next frame
            return job

    def _done_with_everything(self) -> bool:
        with self._cond:
            return self._stop.is_set() and self._ready is None and not self._preparing

    def _infer_loop(self) -> None:
        while not self._done_with_everything():
            self.iterations += 1
            job = self._next_job() if self.prepare_ahead else self._prepare()
            if job is None:
                continue
            frame = job.frame
            th = self._thresholds.get(frame.camera)
            t1 = time.monotonic()
            with self.detector.infer_in_place(job.model_input) as outputs:
                t2 = time.monotonic()
                if self.prepare_ahead:  # the preparer's schedule; nobody else reads it
                    with self._cond:
                        self._invoke_started = None
                        recent = self._recent_invokes
                        recent.append(t2 - t1)
                        self._invoke_est_s = sorted(recent)[len(recent) // 4]
                        self._cond.notify_all()
                detections = self.detector.postprocess(outputs, job.placement, th)
            t3 = time.monotonic()
            self.frames += 1
            waited_s = t1 - frame.capture_monotonic_s - job.preprocess_s
            times = StageTimes(waited_s, job.preprocess_s, t2 - t1, t3 - t2)
            self._publish(Result(frame, detections, times, t3, self.index))

    # -- preparing thread ---------------------------------------------------------------------

    def _stale(self, job: _Job, now: float) -> bool:
        """The prepared job has waited through a long overrun and its camera has a newer frame."""
        waited_s = now - job.ready_monotonic_s
        return (
            self._invoke_started is not None
            and waited_s >= REFRESH_AFTER * self._invoke_est_s
            and self._board.has_frame(job.frame.camera)
        )

    def _wait_for_work(self) -> _Job | bool:
        """Wait until there is something to prepare. True: prepare the next frame; a job:
        replace that stale prepared job; False: stop came first."""
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                ready = self._ready
                if ready is None:
                    started = self._invoke_started
                    lead_s = self._preprocess_est_s + MARGIN_S
                    due = now if started is None else started + self._invoke_est_s - lead_s
                    if due <= now:
                        self._preparing = True
                        return True
                    self._cond.wait(min(due - now, self._poll_s))
                elif self._abandon is not None and self._stale(ready, now):
                    self._preparing = True
                    return ready
                else:
                    check_s = max(REFRESH_AFTER * self._invoke_est_s, MARGIN_S)
                    self._cond.wait(min(check_s, self._poll_s))
            return False

    def _prepare(self, frame: Frame | None = None) -> _Job | None:
        """Take the board's next frame and preprocess it; None if no frame came in one poll."""
        if frame is None:
            frame = self._board.take(self._poll_s)
        if frame is None:
            return None
        t0 = time.monotonic()
        # Ahead of time, invoke() runs meanwhile on the cores a second resize thread would use.
        model_input, placement = self.detector.preprocess(
            frame.image_bgr, resize_threads=1 if self.prepare_ahead else None
        )
        t1 = time.monotonic()
        return _Job(frame, model_input, placement, t1 - t0, t1)

    def _prepare_loop(self) -> None:
        while True:
            work = self._wait_for_work()
            if work is False:
                return
            stale = work if isinstance(work, _Job) else None
            job: _Job | None = None
            replaced: _Job | None = None
            try:
                if stale is None:
                    job = self._prepare()
                else:
                    newer = self._board.take_newest(stale.frame.camera)
                    job = self._prepare(newer) if newer is not None else None
            finally:
                with self._cond:
                    if job is not None:
                        if stale is not None and self._ready is stale:
                            replaced = stale
                        # else the stale job was taken meanwhile: this one is simply next
                        self._ready = job
                        self._preprocess_est_s += _EMA * (job.preprocess_s - self._preprocess_est_s)
                    self._preparing = False
                    self._cond.notify_all()
            if replaced is not None and self._abandon is not None:
                self.refreshed += 1
                self._abandon(replaced.frame)
