"""Inference workers: each owns one interpreter (a Detector) and keeps it busy.

One thread per worker takes the board's next frame, preprocesses it, runs ``invoke()``,
postprocesses and publishes the result, in turn. Interpreters are not thread-safe, so each
worker has its own; several workers share the board and the result order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from camera_app.detect.decode import Thresholds
from camera_app.detect.detections import Detections
from camera_app.detect.detector import Detector
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.types import Result, StageTimes
from camera_app.threads import ManagedThread

log = logging.getLogger(__name__)


class InferenceWorker(ManagedThread):
    """Frames from the board, through one interpreter, to ``publish``.

    ``iterations`` counts loop turns, frames or not: the service watchdog uses it to tell a
    hung interpreter (no turns) from a camera that is merely offline (turns, no frames).
    A failure inside is a bug or a broken runtime: it is kept in ``error`` and stops the
    pipeline (the service manager restarts us).
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
    ) -> None:
        super().__init__(f"inference-{index}")
        self.index = index
        self.detector = detector
        self._board = board
        self._publish = publish
        self._stop = stop
        self._thresholds = thresholds
        self._poll_s = poll_s
        self.iterations = 0
        self.frames = 0
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.iterations += 1
                self._step()
        except Exception as exc:
            self.error = exc
            log.exception("inference worker %d failed; stopping the pipeline", self.index)
            self._stop.set()

    def _step(self) -> None:
        frame = self._board.take(self._poll_s)
        if frame is None:
            return
        detections, (t0, t1, t2, t3) = detect_frame(
            self.detector, frame.image_bgr, self._thresholds.get(frame.camera)
        )
        self.frames += 1
        times = StageTimes(t0 - frame.capture_monotonic_s, t1 - t0, t2 - t1, t3 - t2)
        self._publish(Result(frame, detections, times, t3, self.index))


def detect_frame(
    detector: Detector, image_bgr: npt.NDArray[np.uint8], thresholds: Thresholds | None
) -> tuple[Detections, tuple[float, float, float, float]]:
    """One frame through the detector's stages as a worker runs them: its detections, and
    ``time.monotonic()`` before preprocessing, before ``invoke()``, after it, and after
    postprocessing. The benchmarks' serial loop calls it too, so both run the same stages."""
    t0 = time.monotonic()
    placement = detector.prepare(image_bgr)
    t1 = time.monotonic()
    with detector.invoke_in_place() as outputs:
        t2 = time.monotonic()
        detections = detector.postprocess(outputs, placement, thresholds)
    t3 = time.monotonic()
    return detections, (t0, t1, t2, t3)
