"""Clips of a mostly still scene made from real photos, with known entries (tests, benchmarks).

The background is scikit-image's ``rocket`` photo; an entering object is another real photo
(``astronaut``: a person, ``chelsea``: a cat) pasted in at a known frame, walking across and
standing still for a while before it leaves. Every frame then gets what a real camera adds:
Gaussian sensor noise, an optional global brightness change and a JPEG round trip (block
flicker). Frame ``n`` depends only on the arguments, so a clip is the same on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data

Image = np.ndarray


def photo(name: str) -> Image:
    rgb = getattr(skimage.data, name)()
    return np.ascontiguousarray(cv2.cvtColor(np.asarray(rgb, np.uint8), cv2.COLOR_RGB2BGR))


@dataclass(frozen=True)
class Entry:
    """An object that appears at frame ``start``, walks ``walk`` frames, stands still, and is
    gone from frame ``end`` on."""

    start: int
    end: int
    label: str = "person"  # what the model should find
    photo: str = "astronaut"
    height: float = 0.55  # of the frame
    x0: float = 0.08  # left edge at the start, fraction of the frame width
    speed: float = 0.012  # fraction of the frame width per frame while walking
    walk: int = 20
    y: float = 0.3  # top edge

    def box_xyxy(self, n: int, size_wh: tuple[int, int], aspect: float) -> tuple[int, ...] | None:
        """Where the object is in frame ``n`` (pixels), or None if it is not there."""
        if not self.start <= n < self.end:
            return None
        w, h = size_wh
        oh = round(self.height * h)
        ow = round(oh * aspect)
        x = self.x0 + self.speed * min(n - self.start, self.walk)
        left, top = round(x * w), round(self.y * h)
        return (left, top, min(w, left + ow), min(h, top + oh))


@dataclass(frozen=True)
class Camera:
    """What the camera adds: noise, brightness over time, compression."""

    noise_sigma: float = 4.0
    jpeg_quality: int | None = 75  # None: no JPEG round trip
    brightness: Callable[[int], float] = lambda n: 1.0  # a gain per frame
    seed: int = 0
    noise_bank: int = 0  # > 0: reuse this many noise images in turn (long clips render faster)


def brightness_step(at: int, gain: float, ramp: int = 3) -> Callable[[int], float]:
    """1.0 until ``at``, then ``gain`` reached over ``ramp`` frames (a light switched on)."""

    def f(n: int) -> float:
        if n < at:
            return 1.0
        return 1.0 + (gain - 1.0) * min(1.0, (n - at + 1) / ramp)

    return f


class SceneClip:
    """Frames of ``background`` with ``entries``, seen through ``camera``; and the ground truth."""

    def __init__(
        self,
        size_wh: tuple[int, int] = (640, 360),
        entries: Sequence[Entry] = (),
        camera: Camera = Camera(),
        background: str = "rocket",
    ) -> None:
        self.size_wh = size_wh
        self.entries = tuple(entries)
        self.camera = camera
        self.background = cv2.resize(photo(background), size_wh, interpolation=cv2.INTER_AREA)
        self._photos = {e.photo: photo(e.photo) for e in self.entries}
        self._noise: dict[int, np.ndarray] = {}

    def truth(self, n: int) -> list[tuple[Entry, tuple[int, ...]]]:
        out = []
        for e in self.entries:
            p = self._photos[e.photo]
            box = e.box_xyxy(n, self.size_wh, p.shape[1] / p.shape[0])
            if box is not None:
                out.append((e, box))
        return out

    def frame(self, n: int) -> Image:
        img = self.background.copy()
        for e, (x1, y1, x2, y2) in self.truth(n):
            p = self._photos[e.photo]
            full_w = round(self.size_wh[1] * e.height * p.shape[1] / p.shape[0])
            obj = cv2.resize(p, (full_w, y2 - y1), interpolation=cv2.INTER_AREA)
            img[y1:y2, x1:x2] = obj[:, : x2 - x1]
        cam = self.camera
        out = img.astype(np.float32) * cam.brightness(n)
        if cam.noise_sigma > 0:
            out += self._noise_for(n, out.shape)
        frame = np.clip(out, 0, 255).astype(np.uint8)
        if cam.jpeg_quality is not None:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, cam.jpeg_quality])
            assert ok
            frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return frame

    def _noise_for(self, n: int, shape: tuple[int, ...]) -> np.ndarray:
        key = n % self.camera.noise_bank if self.camera.noise_bank > 0 else n
        noise = self._noise.get(key)
        if noise is None:
            rng = np.random.default_rng((self.camera.seed, key))
            noise = rng.standard_normal(shape, dtype=np.float32) * self.camera.noise_sigma
            if self.camera.noise_bank > 0:
                self._noise[key] = noise
        return noise

    def frames(self, count: int, start: int = 0) -> list[Image]:
        return [self.frame(n) for n in range(start, start + count)]
