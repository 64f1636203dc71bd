"""The ``motion:`` settings (per camera and as a default for all) and mask polygons.

A camera's ``motion:`` mapping is read over the top-level one, key by key: a camera that says
only ``masks: [...]`` keeps the default ``threshold``. A mask is a polygon where motion is
ignored: ``{name, points: [[x, y], ...], units: normalized | pixels}``; normalized points are
fractions of the frame's width and height (0..1), pixel points are scaled when the frame size is
known. The detection masks of the events (issue 17) take the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from camera_app._yaml import (
    Node,
    boolean,
    checked,
    choice,
    integer,
    number,
    read_with,
    section,
    string,
)
from camera_app.modes import StrEnum

__all__ = ["MotionConfig", "Polygon", "Units", "motion_over"]


class Units(StrEnum):
    NORMALIZED = "normalized"  # fractions of the frame's width and height
    PIXELS = "pixels"  # pixels of the camera's frame


@dataclass(frozen=True)
class Polygon:
    """A named polygon of at least three (x, y) points, in ``units``."""

    name: str
    points: tuple[tuple[float, float], ...]
    units: Units = Units.NORMALIZED

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            n = len(self.points)
            raise ValueError(f"mask {self.name}: expected at least 3 points, got {n}")


def _polygon(node: Node) -> Polygon:
    readers = ("name", "points", "units")
    children = node.mapping(readers)
    for key in ("name", "points"):
        if key not in children:
            raise node.error(f"a mask needs '{key}'")
    name = children["name"].check(string("a mask name"))
    units = children["units"].check(choice(Units)) if "units" in children else Units.NORMALIZED
    items = children["points"].items()
    if len(items) < 3:
        raise children["points"].error(f"expected at least 3 points [x, y], got {len(items)}")
    points = []
    for item in items:
        pair = item.items()
        if len(pair) != 2:
            raise item.error(f"expected a point [x, y], got {len(pair)} numbers")
        x, y = (p.check(number(0)) for p in pair)
        if units is Units.NORMALIZED and (x > 1 or y > 1):
            raise item.error(
                f"expected normalized coordinates in 0..1, got [{x:g}, {y:g}]; "
                "for pixels say units: pixels"
            )
        points.append((x, y))
    return Polygon(name, tuple(points), units)


def _masks(node: Node) -> tuple[Polygon, ...]:
    if node.is_null:
        return ()
    return tuple(_polygon(item) for item in node.items())


@dataclass(frozen=True)
class MotionConfig:
    """What counts as motion (``camera_app.pipeline.motion``) and how it gates inference."""

    enabled: bool = field(default=True, metadata=checked(boolean))
    # Sensitivity: grey levels (of 255) a pixel must differ from the background to have changed
    threshold: int = field(default=15, metadata=checked(integer(1, 255)))
    # Contour filter: a changed region smaller than this fraction of the frame is not motion
    min_area: float = field(default=0.001, metadata=checked(number(0, 1)))
    # More than this fraction of the frame changed at once: lighting, not motion (0..1)
    lighting_area: float = field(default=0.5, metadata=checked(number(0, 1, lo_open=True)))
    # How fast the background takes in the scene (per frame, 0..1)
    alpha: float = field(default=0.1, metadata=checked(number(0, 1, lo_open=True)))
    # With no motion, inference still runs this often, so an object that stopped is still seen
    keepalive_s: float = field(default=2.0, metadata=checked(number(0, 3600, lo_open=True)))
    masks: tuple[Polygon, ...] = field(default=(), metadata=read_with(_masks))


def motion_over(node: Node, base: MotionConfig) -> MotionConfig:
    """A camera's ``motion:`` node read over ``base`` (the top-level settings)."""
    defaults: dict[str, Any] = {f.name: getattr(base, f.name) for f in fields(MotionConfig)}
    return section(node, MotionConfig, **defaults)[0]
