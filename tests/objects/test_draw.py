"""Zones and masks on the live view's frames."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from camera_app.objects.draw import MASK_BGR, ZONE_BGR, draw_zones
from camera_app.objects.zones import Polygon, Zone
from camera_app.outputs.live import LiveView
from tests.outputs.builders import make_result

ZONE = Zone("porch", Polygon(((0.25, 0.5), (0.75, 0.5), (0.75, 1.0), (0.25, 1.0)), True))
MASK = Polygon(((0, 0), (100, 0), (100, 100), (0, 100)))


def test_zone_outline_and_shaded_mask() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    draw_zones(image, [ZONE], [MASK])
    assert tuple(image[300, 160]) == ZONE_BGR  # on the zone's left edge (x = 160)
    assert tuple(image[300, 320]) == (200, 200, 200)  # inside: untouched
    expected = np.round(0.6 * np.array(MASK_BGR) + 0.4 * 200)
    assert np.abs(image[50, 50].astype(int) - expected).max() <= 1  # the mask, shaded
    assert tuple(image[200, 400]) == (200, 200, 200)


def test_the_live_view_draws_the_overlay() -> None:
    live = LiveView(["cam0"])
    live.overlays["cam0"] = functools.partial(draw_zones, zones=[ZONE], masks=[])
    image = np.full((480, 640, 3), 200, np.uint8)
    live.handle(make_result("cam0", 1, image=image))
    jpeg = live.latest_jpeg("cam0")
    assert jpeg is not None
    decoded = cv2.imdecode(np.frombuffer(jpeg.data, np.uint8), cv2.IMREAD_COLOR)
    # green (B low, G high) near the zone's edge after JPEG, grey away from it
    b, g, _ = (int(v) for v in decoded[300, 160])
    assert g - b > 60
    assert np.abs(decoded[300, 320].astype(int) - 200).max() < 12
    assert np.array_equal(image, np.full((480, 640, 3), 200, np.uint8))  # frame not touched
