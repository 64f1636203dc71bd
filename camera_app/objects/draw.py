"""Zones and masks drawn on the live view (OpenCV): zones as named outlines, masks shaded."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from camera_app.objects.zones import Polygon, Zone
from camera_app.sources.base import ImageBGR

ZONE_BGR = (80, 220, 80)
MASK_BGR = (40, 40, 40)


def draw_zones(image: ImageBGR, zones: Sequence[Zone], masks: Sequence[Polygon]) -> ImageBGR:
    """Draws in place and returns the image."""
    h, w = image.shape[:2]
    thick = max(2, round(min(h, w) / 360))
    if masks:
        shade = image.copy()
        for m in masks:
            cv2.fillPoly(shade, [np.round(m.pixels((w, h))).astype(np.int32)], MASK_BGR)
        cv2.addWeighted(shade, 0.6, image, 0.4, 0.0, dst=image)
    for z in zones:
        pts = np.round(z.polygon.pixels((w, h))).astype(np.int32)
        cv2.polylines(image, [pts], True, ZONE_BGR, thick, cv2.LINE_8)
        x, y = int(pts[:, 0].min()) + 4, int(pts[:, 1].min()) + 18
        cv2.putText(image, z.name, (x, min(y, h - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, ZONE_BGR,
                    2, cv2.LINE_AA)  # fmt: skip
    return image
