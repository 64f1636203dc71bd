"""Boxes and labels drawn on a frame (OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.detections import Detections


def _colour(class_id: int) -> tuple[int, int, int]:
    # A fixed, well-spread colour per class (golden-ratio hue steps).
    hue = int((class_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_detections(frame_bgr: npt.NDArray[np.uint8], det: Detections) -> npt.NDArray[np.uint8]:
    """Draws in place and returns the frame."""
    thick = max(1, round(min(frame_bgr.shape[:2]) / 300))
    for d in det:
        x1, y1, x2, y2 = (round(v) for v in d.box_xyxy)
        colour = _colour(d.class_id)
        cv2.rectangle(frame_bgr, (x1, y1), (x2, y2), colour, thick)
        text = f"{d.label} {d.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(th + base, y1)
        cv2.rectangle(frame_bgr, (x1, ty - th - base), (x1 + tw, ty), colour, -1)
        cv2.putText(frame_bgr, text, (x1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return frame_bgr
