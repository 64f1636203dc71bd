"""The frame board: the newest frame of every camera, taken by inference workers in turn.

Each camera's capture thread writes into its own one-frame slot (the newest frame wins; a
frame replaced before anyone took it is counted). Workers ``take()`` round-robin across the
cameras that have a frame, so a fast camera cannot starve a slow one, and wait on one shared
condition when no camera has anything. A ``ResultOrder``, when given, learns of every take
under the same lock, so the results of one camera can be put back in capture order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from camera_app.pipeline.order import ResultOrder
from camera_app.sources.base import Frame
from camera_app.sources.capture import LatestFrame


class BoardSlot(LatestFrame):
    """A camera's slot that also wakes the workers waiting on the board."""

    def __init__(self, board_cond: threading.Condition) -> None:
        super().__init__()
        self._board_cond = board_cond

    def put(self, frame: Frame) -> None:
        super().put(frame)
        with self._board_cond:
            self._board_cond.notify()


class FrameBoard:
    def __init__(
        self,
        cameras: Sequence[str],
        max_age_s: float | None = None,
        order: ResultOrder | None = None,
    ) -> None:
        if not cameras:
            raise ValueError("a frame board needs at least one camera")
        self._cond = threading.Condition()
        self.slots: dict[str, BoardSlot] = {c: BoardSlot(self._cond) for c in cameras}
        self._order = list(cameras)
        self._next = 0
        self._turn = threading.Lock()
        self.max_age_s = max_age_s
        self.order = order

    def _try_take(self) -> Frame | None:
        with self._turn:
            n = len(self._order)
            for i in range(n):
                idx = (self._next + i) % n
                frame = self.slots[self._order[idx]].get(0.0, self.max_age_s)
                if frame is not None:
                    self._next = (idx + 1) % n
                    if self.order is not None:
                        self.order.taken(frame)
                    return frame
        return None

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
            frame = self._try_take()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with self._cond:
                # A put between _try_take and here would be missed by wait(): wait briefly
                # and look again rather than sleep the whole remaining time.
                self._cond.wait(min(remaining, 0.05))
