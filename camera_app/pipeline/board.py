"""The frame board: the newest frame of every camera, taken by inference workers in turn.

Each camera's capture thread writes into its own one-frame slot (the newest frame wins; a
frame replaced before anyone took it is counted). Workers ``take()`` the frame of the camera
that ran longest ago among those whose frame may run now (round-robin when all are ready), so
a fast camera cannot starve a slow one, nor a camera whose frame came a moment late lose its
turn, and wait on one shared condition until a camera's frame may run: a put wakes one only if
its frame may run now or comes due before the waiting workers would look again (a still
camera's frames wake nobody), and a rate or keep-alive coming due ends the wait by its
timeout. A ``ResultOrder``, when given, learns of every take under the same lock, so the
results of one camera can be put back in capture order.

Each camera has a ``CameraGate`` (``camera_app.pipeline.gate``): its ``detect_fps`` and, with
motion gating, whether it is active. A camera's motion check (``moving``) runs in ``put``, on
its capture thread, before the frame is kept, so it never waits for inference and the first
frame with motion can be taken at once. A frame that came while its camera could not run, and
was replaced before it could, is counted with the gate's reason (``rate_limit``,
``no_motion``), not as ``replaced``; a lossless
source's frame that may not run is dropped at once (with that reason), so the file goes on.
When a camera's run comes due between two frames (its rate's cadence, its keep-alive), the
waiting frame runs only if it is younger than half the camera's frame interval; else the next
frame does, which comes sooner than the waiting one is old. So a rate-limited or keep-alive
run takes a frame at most about half an interval old, not up to a whole one, and the rate
itself holds (a cadence, ``gate.py``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from camera_app.pipeline.gate import CameraGate, GatePolicy, GateSnapshot, KeepActive
from camera_app.pipeline.order import ResultOrder
from camera_app.sources.base import Frame
from camera_app.sources.capture import DropReason, LatestFrame

log = logging.getLogger(__name__)

MotionCheck = Callable[[np.ndarray], bool]  # a camera's next image -> does it move?
_SMOOTH = 0.25  # weight of the newest gap in a slot's frame interval


class BoardSlot(LatestFrame):
    """A camera's slot that runs its motion check, asks its gate, and wakes the workers."""

    def __init__(self, board: FrameBoard, camera: str, moving: MotionCheck | None) -> None:
        super().__init__()
        self._board = board
        self.camera = camera
        self.moving = moving
        self.lossless = False  # set for a source that waits for each frame to be taken
        self._waiting_reason: DropReason | None = None  # why the frame in the slot waits
        self._arrived_s = -math.inf  # when the frame in the slot came (the board's clock)
        self.frame_interval_s: float | None = None  # between frames, smoothed
        # Called with every frame, run or not (the live view); quick, on the capture thread.
        self.observers: list[Callable[[Frame], None]] = []

    def put(self, frame: Frame, replaced: DropReason = DropReason.REPLACED) -> None:
        """Check ``frame`` for motion and keep it. Only the capture thread calls this."""
        moving = None if self.moving is None else self.moving(frame.image_bgr)
        for observe in self.observers:
            try:
                observe(frame)
            except Exception:  # an observer's bug must not end the camera's session
                log.exception("camera %s: a frame observer failed", self.camera)
        board = self._board
        with board._turn:  # the frame and why it waits change together for the takers
            now = board._clock()
            reason = board._arrived(self.camera, moving, now)
            if math.isfinite(self._arrived_s):
                dt = now - self._arrived_s
                old = self.frame_interval_s
                self.frame_interval_s = dt if old is None else old + _SMOOTH * (dt - old)
            self._arrived_s = now
            if self.lossless and reason is not None:
                self.count(reason)
                return
            # A frame replaced before its turn counts with the reason it had to wait, if any.
            super().put(frame, self._waiting_reason or replaced)
            self._waiting_reason = reason
            # Wake a worker only if this frame may run now, or sooner than the waiting workers
            # will look again: a still camera's frames would otherwise wake one for nothing.
            wake = reason is None or board.gates[self.camera].due_s(now) < board._wake_s
        if wake:
            with board._cond:
                board._cond.notify()

    def stale(self, now_s: float) -> bool:
        """Whether the waiting frame came while its camera could not run and is older than
        half a frame interval: then the next frame, due sooner than this one is old, runs
        instead, so a run that came due between two frames does not take a frame up to a
        whole interval old (the pipeline's latency would carry that age)."""
        interval = self.frame_interval_s
        return (
            self._waiting_reason is not None
            and interval is not None
            and now_s - self._arrived_s > interval / 2
        )


