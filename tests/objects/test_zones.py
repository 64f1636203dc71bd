"""Zones and masks: exact cases and properties against a reference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.objects.zones import Polygon, Zone, apply_masks, bottom_centres, inside, zones_of
from tests.objects.builders import dets

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
# a "U": the notch between x 4..6 from y 0 to 6 is outside
U_SHAPE = np.array([[0, 0], [4, 0], [4, 6], [6, 6], [6, 0], [10, 0], [10, 10], [0, 10]], np.float64)


@pytest.mark.parametrize(
    ("point", "polygon", "expected"),
    [
        ((5, 5), SQUARE, True),
        ((10, 5), SQUARE, True),  # on an edge
        ((0, 0), SQUARE, True),  # a vertex
        ((10.001, 5), SQUARE, False),
        ((-1, -1), SQUARE, False),
        ((5, 3), U_SHAPE, False),  # in the notch
        ((5, 6), U_SHAPE, True),  # on the notch's floor
        ((5, 8), U_SHAPE, True),
        ((2, 1), U_SHAPE, True),
        ((8, 1), U_SHAPE, True),
    ],
)
def test_inside(point: tuple[float, float], polygon: np.ndarray, expected: bool) -> None:
    assert inside(np.asarray([point], np.float64), polygon).tolist() == [expected]


def test_bottom_centres() -> None:
    got = bottom_centres(np.asarray([[10, 20, 30, 60], [0, 0, 1, 1]], np.float32))
    assert got.tolist() == [[20.0, 60.0], [0.5, 1.0]]


def test_normalized_polygon_scales_to_the_frame() -> None:
    p = Polygon(((0.5, 0.5), (1.0, 0.5), (1.0, 1.0)), normalized=True)
    assert p.pixels((1280, 720)).tolist() == [[640, 360], [1280, 360], [1280, 720]]


@pytest.mark.parametrize(
    ("points", "normalized", "message"),
    [
        (((0, 0), (1, 1)), False, "at least 3 points, got 2"),
        (((0, 0), (1, 1), (2, 0)), True, r"\[0, 1\]"),
    ],
)
def test_bad_polygons(
    points: tuple[tuple[float, float], ...], normalized: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Polygon(points, normalized)


def test_masks_drop_detections_whose_bottom_centre_is_inside() -> None:
    mask = Polygon(((0, 0), (100, 0), (100, 100), (0, 100)))
    d = dets(
        [(10, 10, 30, 50), (90, 80, 150, 120), (50, 50, 150, 100)],
        scores=[0.9, 0.8, 0.7],
        labels=["tree", "person", "tv"],
    )
    # centres: (20, 50) in; (120, 120) out; (100, 100) on the corner: in
    kept = apply_masks(d, [mask], (640, 480))
    assert kept.labels == ("person",)
    assert kept.scores.tolist() == pytest.approx([0.8])
    assert apply_masks(d, [], (640, 480)) is d


def test_zones_of_respects_labels_and_order() -> None:
    porch = Zone("porch", Polygon(((0, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)), True), ("person",))
    yard = Zone("yard", Polygon(((0, 0), (1, 0), (1, 1), (0, 1)), True))
    zones = [porch, yard]
    assert zones_of((100, 100, 200, 500), "person", zones, (1000, 1000)) == ("porch", "yard")
    assert zones_of((100, 100, 200, 500), "cat", zones, (1000, 1000)) == ("yard",)
    assert zones_of((100, 100, 200, 400), "person", zones, (1000, 1000)) == ("yard",)


def _reference_inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    """A plain-Python ray cast, for comparison away from edges."""
    n, c = len(poly), False
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            c = not c
    return c


def _on_edge(px: Fraction, py: Fraction, poly: list[tuple[int, int]]) -> bool:
    """Exactly: is the point on one of the polygon's edges?"""
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
        cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
        if cross == 0 and min(x1, x2) <= px <= max(x1, x2) and min(y1, y2) <= py <= max(y1, y2):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=3, max_size=8),
    st.tuples(st.integers(-4, 84), st.integers(-4, 84)),
)
def test_matches_a_reference(poly: list[tuple[int, int]], p: tuple[int, int]) -> None:
    # Points on a quarter-pixel lattice: some land on edges and vertices, where ours says
    # inside; elsewhere ours agrees with a plain ray cast.
    px, py = Fraction(p[0], 4), Fraction(p[1], 4)
    got = bool(inside(np.asarray([[float(px), float(py)]]), np.asarray(poly, np.float64))[0])
    if _on_edge(px, py, poly):
        assert got
    else:
        assert got == _reference_inside(
            float(px), float(py), [(float(x), float(y)) for x, y in poly]
        )
