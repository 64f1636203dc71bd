"""A camera's one-frame slot: the newest frame wins, and every frame dropped is counted.

The capture thread puts, the pipeline's board gets; a lossless source waits for the slot to
empty instead of replacing what is in it.
"""

from __future__ import annotations

import threading
import time
from enum import Enum

from camera_app.sources.base import Frame

__all__ = ["DropReason", "LatestFrame"]


class DropReason(str, Enum):
    REPLACED = "replaced"  # a newer frame arrived before anyone took this one
    TOO_OLD = "too_old"  # taken from the slot, but older than the consumer's max age
    RATE_LIMIT = "rate_limit"  # not run: the camera's detect_fps was reached
    NO_MOTION = "no_motion"  # not run: motion gating, nothing moved and no keep-alive was due
    DAMAGED = "damaged"  # a read failed at once mid-stream (a corrupt JPEG part); read past


class LatestFrame:
    """A one-frame slot: the newest frame wins, and every frame dropped is counted by reason."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._drops = dict.fromkeys(DropReason, 0)

    def put(self, frame: Frame, replaced: DropReason = DropReason.REPLACED) -> None:
        """Keep ``frame``; the one it replaces, if any, is counted as ``replaced``."""
        with self._cond:
            if self._frame is not None:
                self._drops[replaced] += 1
            self._frame = frame
            self._cond.notify_all()

    def count(self, reason: DropReason) -> None:
        """Count a frame that was dropped before it reached the slot."""
        with self._cond:
            self._drops[reason] += 1

    def get(self, timeout_s: float, max_age_s: float | None = None) -> Frame | None:
        """The newest unconsumed frame, waiting up to ``timeout_s``; None if none came in time.

        A frame older than ``max_age_s`` (by ``capture_monotonic_s``) is dropped as too old and
        the wait goes on for a fresher one.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                frame = self._frame
                if frame is not None:
                    self._frame = None
                    self._cond.notify_all()  # a lossless source waits for an empty slot
                    age_s = time.monotonic() - frame.capture_monotonic_s
                    if max_age_s is None or age_s <= max_age_s:
                        return frame
                    self._drops[DropReason.TOO_OLD] += 1
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def has_frame(self) -> bool:
        with self._cond:
            return self._frame is not None

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until the frame in the slot has been taken; True if the slot is empty."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._frame is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def drops(self) -> dict[DropReason, int]:
        with self._cond:
            return dict(self._drops)
