"""The ``motion:`` settings (per camera and as a default for all) and mask polygons.

A camera's ``motion:`` mapping is read over the top-level one, key by key: a camera that says
only ``masks: [...]`` keeps the default ``threshold``. A mask is a polygon where motion is
ignored, in the shape of the objects' masks (``camera_app.objects.config``, the same reader):
``{points: [[x, y], ...], normalized: false}``: pixels of the camera's frame, or fractions of
its width and height (0..1) with ``normalized: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from camera_app._checks import boolean, integer, number
from camera_app._yaml import Node, checked, read_with, section
from camera_app.objects.config import MaskConfig, read_masks

__all__ = ["MaskConfig", "MotionConfig", "motion_over"]


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
    alpha: float = field(default=0.25, metadata=checked(number(0, 1, lo_open=True)))
    # With no motion, inference still runs this often, so an object that stopped is still seen
    keepalive_s: float = field(default=5.0, metadata=checked(number(0, 3600, lo_open=True)))
    # Where motion is ignored: the objects' masks' shape, {points, normalized}
    masks: tuple[MaskConfig, ...] = field(default=(), metadata=read_with(read_masks))


def motion_over(node: Node, base: MotionConfig) -> MotionConfig:
    """A camera's ``motion:`` node read over ``base`` (the top-level settings)."""
    defaults: dict[str, Any] = {f.name: getattr(base, f.name) for f in fields(MotionConfig)}
    return section(node, MotionConfig, **defaults)[0]