class FrameBoard:
    def __init__(
        self,
        cameras: Sequence[str],
        max_age_s: float | None = None,
        order: ResultOrder | None = None,
        *,
        policies: Mapping[str, GatePolicy] | None = None,
        motion: Mapping[str, MotionCheck] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not cameras:
            raise ValueError("a frame board needs at least one camera")
        policies = policies or {}
        motion = motion or {}
        for c in cameras:
            if policies.get(c, GatePolicy()).gated and c not in motion:
                raise ValueError(f"camera {c}: motion gating needs a motion check")
        self._cond = threading.Condition()
        self.slots: dict[str, BoardSlot] = {c: BoardSlot(self, c, motion.get(c)) for c in cameras}
        self.gates = {c: CameraGate(c, policies.get(c, GatePolicy())) for c in cameras}
        self._order = list(cameras)
        self._next = 0
        self._turn = threading.Lock()
        self._wake_s = math.inf  # when waiting workers look again by themselves (inf: unknown)
        self._clock = clock
        self.max_age_s = max_age_s
        self.order = order

    def _arrived(self, camera: str, moving: bool | None, now_s: float) -> DropReason | None:
        """A new frame of ``camera`` (with its motion verdict): why it may not run now. The
        caller holds ``_turn``."""
        gate = self.gates[camera]
        if moving is not None:
            gate.saw(moving, now_s)
        return gate.reason(now_s)

    def set_keep_active(self, camera: str, keep_active: KeepActive | None) -> None:
        """Keep ``camera`` running at its rate while ``keep_active.keeps_active(camera)``
        (its live tracks); None: motion alone."""
        with self._turn:
            self.gates[camera].keep_active = keep_active

    def gate_snapshots(self) -> list[GateSnapshot]:
        with self._turn:
            now = self._clock()
            return [self.gates[c].snapshot(now) for c in self._order]

    def _try_take(self) -> tuple[Frame | None, float]:
        """The frame of the camera that may run now and ran longest ago (ties: in turn from
        the last one served); else None and when one may (inf: none is waiting)."""
        with self._turn:
            now = self._clock()
            due_s = math.inf
            n = len(self._order)
            ready: list[tuple[float, int]] = []
            for i in range(n):
                idx = (self._next + i) % n
                camera = self._order[idx]
                slot, gate = self.slots[camera], self.gates[camera]
                if not slot.has_frame():
                    continue
                if gate.reason(now) is not None:
                    due_s = min(due_s, gate.due_s(now))
                    continue
                if slot.stale(now):
                    continue  # its next frame runs; that put wakes a worker
                last = gate.last_run_s
                ready.append((-math.inf if last is None else last, i))
            # Longest since its last run first: a camera that missed a turn because its
            # frame had not come yet is not sent to the back of the round for it.
            for _, i in sorted(ready):
                idx = (self._next + i) % n
                camera = self._order[idx]
                frame = self.slots[camera].get(0.0, self.max_age_s)
                if frame is not None:
                    self.gates[camera].ran(now)
                    self._next = (idx + 1) % n
                    if self.order is not None:
                        self.order.taken(frame)
                    self._wake_s = math.inf  # other workers may wait for anything: wake them
                    return frame, 0.0
            self._wake_s = due_s  # the caller waits until then, unless a put wakes it sooner
        return None, due_s - now

    def has_frame(self, camera: str) -> bool:
        """Whether ``camera``'s slot holds a frame nobody has taken yet."""
        return self.slots[camera].has_frame()

    def take_newest(self, camera: str) -> Frame | None:
        """``camera``'s waiting frame, if any, without waiting and out of turn."""
        with self._turn:
            frame = self.slots[camera].get(0.0, self.max_age_s)
            if frame is not None and self.order is not None:
                self.order.taken(frame)
            return frame

    def take(self, timeout_s: float) -> Frame | None:
        """The newest frame of the next camera in turn that has one; None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            # Under the condition from the look to the wait, so that no put's wake-up falls
            # between them; a camera whose rate or keep-alive comes due is looked at when it does.
            with self._cond:
                frame, wait_s = self._try_take()
                if frame is not None:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(max(0.0, min(remaining, wait_s)))
