"""The ``demo`` source: a moving clip from real photos, so the app runs on a machine with no camera.

The photos ship inside the scikit-image wheel (no network): an astronaut (person), Chelsea (cat),
coffee (cup) and the left view of the stereo motorcycle. Each photo slides slowly across a
1280x720 canvas for a few seconds, then cross-fades into the next; the clip loops forever. Frame
``n`` depends only on ``n``, so the clip is the same on every run.
"""

from __future__ import annotations

import importlib
import logging
import threading

import cv2
import numpy as np

from camera_app.sources.base import ImageBGR, Pacer, SourceSpec
from camera_app.sources.errors import ErrorKind, source_error

__all__ = ["DEMO_PHOTOS", "DemoSource"]

log = logging.getLogger(__name__)

# (skimage.data function, what an SSD trained on COCO should find). All bundled in the wheel.
DEMO_PHOTOS: tuple[tuple[str, str], ...] = (
    ("astronaut", "person"),
    ("chelsea", "cat"),
    ("coffee", "cup"),
    ("stereo_motorcycle", "motorcycle"),
)
HOLD_S = 4.0  # seconds a photo is shown alone
FADE_S = 1.0  # seconds of cross-fade into the next photo
DEFAULT_FPS = 15.0


def _load_photos() -> list[ImageBGR]:
    try:
        data = importlib.import_module("skimage.data")
    except ImportError as exc:
        raise source_error(
            "demo",
            "the demo source needs scikit-image",
            ErrorKind.OTHER,
            "install it: pip install scikit-image",
        ) from exc
    photos: list[ImageBGR] = []
    for name, _label in DEMO_PHOTOS:
        rgb = getattr(data, name)()
        if isinstance(rgb, tuple):  # stereo_motorcycle() -> (left, right, disparity)
            rgb = rgb[0]
        bgr = cv2.cvtColor(np.asarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)
        photos.append(np.ascontiguousarray(bgr, dtype=np.uint8))
    return photos


class DemoSource:
    """Frames of the demo clip at ``spec.width`` x ``spec.height`` (1280x720), ``spec.fps`` (15)."""

    description = "demo"
    lossless = False  # like a camera, it keeps only the newest frame

    def __init__(self, spec: SourceSpec | None = None) -> None:
        spec = spec or SourceSpec()
        self.width = spec.width or 1280
        self.height = spec.height or 720
        self.fps = spec.fps or DEFAULT_FPS
        self._pacer = Pacer(self.fps if spec.realtime else None)
        self._lock = threading.Lock()
        self._photos: list[ImageBGR] = []
        self._background = np.zeros((self.height, self.width, 3), np.uint8)
        self._index = 0

    def open(self, timeout_s: float) -> None:
        with self._lock:
            if not self._photos:
                self._photos = [self._fit(p) for p in _load_photos()]
                ramp = np.linspace(40, 90, self.height, dtype=np.float32)[:, None, None]
                tint = np.array([1.0, 0.8, 0.6], np.float32)[None, None, :]
                column = (ramp * tint).astype(np.uint8)
                self._background = np.ascontiguousarray(
                    np.broadcast_to(column, (self.height, self.width, 3))
                )
            self._index = 0
            self._pacer.reset()

    def _fit(self, photo: ImageBGR) -> ImageBGR:
        """Scale a photo to 90% of the canvas height, at most 75% of its width."""
        h, w = photo.shape[:2]
        scale = min(0.9 * self.height / h, 0.75 * self.width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), np.uint8)

    def frame_at(self, index: int) -> ImageBGR:
        """Frame ``index`` of the clip (pure: depends on ``index`` and the size only)."""
        if not self._photos:
            raise source_error("demo", "read before open", ErrorKind.OTHER)
        segment_s = HOLD_S + FADE_S
        t = index / self.fps
        which = int(t // segment_s) % len(self._photos)
        into_s = t % segment_s
        canvas = self._background.copy()
        self._paste(canvas, which, into_s)
        if into_s > HOLD_S:
            nxt = self._background.copy()
            self._paste(nxt, (which + 1) % len(self._photos), into_s - segment_s)
            alpha = (into_s - HOLD_S) / FADE_S
            return np.asarray(cv2.addWeighted(canvas, 1.0 - alpha, nxt, alpha, 0.0), np.uint8)
        return canvas

    def _paste(self, canvas: ImageBGR, which: int, into_s: float) -> None:
        """Paste photo ``which`` panned to where it is ``into_s`` seconds into its segment."""
        photo = self._photos[which]
        ph, pw = photo.shape[:2]
        progress = min(1.0, max(0.0, (into_s + FADE_S) / (HOLD_S + 2 * FADE_S)))
        left = 0.04 * self.width
        right = self.width - pw - 0.04 * self.width
        x = round(left + (right - left) * progress)
        y = (self.height - ph) // 2
        canvas[y : y + ph, x : x + pw] = photo

    def read(self, timeout_s: float) -> ImageBGR:
        self._pacer.wait()
        with self._lock:
            index = self._index
            self._index += 1
        return self.frame_at(index)

    def close(self) -> None:
        """Nothing to release; the photos stay loaded for the next open."""
