"""A cheap motion detector: does anything in this camera's frame move, and where?

Each frame is sampled down to a small grey copy (``HEIGHT`` rows; nearest-pixel sampling
reads one pixel per output, so the cost hardly grows with the input) and box-blurred, which
averages camera noise away. The copy is compared with a running background (an exponential
average of the frames as they are, ``alpha`` per frame) after matching its mean brightness
to the background's, so a global brightness change is not a difference (bright pixels, which
a brighter exposure may clip, count only when they got brighter). Pixels that differ by more
than ``threshold`` grey levels, outside the masks, are opened (isolated specks of noise and
JPEG block flicker go) and dilated (parts of one object join); the outlines (contours)
enclosing at least ``min_area`` of the frame are the motion. When more than ``lighting_area``
of the frame changed at once, that is light (a cloud, a lamp, the camera's exposure), not
motion: the background takes the frame as it is.

All of it is a handful of vectorized OpenCV calls on a copy of about 200 x 120 pixels; it runs
on the camera's capture thread, so it never waits for inference (benchmarks/motion_gate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.config_motion import MaskConfig, MotionConfig

__all__ = ["HEIGHT", "Motion", "MotionDetector", "mask_image"]

HEIGHT = 120  # rows of the small grey copy
_OPEN = np.ones((3, 3), np.uint8)
_DILATE = np.ones((5, 5), np.uint8)
_NO_REGIONS = np.zeros((0, 4), np.float32)
_BRIGHT = 200.0  # a blurred grey level this high may hide clipped white pixels


@dataclass(frozen=True)
class Motion:
    """The verdict on one frame."""

    moving: bool
    regions_xyxy: npt.NDArray[np.float32]  # (N, 4), normalized to the frame (0..1)
    changed_fraction: float  # of the unmasked frame, before the regions were filtered
    lighting: bool = False  # a global change, taken into the background


def mask_image(
    masks: tuple[MaskConfig, ...], size_wh: tuple[int, int], frame_wh: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """1 where motion counts, 0 inside the masks, at ``size_wh`` (the small copy's size)."""
    w, h = size_wh
    keep = np.ones((h, w), np.uint8)
    to_small = np.asarray((w / frame_wh[0], h / frame_wh[1]), np.float64)
    for mask in masks:
        pts = np.round(mask.polygon().pixels(frame_wh) * to_small).astype(np.int32)
        cv2.fillPoly(keep, [pts], 0)
    return keep


class MotionDetector:
    """One camera's motion: call ``detect`` with each new frame, in order, from one thread."""

    def __init__(self, cfg: MotionConfig, height: int = HEIGHT) -> None:
        self.cfg = cfg
        self.height = height
        self._nbg: npt.NDArray[np.float32] | None = None
        self._masked = bool(cfg.masks)
        self._frame_wh: tuple[int, int] | None = None
        self._size_wh = (0, 0)
        self._keep: npt.NDArray[np.uint8] | None = None
        self._keep_count = 0

    def _start(self, image: npt.NDArray[np.uint8]) -> None:
        h, w = image.shape[:2]
        small_h = min(self.height, h)
        small_w = max(1, round(w * small_h / h))
        self._frame_wh = (w, h)
        self._size_wh = (small_w, small_h)
        self._keep = mask_image(self.cfg.masks, self._size_wh, self._frame_wh)
        self._keep_count = max(1, int(np.count_nonzero(self._keep)))
        self._nbg = None

    def grey(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The small, blurred grey copy of ``image`` the detector compares."""
        small = cv2.resize(image, self._size_wh, interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(cv2.boxFilter(grey, cv2.CV_32F, (3, 3)), np.float32)

    def detect(self, image: npt.NDArray[np.uint8]) -> Motion:
        h, w = image.shape[:2]
        if self._frame_wh != (w, h):
            self._start(image)
        grey = self.grey(image)
        keep = self._keep
        nbg = self._nbg  # the background, negated: one array less to make per frame
        if nbg is None or keep is None:
            self._nbg = -grey
            return Motion(False, _NO_REGIONS, 0.0)
        # Match the mean brightness to the background's (a global change is no difference),
        # over the pixels that cannot be clipped white. Few calls: on a copy this small each
        # costs more than its pixels.
        bright = grey >= _BRIGHT
        any_bright = bool(bright.any())
        valid = (~bright).view(np.uint8) if any_bright else keep
        if any_bright and self._masked:
            valid &= keep
        mean_now = cv2.mean(grey, mask=valid)[0]
        gain = -cv2.mean(nbg, mask=valid)[0] / mean_now if mean_now > 1.0 else 1.0
        diff = cv2.scaleAdd(grey, gain, nbg)  # gain * grey - background
        if any_bright:
            # A bright pixel may be clipped, so brighter than it reads: darker than the
            # background is no change there (a brighter exposure clips much of a scene).
            np.maximum(diff, 0.0, out=diff, where=bright)
        changed = (np.abs(diff) > self.cfg.threshold).view(np.uint8)
        if self._masked:
            changed &= keep
        fraction = int(np.count_nonzero(changed)) / self._keep_count
        if fraction > self.cfg.lighting_area:
            self._nbg = -grey  # the background is the frame, as it is now
            return Motion(False, _NO_REGIONS, fraction, lighting=True)
        # bg += alpha * (grey - bg): toward the frame as it is, not as matched (gain * grey).
        # Matched, the background fed on itself: where bright pixels may only raise it (the
        # clamp above), its mean crept up, the gain with it, and the next update scaled it up
        # again; a white overlay that changes (a clock, a frame counter) took it to infinity
        # within a few thousand frames, and the camera never had motion again.
        alpha = self.cfg.alpha
        cv2.addWeighted(nbg, 1.0 - alpha, grey, -alpha, 0.0, dst=nbg)
        if fraction == 0.0:
            return Motion(False, _NO_REGIONS, 0.0)
        blobs = cv2.dilate(cv2.morphologyEx(changed, cv2.MORPH_OPEN, _OPEN), _DILATE)
        contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        small_w, small_h = self._size_wh
        least = self.cfg.min_area * small_w * small_h
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= least]
        if not boxes:
            return Motion(False, _NO_REGIONS, fraction)
        xywh = np.asarray(boxes, np.float32)
        xywh[:, 2:] += xywh[:, :2]
        scale = np.asarray((small_w, small_h, small_w, small_h), np.float32)
        return Motion(True, (xywh / scale).astype(np.float32), fraction)

    def moving(self, image: npt.NDArray[np.uint8]) -> bool:
        """Whether ``image`` (the camera's next frame) shows motion."""
        return self.detect(image).moving
