"""Object events: tracks become ``start``, ``update`` and ``end`` events (pure: no I/O).

- ``start`` once a track is confirmed and its best score reaches its label's ``min_score``;
- ``update`` at once when the object enters or leaves a zone (once it has been in, or out, for
  ``zone_inertia`` matched frames in a row) or its label changes; otherwise
  at most every ``update_interval_s``, when the box moved by more than ``move_fraction`` of
  its diagonal since the last report. A best score that rose by ``score_step`` is named in
  the update's ``changes`` but never sends one alone: a parked car whose score wavers must
  not send a stream (every event, the ``end`` too, carries the best score so far);
- ``end`` when the tracker ends the track (unseen for longer than its ``max_age_s``).

So a still object gives one ``start``, and one ``end`` after it leaves. Each event carries
an id (one per object, the same in all its events), so a consumer that receives an event
twice (MQTT at least once) can tell. Times are wall-clock seconds for display, computed from
the frames' capture times; the logic itself runs on the monotonic capture times.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from camera_app.modes import StrEnum
from camera_app.objects.tracker import Track
from camera_app.objects.zones import Zone, zones_for
from camera_app.outputs.events import iso_utc_ms


class EventType(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class LifecycleParams:
    update_interval_s: float = 5.0
    score_step: float = 0.05
    move_fraction: float = 0.25
    zone_inertia: int = 3  # matched frames in a row in (or out of) a zone before it counts
    min_score: Mapping[str, float] = field(default_factory=dict)  # per label; default 0


@dataclass(frozen=True)
class ObjectEvent:
    type: EventType
    event_id: str
    camera: str
    track_id: int
    label: str
    score: float  # the best so far
    first_seen_wall_s: float
    last_seen_wall_s: float
    zones: tuple[str, ...]
    entered: tuple[str, ...]
    left: tuple[str, ...]
    box_xyxy: tuple[float, float, float, float]  # pixels, the last matched box
    changes: tuple[str, ...]  # why an update was sent: zones, label, score, moved
    snapshot: str | None  # file name of the best snapshot (see objects/snapshots)
    sequence: int  # the frame this event was made at

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value, "event_id": self.event_id, "camera": self.camera,
            "track_id": self.track_id, "label": self.label, "score": round(self.score, 4),
            "first_seen": iso_utc_ms(self.first_seen_wall_s),
            "last_seen": iso_utc_ms(self.last_seen_wall_s),
            "zones": list(self.zones), "entered": list(self.entered), "left": list(self.left),
            "box_xyxy": [round(v, 1) for v in self.box_xyxy], "changes": list(self.changes),
            "snapshot": self.snapshot, "sequence": self.sequence,
        }  # fmt: skip


@dataclass(frozen=True)
class FrameClock:
    """The frame an update runs on: its capture times (monotonic and wall) and size."""

    monotonic_s: float
    wall_s: float
    size_wh: tuple[int, int]
    sequence: int

    def wall(self, monotonic_s: float) -> float:
        return self.wall_s - (self.monotonic_s - monotonic_s)


@dataclass
class _Open:
    """One started (or waiting-to-start) object's state."""

    event_id: str
    first_seen_wall_s: float
    last_seen_wall_s: float
    best_score: float
    label: str
    box: tuple[float, float, float, float]
    zones: tuple[str, ...] = ()
    started: bool = False
    reported_score: float = 0.0
    reported_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    reported_at_s: float = 0.0
    next_zones: tuple[str, ...] = ()  # a zone change waiting for zone_inertia frames
    next_count: int = 0


def _moved(a: Sequence[float], b: Sequence[float], fraction: float) -> bool:
    diag = math.hypot(a[2] - a[0], a[3] - a[1])
    shift = math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    return shift > fraction * max(diag, 1.0)


def new_event_id() -> str:
    return uuid.uuid4().hex[:16]


