"""Builders for the object tests: detections from box lists, and objects on known paths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from camera_app.detect.detections import Detections


def dets(
    boxes_xyxy: Sequence[Sequence[float]],
    scores: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> Detections:
    n = len(boxes_xyxy)
    if n == 0:
        return Detections.empty()
    names = tuple(labels) if labels is not None else ("person",) * n
    return Detections(
        np.asarray(boxes_xyxy, np.float32).reshape(n, 4),
        np.asarray(scores if scores is not None else [0.9] * n, np.float32),
        np.zeros(n, np.int32),
        names,
    )


@dataclass(frozen=True)
class Mover:
    """An object sliding from ``start_xy`` (its box's top-left corner) at ``velocity_px_s``,
    visible from ``enter_s`` to ``leave_s``: the ground truth of a clip made like the demo's."""

    name: str
    size_wh: tuple[float, float]
    start_xy: tuple[float, float]
    velocity_px_s: tuple[float, float]
    enter_s: float
    leave_s: float
    label: str = "person"

    def box_at(self, t_s: float) -> tuple[float, float, float, float] | None:
        if not self.enter_s <= t_s < self.leave_s:
            return None
        x = self.start_xy[0] + self.velocity_px_s[0] * (t_s - self.enter_s)
        y = self.start_xy[1] + self.velocity_px_s[1] * (t_s - self.enter_s)
        return (x, y, x + self.size_wh[0], y + self.size_wh[1])


def scene(movers: Sequence[Mover], t_s: float) -> tuple[Detections, list[str]]:
    """The detections at ``t_s`` and which mover each one is."""
    boxes, names, labels = [], [], []
    for m in movers:
        box = m.box_at(t_s)
        if box is not None:
            boxes.append(box)
            names.append(m.name)
            labels.append(m.label)
    return dets(boxes, labels=labels), names
