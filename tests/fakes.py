"""Fakes for the seams, shipped with the tests: a scriptable ``FrameSource``.

``InPlaceInfer`` gives a fake detector the in-place stages the worker calls (``prepare``,
``invoke_in_place``), from its ``preprocess`` and ``infer``.

``FakeSource`` plays one ``Session`` per ``open()`` (the last one repeats): the open may fail or
hang, then ``frames`` images are read (forever when None), then the session ``then``s: raises an
error, hangs inside ``read`` (like a dead ``cv2.VideoCapture.read``), or ends with EOF.

A hang blocks until ``release()`` (never on ``close()``, which is the worst case the capture
thread must survive), or ``HANG_LIMIT_S`` so that no test leaks a thread for long.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from camera_app.errors import SourceError

HANG_LIMIT_S = 30.0


class InPlaceInfer:
    """``prepare`` and ``invoke_in_place`` (what the inference worker calls) built on a fake's
    ``preprocess`` and ``infer``."""

    _prepared: np.ndarray | None = None

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, object]:
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> dict[int, np.ndarray]:
        raise NotImplementedError

    def prepare(self, image: np.ndarray) -> object:
        self._prepared, placement = self.preprocess(image)
        return placement

    def invoke_in_place(self) -> contextlib.AbstractContextManager[object]:
        assert self._prepared is not None, "invoke_in_place() before prepare()"
        return contextlib.nullcontext(self.infer(self._prepared))


def make_image(value: int, size_wh: tuple[int, int] = (64, 48)) -> np.ndarray:
    """An HxWx3 uint8 image whose pixels all hold ``value % 256`` (a readable frame id)."""
    w, h = size_wh
    return np.full((h, w, 3), value % 256, dtype=np.uint8)


@dataclass(frozen=True)
class Session:
    open_error: Exception | None = None
    open_hangs: bool = False
    frames: int | None = None  # frames to read; None: forever
    then: Exception | Literal["hang", "eof"] = "eof"
    interval_s: float = 0.01  # between frames
    image: np.ndarray | None = field(default=None)  # returned as is, instead of make_image()


class FakeSource:
    """A scripted FrameSource that records what was asked of it."""

    def __init__(self, sessions: Sequence[Session] = (Session(),), description: str = "fake"):
        if not sessions:
            raise ValueError("FakeSource needs at least one Session")
        self.description = description
        self.lossless = False
        self._sessions = list(sessions)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._current: Session | None = None
        self._left: int | None = None
        self.opens = 0
        self.closes = 0
        self.frames_read = 0
        self.hung = 0  # calls currently blocked in a hang

    def release(self) -> None:
        """Unblock every hung open/read (they then raise SourceError)."""
        self._released.set()

    def _hang(self) -> SourceError:
        with self._lock:
            self.hung += 1
        try:
            self._released.wait(HANG_LIMIT_S)
        finally:
            with self._lock:
                self.hung -= 1
        return SourceError("fake: released from a hang", kind="other")

    def open(self, timeout_s: float) -> None:
        with self._lock:
            index = min(self.opens, len(self._sessions) - 1)
            self.opens += 1
            session = self._sessions[index]
            self._current, self._left = None, None
        if session.open_hangs:
            raise self._hang()
        if session.open_error is not None:
            raise session.open_error
        with self._lock:
            self._current, self._left = session, session.frames

    def read(self, timeout_s: float) -> np.ndarray:
        with self._lock:
            session, left = self._current, self._left
            if session is not None and left is not None:
                self._left = left - 1
        if session is None:
            raise SourceError("fake: read while not open", kind="other")
        if left is not None and left <= 0:
            if session.then == "hang":
                raise self._hang()
            if session.then == "eof":
                raise SourceError("fake: end of input", kind="eof")
            raise session.then
        time.sleep(session.interval_s)
        with self._lock:
            self.frames_read += 1
            count = self.frames_read
        return session.image if session.image is not None else make_image(count)

    def close(self) -> None:
        with self._lock:
            self.closes += 1
            self._current, self._left = None, None


def wait_until(predicate: object, timeout_s: float = 10.0, poll_s: float = 0.02) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout_s`` passes; return its last value."""
    if not callable(predicate):
        raise TypeError("wait_until needs a callable")
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(poll_s)
