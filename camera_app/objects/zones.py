"""Zones and masks: named polygons of a camera's frame (numpy only).

A zone's points are pixels of the camera frame, or fractions of its width and height when
``normalized`` (so one config survives a resolution change). An object is in a zone when the
bottom centre of its box (where it stands on the ground) is inside the polygon, and the zone
cares about its label (no labels: every label). A mask drops the detections whose bottom
centre falls inside it (a tree that moves, a TV): they never reach the tracker.

Inside means: strictly inside or on the boundary, by the even-odd rule; a point on an edge or a
vertex counts as inside, so an object walking along a zone's edge does not flicker in and out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from camera_app.detect.detections import Detections

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Polygon:
    """At least three (x, y) points; pixels, or fractions of the frame when ``normalized``."""

    points: tuple[tuple[float, float], ...]
    normalized: bool = False

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(self.points)}")
        if self.normalized and not all(0 <= v <= 1 for p in self.points for v in p):
            raise ValueError("normalized points must lie in [0, 1]")

    def pixels(self, frame_wh: tuple[int, int]) -> F64:
        """The points as an [N, 2] array of frame pixels (read-only: shared between calls)."""
        return _pixels(self, frame_wh)


@functools.lru_cache(maxsize=256)
def _pixels(polygon: Polygon, frame_wh: tuple[int, int]) -> F64:
    pts = np.asarray(polygon.points, np.float64)
    if polygon.normalized:
        pts = pts * np.asarray(frame_wh, np.float64)
    pts.setflags(write=False)
    return pts


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: Polygon
    labels: tuple[str, ...] = ()  # empty: every label

    def cares_about(self, label: str) -> bool:
        return not self.labels or label in self.labels


def bottom_centres(boxes_xyxy: npt.NDArray[np.float32]) -> F64:
    """[N, 4] boxes -> [N, 2] points (x centre, bottom y)."""
    b = boxes_xyxy.astype(np.float64)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)


@dataclass(frozen=True, eq=False)
class _Edges:
    """A polygon's edges as [1, M] rows (edge k: vertex k to k + 1), with what the tests of
    every point share worked out once."""

    x1: F64
    y1: F64
    x2: F64
    y2: F64
    dx: F64
    dy_safe: F64  # dy, or 1 where the edge is horizontal (it never straddles a ray)
    scale: F64
    lo_x: F64
    hi_x: F64
    lo_y: F64
    hi_y: F64

    @classmethod
    def of(cls, polygon_xy: F64) -> _Edges:
        x1, y1 = polygon_xy[:, 0][None, :], polygon_xy[:, 1][None, :]
        x2 = np.concatenate([x1[:, 1:], x1[:, :1]], axis=1)
        y2 = np.concatenate([y1[:, 1:], y1[:, :1]], axis=1)
        dx, dy = x2 - x1, y2 - y1
        return cls(x1, y1, x2, y2, dx, np.where(dy == 0, 1.0, dy),
                   np.maximum(np.abs(dx) + np.abs(dy), 1e-12), np.minimum(x1, x2),
                   np.maximum(x1, x2), np.minimum(y1, y2), np.maximum(y1, y2))  # fmt: skip


@functools.lru_cache(maxsize=256)
def _edges(polygon: Polygon, frame_wh: tuple[int, int]) -> _Edges:
    return _Edges.of(polygon.pixels(frame_wh))


def inside(points_xy: F64, polygon_xy: F64) -> npt.NDArray[np.bool_]:
    """For each of [N, 2] points: inside the [M, 2] polygon or on its boundary."""
    return _inside(points_xy, _Edges.of(polygon_xy))


def _inside(points_xy: F64, e: _Edges) -> npt.NDArray[np.bool_]:
    px, py = points_xy[:, 0:1], points_xy[:, 1:2]  # [N, 1]
    # Even-odd rule: count edges crossed by a ray going right from the point.
    straddles = (e.y1 > py) != (e.y2 > py)
    x_cross = e.x1 + (py - e.y1) * e.dx / e.dy_safe
    odd = (np.count_nonzero(straddles & (px < x_cross), axis=1) % 2) == 1
    # On an edge: collinear with it and within its bounding box.
    cross = e.dx * (py - e.y1) - (e.y2 - e.y1) * (px - e.x1)
    on_line = np.abs(cross) <= 1e-9 * e.scale * (1 + np.abs(px) + np.abs(py))
    within = (e.lo_x <= px) & (px <= e.hi_x) & (e.lo_y <= py) & (py <= e.hi_y)
    out: npt.NDArray[np.bool_] = odd | (on_line & within).any(axis=1)
    return out


def apply_masks(
    detections: Detections, masks: Sequence[Polygon], frame_wh: tuple[int, int]
) -> Detections:
    """The detections whose bottom centre is in no mask (the same object when none is)."""
    if not masks or len(detections) == 0:
        return detections
    points = bottom_centres(detections.boxes_xyxy)
    hidden = np.zeros(len(detections), bool)
    for mask in masks:
        hidden |= _inside(points, _edges(mask, frame_wh))
    if not hidden.any():
        return detections
    keep = ~hidden
    return Detections(
        detections.boxes_xyxy[keep],
        detections.scores[keep],
        detections.class_ids[keep],
        tuple(name for name, k in zip(detections.labels, keep.tolist(), strict=True) if k),
    )


def zones_of(
    box_xyxy: tuple[float, float, float, float],
    label: str,
    zones: Sequence[Zone],
    frame_wh: tuple[int, int],
) -> tuple[str, ...]:
    """The names of the zones (in config order) that hold this box's bottom centre and care
    about ``label``."""
    return zones_for([box_xyxy], [label], zones, frame_wh)[0]


def zones_for(
    boxes_xyxy: Sequence[tuple[float, float, float, float]],
    labels: Sequence[str],
    zones: Sequence[Zone],
    frame_wh: tuple[int, int],
) -> list[tuple[str, ...]]:
    """``zones_of`` for many boxes at once: one polygon test per zone, whatever their number."""
    if not boxes_xyxy:
        return []
    if not zones:
        return [()] * len(boxes_xyxy)
    points = bottom_centres(np.asarray(boxes_xyxy, np.float32).reshape(-1, 4))
    hits = [_inside(points, _edges(z.polygon, frame_wh)).tolist() for z in zones]
    return [
        tuple(z.name for z, hit in zip(zones, hits, strict=True) if hit[i] and z.cares_about(label))
        for i, label in enumerate(labels)
    ]
