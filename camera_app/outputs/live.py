"""The live view's frame store: the newest frame per camera, JPEG-encoded only on demand.

``handle()`` (the dispatcher thread) and ``show()`` (a camera's capture thread, for every frame
it captures) only swap references: no copy, no drawing, no encoding. A captured frame is shown
with the camera's newest detections, so the view keeps the camera's frame rate when results
come less often (a ``detect_fps`` limit, motion gating); a result's boxes replace them at once.
A viewer (an HTTP thread serving a stream or a snapshot) asks for the JPEG; the first viewer
to ask for a new frame draws the boxes on a copy and encodes it, the others get the cached
bytes. With nobody watching, nothing is ever encoded (``jpeg_encodes_total`` stays 0).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.detections import Detections
from camera_app.detect.draw import draw_detections
from camera_app.pipeline.types import Result
from camera_app.sources.base import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jpeg:
    """One encoded frame."""

    sequence: int  # the frame's per-camera sequence number
    data: bytes
    capture_wall_s: float


class _Slot:
    def __init__(self) -> None:
        self.latest: tuple[Frame, Detections] | None = None
        self.detections = Detections.empty()  # the newest result's, drawn on newer frames
        self.jpeg: Jpeg | None = None
        self.encode_lock = threading.Lock()  # one encoder per camera at a time
        self.encodes = 0
        self.viewers = 0
        self.failed: int | None = None  # sequence of the newest frame that failed to encode


class LiveView:
    """A sink keeping the newest (frame, detections) of each camera in ``cameras``."""

    output_name = "stream"

    def __init__(self, cameras: Iterable[str], *, jpeg_quality: int = 80) -> None:
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality: expected 1 to 100, got {jpeg_quality}")
        self.jpeg_quality = jpeg_quality
        self._slots = {name: _Slot() for name in cameras}
        # camera -> drawn on each encoded frame after the boxes (zones and masks: objects/)
        self.overlays: dict[str, Callable[[npt.NDArray[np.uint8]], object]] = {}
        self._cond = threading.Condition()
        self._closed = False

    # -- the sink side (dispatcher thread) -----------------------------------------------------

    def handle(self, result: Result) -> None:
        slot = self._slots.get(result.camera)
        if slot is None:
            return
        with self._cond:
            slot.detections = result.detections
            latest = slot.latest
            if latest is None or latest[0].sequence <= result.frame.sequence:
                slot.latest = (result.frame, result.detections)
            else:  # a newer captured frame is on show: it gets these boxes
                slot.latest = (latest[0], result.detections)
            slot.jpeg = None  # the frame on show may be the one encoded, with other boxes
            self._cond.notify_all()

    def show(self, frame: Frame) -> None:
        """A frame just captured (the camera's capture thread), shown with the newest boxes."""
        slot = self._slots.get(frame.camera)
        if slot is None:
            return
        with self._cond:
            latest = slot.latest
            if latest is not None and latest[0].sequence >= frame.sequence:
                return
            slot.latest = (frame, slot.detections)
            self._cond.notify_all()

    def health(self) -> tuple[bool, int]:
        """Never fails by itself (one that raised is disabled by the dispatcher)."""
        return True, 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the viewer side (HTTP threads) ----------------------------------------------------------

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(self._slots)

    @property
    def closed(self) -> bool:
        return self._closed

    def has_camera(self, camera: str) -> bool:
        return camera in self._slots

    def has_frame(self, camera: str) -> bool:
        return self._slots[camera].latest is not None

    def jpeg_encodes_total(self, camera: str) -> int:
        return self._slots[camera].encodes

    def viewers(self, camera: str) -> int:
        return self._slots[camera].viewers

    @contextmanager
    def viewer(self, camera: str) -> Iterator[None]:
        """Counts one viewer of ``camera`` while the block runs."""
        slot = self._slots[camera]
        with self._cond:
            slot.viewers += 1
        try:
            yield
        finally:
            with self._cond:
                slot.viewers -= 1

    def latest_jpeg(self, camera: str) -> Jpeg | None:
        """The newest frame as JPEG (encoded now if not yet), or None before the first frame."""
        slot = self._slots[camera]
        with slot.encode_lock:
            with self._cond:
                latest, cached = slot.latest, slot.jpeg
            if latest is None:
                return None
            frame, detections = latest
            if cached is not None and cached.sequence == frame.sequence:
                return cached
            if slot.failed == frame.sequence:
                return None
            jpeg = self._encode(frame, detections)
            with self._cond:
                if jpeg is None:
                    if slot.failed is None:
                        log.warning("live view: cannot encode frames of camera %s as JPEG "
                                    "(image shape %s)", camera, frame.image_bgr.shape)  # fmt: skip
                    slot.failed = frame.sequence
                else:
                    slot.jpeg = jpeg
                    slot.encodes += 1
            return jpeg

    def wait_jpeg(self, camera: str, after_sequence: int | None, timeout_s: float) -> Jpeg | None:
        """A frame other than ``after_sequence``, waiting up to ``timeout_s`` for one; None
        on timeout or once the view is closed."""
        slot = self._slots[camera]
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._closed:
                latest = slot.latest
                if latest is not None and latest[0].sequence not in (after_sequence, slot.failed):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            else:
                return None
        return self.latest_jpeg(camera)

    def _encode(self, frame: Frame, detections: Detections) -> Jpeg | None:
        try:
            annotated = draw_detections(frame.image_bgr.copy(), detections)
            overlay = self.overlays.get(frame.camera)
            if overlay is not None:
                overlay(annotated)
            params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
            ok, buf = cv2.imencode(".jpg", annotated, params)
        except cv2.error:
            return None
        return Jpeg(frame.sequence, buf.tobytes(), frame.capture_wall_s) if ok else None


@functools.cache
def placeholder_jpeg() -> bytes:
    """What a stream shows before its camera's first frame: dark grey, "waiting for frames"."""
    image = np.full((240, 320, 3), 43, dtype=np.uint8)
    cv2.putText(image, "waiting for frames", (62, 126), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (200, 200, 200), 1, cv2.LINE_AA)  # fmt: skip
    ok, buf = cv2.imencode(".jpg", image)
    if not ok:
        raise RuntimeError("cannot encode the live view's placeholder JPEG")
    return bytes(buf.tobytes())
