"""A camera's ``objects:`` section: tracking, zones, masks, per-label filters, snapshots.

    objects:
      end_after_s: 5            # an object unseen this long has left: its ``end`` event
      update_interval_s: 5      # at most one update this often, beyond zone/label changes
      tracking: {high_score: 0.6, min_hits: 3, iou_min: 0.2}
      filters:                  # per label; detections outside the area range are dropped
        - {label: person, min_score: 0.6, min_area: 1500, max_area: 400000}
      zones:                    # points: pixels, or fractions of the frame (normalized: true)
        - {name: porch, points: [[0, 0.6], [0.5, 0.6], [0.5, 1], [0, 1]], normalized: true,
           labels: [person]}
      masks:
        - {points: [[1100, 0], [1280, 0], [1280, 200], [1100, 200]]}
      snapshots: /var/lib/camera-app/snapshots
      snapshots_max_mb: 200

Read by the strict reader of ``camera_app._yaml`` (every key checked, errors with file:line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from camera_app._checks import boolean, integer, number, optional, string
from camera_app._yaml import Node, checked, listed, read_with, section
from camera_app.modes import StrEnum
from camera_app.objects.zones import Polygon, Zone


class EventsMode(StrEnum):
    FRAMES = "frames"  # one JSON line per processed frame (the default)
    OBJECTS = "objects"  # start / update / end per object


_FRACTION = number(0, 1, lo_open=True)
_SECONDS = number(0, 86400, lo_open=True)
_AREA = number(0)
_NAME = string("a name")


def _points(node: Node) -> tuple[tuple[float, float], ...]:
    items = node.items()
    if len(items) < 3:
        raise node.error(f"expected at least 3 [x, y] points, got {len(items)}")
    out = []
    for item in items:
        pair = item.items() if not item.is_mapping else []
        if len(pair) != 2:
            raise item.error("expected a point [x, y]")
        out.append((pair[0].check(number(0)), pair[1].check(number(0))))
    return tuple(out)


@dataclass(frozen=True)
class ZoneConfig:
    name: str = field(metadata=checked(_NAME))
    points: tuple[tuple[float, float], ...] = field(default=(), metadata=read_with(_points))
    normalized: bool = field(default=False, metadata=checked(boolean))
    labels: tuple[str, ...] = field(default=(), metadata=read_with(listed(_NAME)))

    def zone(self) -> Zone:
        return Zone(self.name, Polygon(self.points, self.normalized), self.labels)


@dataclass(frozen=True)
class MaskConfig:
    points: tuple[tuple[float, float], ...] = field(default=(), metadata=read_with(_points))
    normalized: bool = field(default=False, metadata=checked(boolean))

    def polygon(self) -> Polygon:
        return Polygon(self.points, self.normalized)


@dataclass(frozen=True)
class LabelFilter:
    label: str = field(default="", metadata=checked(_NAME))
    min_score: float = field(default=0.0, metadata=checked(number(0, 1)))
    min_area: float = field(default=0.0, metadata=checked(_AREA))  # pixels
    max_area: float | None = field(default=None, metadata=checked(optional(_AREA)))


@dataclass(frozen=True)
class TrackingConfig:
    """A detection scoring ``high_score`` can start a track; one between the camera's detection
    threshold and ``high_score`` can only continue one (the tracker's second pass)."""

    high_score: float = field(default=0.6, metadata=checked(_FRACTION))
    min_hits: int = field(default=3, metadata=checked(integer(1, 100)))
    iou_min: float = field(default=0.2, metadata=checked(number(0, 1, lo_open=True)))
    # false: a detection may continue a track of another label (a detector that flips
    # cat/dog on one object); the track's label is then the most confident over its life
    match_labels: bool = field(default=True, metadata=checked(boolean))


def _check_points(item: Node, points: tuple[tuple[float, float], ...], normalized: bool,
                  children: dict[str, Node], what: str) -> None:  # fmt: skip
    if not points:
        raise item.error(f"expected 'points:' for the {what}")
    if normalized and not all(0 <= v <= 1 for p in points for v in p):
        raise children["points"].error("expected points in [0, 1] with normalized: true")


def _zones(node: Node) -> tuple[ZoneConfig, ...]:
    out: list[ZoneConfig] = []
    for item in node.items():
        if "name" not in item.mapping(("name", "points", "normalized", "labels")):
            raise item.error("expected 'name:' for the zone")
        cfg, children = section(item, ZoneConfig)
        _check_points(item, cfg.points, cfg.normalized, children, "zone")
        if any(z.name == cfg.name for z in out):
            raise children["name"].error(f"duplicate zone name '{cfg.name}'")
        out.append(cfg)
    return tuple(out)


def _masks(node: Node) -> tuple[MaskConfig, ...]:
    out: list[MaskConfig] = []
    for item in node.items():
        cfg, children = section(item, MaskConfig)
        _check_points(item, cfg.points, cfg.normalized, children, "mask")
        out.append(cfg)
    return tuple(out)


read_masks = _masks  # the motion masks take the same shape (camera_app.config_motion)


def _filters(node: Node) -> tuple[LabelFilter, ...]:
    out: list[LabelFilter] = []
    for item in node.items():
        cfg, children = section(item, LabelFilter)
        if not cfg.label:
            raise item.error("expected 'label:' for the filter")
        if cfg.max_area is not None and cfg.max_area < cfg.min_area:
            raise children["max_area"].error(f"expected a number >= min_area ({cfg.min_area:g})")
        if any(f.label == cfg.label for f in out):
            raise item.error(f"a second filter for label '{cfg.label}'")
        out.append(cfg)
    return tuple(out)


@dataclass(frozen=True)
class ObjectsConfig:
    end_after_s: float = field(default=5.0, metadata=checked(_SECONDS))
    update_interval_s: float = field(default=5.0, metadata=checked(_SECONDS))
    # matched frames in a row inside (or outside) a zone before entering (leaving) it
    zone_inertia: int = field(default=3, metadata=checked(integer(1, 100)))
    tracking: TrackingConfig = field(
        default_factory=TrackingConfig, metadata=read_with(lambda n: section(n, TrackingConfig)[0])
    )
    filters: tuple[LabelFilter, ...] = field(default=(), metadata=read_with(_filters))
    zones: tuple[ZoneConfig, ...] = field(default=(), metadata=read_with(_zones))
    masks: tuple[MaskConfig, ...] = field(default=(), metadata=read_with(_masks))
    snapshots: str | None = field(default=None, metadata=checked(optional(string("a folder path"))))
    snapshots_max_mb: float = field(default=100.0, metadata=checked(number(0, lo_open=True)))
    snapshot_delay_s: float = field(default=2.0, metadata=checked(number(0, 3600)))


def read_objects(node: Node) -> ObjectsConfig | None:
    """``objects:`` absent: None; ``objects: {}`` or ``objects:`` (null): all defaults."""
    return section(node, ObjectsConfig)[0]
