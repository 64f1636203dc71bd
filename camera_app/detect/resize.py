"""Stretching a frame to the model's size on two cores, with the bytes of one ``cv2.resize``.

OpenCV does not spread a 720p -> 300x300 ``INTER_LINEAR`` resize over its threads (the output
is too small for a second stripe), and the resize is most of what preprocessing costs. When
the interpreter has two or more threads, those cores sit idle between ``invoke()`` calls, so
the worker resizes the top and the bottom of the frame at once: the bottom part on a helper
thread that belongs to the worker's thread.

The split is at a source row ``m`` and an output row ``k`` with ``k * src_h == m * dst_h``, so
each part has exactly the scale of the whole and every output row is computed from the same
source rows. Whether OpenCV's fixed-point coefficients come out the same is not assumed: for
every frame size, ``halves_reproduce`` compares the split with one ``cv2.resize`` on random
images before the split is used (see ``Preprocessor``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

#: How long the caller waits for the helper's half (a resize takes well under 1 ms).
WAIT_S = 5.0
#: How often an idle helper checks that its owner thread is still alive.
IDLE_CHECK_S = 1.0


def row_split(src_h: int, dst_h: int) -> tuple[int, int] | None:
    """``(k, m)``: output rows ``[0, k)`` come from source rows ``[0, m)`` at the same scale.

    ``k`` is the multiple of ``dst_h / gcd`` nearest the middle, so ``k * src_h / dst_h`` is a
    whole row. Only for downscaling (an upscaled part would blend in a row across the cut) and
    only if the two parts are within a 1:3 ratio; else None.
    """
    if dst_h < 2 or src_h < dst_h:
        return None
    step = dst_h // math.gcd(src_h, dst_h)
    k = round(dst_h / 2 / step) * step
    if not dst_h / 4 <= k <= 3 * dst_h / 4:
        return None
    return k, k * src_h // dst_h


class Helper:
    """One thread that runs one job at a time for the thread that made it (its owner).

    Idle, it wakes every ``IDLE_CHECK_S`` and ends once its owner has ended or ``close`` was
    called, so it never outlives the worker it serves.
    """

    def __init__(self, owner: threading.Thread) -> None:
        self._owner = owner
        self._job: Callable[[], object] | None = None
        self._error: BaseException | None = None
        self._closed = False
        # Two locks used as binary semaphores: cheaper to hand over than a Condition.
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._thread = threading.Thread(target=self._loop, name=f"{owner.name}-resize", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            if not self._go.acquire(timeout=IDLE_CHECK_S):
                if self._closed or not self._owner.is_alive():
                    return
                continue
            job, self._job = self._job, None
            if job is None:  # close()
                return
            try:
                job()
            except BaseException as exc:  # handed to the owner, which raises it
                self._error = exc
            self._done.release()

    def start(self, job: Callable[[], object]) -> None:
        self._job = job
        self._go.release()

    def wait(self) -> None:
        """Until the job started last is done (raising what it raised), at most ``WAIT_S``."""
        if not self._done.acquire(timeout=WAIT_S):
            self.close()  # out of step with its caller now: the next call makes a new one
            raise TimeoutError(
                f"thread {self._thread.name} did not finish its resize in {WAIT_S} s"
            )
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self._closed = True
        self._job = None
        if self._thread.is_alive():
            self._go.release()

    def usable(self) -> bool:
        return not self._closed and self._thread.is_alive()


_local = threading.local()


def helper() -> Helper:
    """The calling thread's helper, made on first use."""
    found: Helper | None = getattr(_local, "helper", None)
    if found is None or not found.usable():
        found = _local.helper = Helper(threading.current_thread())
    return found


def release_helper() -> None:
    """End the calling thread's helper, if it has one (workers call this when they end)."""
    found: Helper | None = getattr(_local, "helper", None)
    if found is not None:
        found.close()
        _local.helper = None


def resize_halves(frame: U8, dst: U8, split: tuple[int, int], on: Helper | None) -> U8:
    """``cv2.resize(frame, dst.shape)`` (``INTER_LINEAR``) as two parts cut at ``split``.

    With a helper, the bottom part runs on it while the top part runs here; without, one after
    the other (the check). Returns ``dst``, filled.
    """
    k, m = split
    h, w = dst.shape[:2]
    top_src, bottom_src, top_dst, bottom_dst = frame[:m], frame[m:], dst[:k], dst[k:]

    def bottom() -> None:
        cv2.resize(bottom_src, (w, h - k), dst=bottom_dst, interpolation=cv2.INTER_LINEAR)

    if on is None:
        bottom()
    else:
        on.start(bottom)
    try:
        cv2.resize(top_src, (w, k), dst=top_dst, interpolation=cv2.INTER_LINEAR)
    finally:
        if on is not None:
            on.wait()  # also on error: the helper writes into dst and reads the frame
    return dst


def halves_reproduce(
    frame_hw: tuple[int, int], dst_hw: tuple[int, int], split: tuple[int, int]
) -> bool:
    """Whether the split gives the bytes of one ``cv2.resize`` for this pair of sizes.

    OpenCV's coefficients depend on the sizes only, not on the pixels; on random images any
    source row or weight that differs shows: a weight one step (1/2048) off moves a few % of
    random pixel pairs across a rounding edge, and every output row has 3 * width of them.
    """
    rng = np.random.default_rng(0)
    h, w = dst_hw
    for _ in range(2):
        image = rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
        whole = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        parts = resize_halves(image, np.empty((h, w, 3), np.uint8), split, None)
        if not np.array_equal(whole, parts):
            return False
    return True