class Lifecycle:
    """One camera's object events. ``snapshot_name(event_id, label)`` names the snapshot file
    an event will have (None: no snapshots)."""

    def __init__(
        self,
        camera: str,
        zones: Sequence[Zone] = (),
        params: LifecycleParams | None = None,
        *,
        snapshot_name: Callable[[str], str | None] = lambda _id: None,
        make_id: Callable[[], str] = new_event_id,
    ) -> None:
        self.camera = camera
        self.zones = tuple(zones)
        self.params = params or LifecycleParams()
        self._snapshot_name = snapshot_name
        self._make_id = make_id
        self._open: dict[int, _Open] = {}

    def in_view(self) -> dict[int, _Open]:
        """Started objects by track id (read-only use)."""
        return {k: v for k, v in self._open.items() if v.started}

    def event_id(self, track_id: int) -> str | None:
        o = self._open.get(track_id)
        return o.event_id if o is not None and o.started else None

    def step(
        self, tracks: Sequence[Track], ended: Sequence[int], clock: FrameClock
    ) -> list[ObjectEvent]:
        out: list[ObjectEvent] = []
        seen = [t for t in tracks if t.confirmed and t.matched]
        where = dict(zip((t.track_id for t in seen), zones_for(
            [t.box_xyxy for t in seen], [t.label for t in seen], self.zones, clock.size_wh
        ), strict=True))  # fmt: skip
        for t in tracks:
            if not t.confirmed:
                continue
            o = self._open.get(t.track_id)
            if o is None:
                o = _Open(self._make_id(), clock.wall(t.first_seen_s), clock.wall(t.last_seen_s),
                          t.score, t.label, t.box_xyxy)  # fmt: skip
                self._open[t.track_id] = o
            if not t.matched:
                continue
            o.last_seen_wall_s = clock.wall(t.last_seen_s)
            o.best_score = max(o.best_score, t.score)
            o.box = t.box_xyxy
            zones = where[t.track_id]
            if not o.started:
                if o.best_score < self.params.min_score.get(t.label, 0.0):
                    continue
                o.started, o.label, o.zones = True, t.label, zones
                out.append(self._report(EventType.START, t.track_id, o, clock, zones, ()))
                continue
            changes: list[str] = []
            zones = self._settled(o, zones)
            if zones != o.zones:
                changes.append("zones")
            if t.label != o.label:
                changes.append("label")
            due = clock.monotonic_s - o.reported_at_s >= self.params.update_interval_s
            if not changes and due and _moved(o.box, o.reported_box, self.params.move_fraction):
                changes.append("moved")
            if changes and o.best_score >= o.reported_score + self.params.score_step:
                changes.append("score")
            if changes:
                previous = o.zones
                o.label, o.zones = t.label, zones
                why = tuple(changes)
                out.append(self._report(EventType.UPDATE, t.track_id, o, clock, previous, why))
        for track_id in ended:
            o = self._open.pop(track_id, None)
            if o is not None and o.started:
                out.append(self._report(EventType.END, track_id, o, clock, o.zones, ()))
        return out

    def _settled(self, o: _Open, zones: tuple[str, ...]) -> tuple[str, ...]:
        """The zones to report: a change counts once it held for ``zone_inertia`` frames (a
        box's bottom edge jitters by a few pixels from frame to frame at a zone's border)."""
        if zones == o.zones:
            o.next_count = 0
            return zones
        if zones == o.next_zones:
            o.next_count += 1
        else:
            o.next_zones, o.next_count = zones, 1
        return zones if o.next_count >= self.params.zone_inertia else o.zones

    def end_unseen(self, ended: Sequence[int], clock: FrameClock) -> list[ObjectEvent]:
        """Ends the events of ``ended`` because the camera gave no frame for ``end_after_s``
        (down, stalled): ``changes`` says "camera_down", so a consumer can tell these ends
        from objects that left the view."""
        return [replace(e, changes=("camera_down",)) for e in self.step((), ended, clock)]

    def end_all(self, clock: FrameClock) -> list[ObjectEvent]:
        """Ends every open event because the process stops: ``changes`` says "stopped", so a
        consumer can tell these ends from objects that left the view."""
        ended = self.step((), list(self._open), clock)
        return [replace(e, changes=("stopped",)) for e in ended]

    def _report(
        self,
        kind: EventType,
        track_id: int,
        o: _Open,
        clock: FrameClock,
        previous_zones: tuple[str, ...],
        changes: tuple[str, ...],
    ) -> ObjectEvent:
        o.reported_score, o.reported_box, o.reported_at_s = o.best_score, o.box, clock.monotonic_s
        entered = tuple(z for z in o.zones if z not in previous_zones)
        left = tuple(z for z in previous_zones if z not in o.zones)
        if kind is EventType.START:
            entered, left = o.zones, ()
        elif kind is EventType.END:
            entered, left = (), o.zones
        return ObjectEvent(
            kind, o.event_id, self.camera, track_id, o.label, o.best_score,
            o.first_seen_wall_s, o.last_seen_wall_s, o.zones, entered, left, o.box,
            changes, self._snapshot_name(o.event_id), clock.sequence,
        )  # fmt: skip
