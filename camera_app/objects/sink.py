"""The objects output: results -> masks, filters, tracker, zones, events, snapshots, publishers.

One ``ObjectsSink`` serves every camera that has objects (the dispatcher calls it once per
result, on its one thread), so at shutdown it ends every open event of every camera before it
closes what it owns: no end event is lost to a file closed early. Publishers (the JSON-lines
file, MQTT) get the events, the per-label counts when they change and each written snapshot;
none may block (MQTT only queues). A publisher with a ``tick`` hears the sink's (MQTT: each
camera's availability). The page reads ``view()`` from HTTP threads.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_app.detect.detections import Detections
from camera_app.objects.config import LabelFilter, ObjectsConfig
from camera_app.objects.lifecycle import (
    EventType,
    FrameClock,
    Lifecycle,
    LifecycleParams,
    ObjectEvent,
)
from camera_app.objects.snapshots import Candidate, SnapshotStore, quality
from camera_app.objects.tracker import Tracker, TrackerParams
from camera_app.objects.zones import Polygon, apply_masks
from camera_app.outputs.events import EventsSink, iso_utc_ms
from camera_app.pipeline.types import Result, TickingSink

log = logging.getLogger(__name__)

RECENT_EVENTS = 8  # per camera, for the status page


class Publisher(Protocol):
    """Where object events go. Called on the outputs thread: must return at once."""

    def event(self, event: ObjectEvent, now_s: float) -> None: ...

    def counts(self, camera: str, counts: Mapping[str, int]) -> None: ...

    def snapshot(self, camera: str, label: str, jpeg: bytes) -> None: ...

    def close(self) -> None: ...


class JsonLines:
    """Object events as JSON lines, through the per-frame events' writer (rotation, retry)."""

    def __init__(self, writer: EventsSink) -> None:
        self.writer = writer

    def event(self, event: ObjectEvent, now_s: float) -> None:
        self.writer.write(event.to_json(), now_s)

    def counts(self, camera: str, counts: Mapping[str, int]) -> None:
        """Counts follow from the events; the file holds events only."""

    def snapshot(self, camera: str, label: str, jpeg: bytes) -> None:
        """Snapshots are files of their own; the events name them."""

    def close(self) -> None:
        self.writer.close()


def filter_detections(d: Detections, filters: Mapping[str, LabelFilter]) -> Detections:
    """Drops detections whose box area (pixels) is outside their label's range."""
    if not filters or len(d) == 0:
        return d
    b = d.boxes_xyxy
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = np.ones(len(d), bool)
    for i, label in enumerate(d.labels):
        f = filters.get(label)
        if f is not None and (
            area[i] < f.min_area or (f.max_area is not None and area[i] > f.max_area)
        ):
            keep[i] = False
    if keep.all():
        return d
    labels = tuple(n for n, k in zip(d.labels, keep.tolist(), strict=True) if k)
    return Detections(b[keep], d.scores[keep], d.class_ids[keep], labels)


@dataclass
class CameraObjects:
    """One camera's objects state."""

    name: str
    cfg: ObjectsConfig
    low_score: float  # the camera's detection threshold: nothing below it arrives
    snapshots: SnapshotStore | None = None
    tracker: Tracker = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    masks: tuple[Polygon, ...] = field(init=False)
    filters: dict[str, LabelFilter] = field(init=False)
    candidates: dict[str, Candidate] = field(default_factory=dict)  # event id -> best so far
    started_s: dict[str, float] = field(default_factory=dict)  # event id -> monotonic start
    written: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    objects_now: list[dict[str, Any]] = field(default_factory=list)  # for the page
    recent: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_EVENTS)
    )
    last_clock: FrameClock | None = None
    # Live tracks (tentative ones too) after the last result: read by the camera's gate from
    # other threads (one bool, written only here on the outputs thread).
    live: bool = False

    def __post_init__(self) -> None:
        c = self.cfg
        high = max(c.tracking.high_score, self.low_score)
        self.tracker = Tracker(TrackerParams(
            high_score=high, low_score=self.low_score, iou_min=c.tracking.iou_min,
            min_hits=c.tracking.min_hits, max_age_s=c.end_after_s,
            match_labels=c.tracking.match_labels,
        ))  # fmt: skip
        store = self.snapshots
        self.lifecycle = Lifecycle(
            self.name, [z.zone() for z in c.zones],
            LifecycleParams(update_interval_s=c.update_interval_s, zone_inertia=c.zone_inertia,
                            min_score={f.label: f.min_score for f in c.filters}),
            snapshot_name=(lambda eid: store.name(self.name, eid)) if store else lambda _e: None,
        )  # fmt: skip
        self.masks = tuple(m.polygon() for m in c.masks)
        self.filters = {f.label: f for f in c.filters}


class ObjectsCollector(Collector):
    """camera_app_object_events_total{camera,type} and camera_app_objects_in_view{camera},
    read from the sink at each scrape."""

    def __init__(self, sink: ObjectsSink) -> None:
        self._sink = sink

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("camera_app_object_events", "Object events sent, by type.",
                                     labels=["camera", "type"])  # fmt: skip
        in_view = GaugeMetricFamily("camera_app_objects_in_view", "Objects in view now.",
                                    labels=["camera"])  # fmt: skip
        for camera in self._sink.cameras:
            for kind in EventType:
                events.add_metric(
                    [camera, kind.value], self._sink.events_total[(camera, kind.value)]
                )
            view = self._sink.view(camera) or {}
            in_view.add_metric([camera], sum(view.get("in_view", {}).values()))
        yield events
        yield in_view


class ObjectsSink:
    output_name = "objects"

    def __init__(
        self,
        cameras: Sequence[CameraObjects],
        publishers: Mapping[str, Sequence[Publisher]],
        *,
        owned: Sequence[Publisher] = (),
    ) -> None:
        self._cams = {c.name: c for c in cameras}
        self._publishers = publishers
        self._owned = owned
        unique = {id(p): p for ps in publishers.values() for p in ps}
        self._ticking = [p for p in unique.values() if isinstance(p, TickingSink)]
        self._lock = threading.Lock()  # guards the page's view of counts and recent events
        self.events_total: collections.Counter[tuple[str, str]] = collections.Counter()

    def handle(self, result: Result) -> None:
        cam = self._cams.get(result.camera)
        if cam is None:
            return
        frame = result.frame
        h, w = frame.image_bgr.shape[:2]
        clock = FrameClock(frame.capture_monotonic_s, frame.capture_wall_s, (w, h), frame.sequence)
        cam.last_clock = clock
        d = apply_masks(result.detections, cam.masks, (w, h))
        d = filter_detections(d, cam.filters)
        tracks, ended = cam.tracker.update(d, clock.monotonic_s)
        cam.live = bool(tracks)
        events = cam.lifecycle.step(tracks, ended, clock)
        if cam.snapshots is not None:
            for t in tracks:
                eid = cam.lifecycle.event_id(t.track_id)
                if t.matched and eid is not None and eid not in cam.written:
                    q = quality(t.score, t.box_xyxy, (w, h))
                    best = cam.candidates.get(eid)
                    if best is None or q > best.quality:
                        cam.candidates[eid] = Candidate(
                            q, frame.image_bgr, t.box_xyxy, t.label, t.score
                        )
        self._emit(cam, events, clock)

    def tick(self, now_s: float) -> None:
        """Ends the tracks of a camera whose results stopped for longer than ``end_after_s``
        (the camera is down or stalled: while it runs, live tracks keep its results coming at
        its detect_fps, which is checked to be faster). Else what it saw last would stay in
        view, on the page, in the metrics and in the MQTT counts, until the camera came back
        (never, for a dead one). Dispatcher thread, between results; ``now_s`` monotonic."""
        for cam in self._cams.values():
            last = cam.last_clock
            if last is None or not cam.live or now_s - last.monotonic_s <= cam.cfg.end_after_s:
                continue
            clock = replace(last, monotonic_s=now_s, wall_s=last.wall(now_s))
            cam.live, ended = cam.tracker.expire(now_s)
            self._emit(cam, cam.lifecycle.end_unseen(ended, clock), clock)
        for p in self._ticking:
            p.tick(now_s)

    def _emit(self, cam: CameraObjects, events: list[ObjectEvent], clock: FrameClock) -> None:
        for e in events:
            if e.type is EventType.START:
                cam.started_s[e.event_id] = clock.monotonic_s
            if e.type is EventType.END:
                self._write_snapshot(cam, e.event_id, e.label)
            for p in self._publishers.get(cam.name, ()):
                p.event(e, clock.monotonic_s)
            self.events_total[(cam.name, e.type.value)] += 1
            with self._lock:
                cam.recent.appendleft(e.to_json())
            if e.type is EventType.END:
                cam.started_s.pop(e.event_id, None)
                cam.candidates.pop(e.event_id, None)
                cam.written.discard(e.event_id)
        for eid, t0 in list(cam.started_s.items()):
            if eid not in cam.written and clock.monotonic_s - t0 >= cam.cfg.snapshot_delay_s:
                label = cam.candidates[eid].label if eid in cam.candidates else ""
                self._write_snapshot(cam, eid, label)
        counts: dict[str, int] = {}
        in_view = cam.lifecycle.in_view()
        for o in in_view.values():
            counts[o.label] = counts.get(o.label, 0) + 1
        if events or counts != cam.counts:
            now = [{"label": o.label, "score": round(o.best_score, 2), "zones": list(o.zones),
                    "since": iso_utc_ms(o.first_seen_wall_s), "track_id": tid}
                   for tid, o in sorted(in_view.items())]  # fmt: skip
            with self._lock:
                cam.objects_now = now
        if counts != cam.counts:
            # A label whose last object left is published as 0, once.
            full = {label: counts.get(label, 0) for label in {*cam.counts, *counts}}
            with self._lock:
                cam.counts = counts
            for p in self._publishers.get(cam.name, ()):
                p.counts(cam.name, full)

    def _write_snapshot(self, cam: CameraObjects, eid: str, label: str) -> None:
        if cam.snapshots is None or eid in cam.written:
            return
        cam.written.add(eid)
        best = cam.candidates.pop(eid, None)
        if best is None:
            return
        jpeg = cam.snapshots.write(cam.name, eid, best)
        if jpeg is not None:
            for p in self._publishers.get(cam.name, ()):
                p.snapshot(cam.name, label or best.label, jpeg)

    def health(self) -> tuple[bool, int]:
        """Working unless an events file it writes is failing; failures of those files and
        of snapshot writes so far (for camera_app_output_up / _failures_total)."""
        up, failures = True, 0
        for p in self._owned:
            if isinstance(p, JsonLines):
                ok, n = p.writer.health()
                up, failures = up and ok, failures + n
        stores = {id(c.snapshots): c.snapshots for c in self._cams.values() if c.snapshots}
        return up, failures + sum(s.failures for s in stores.values())

    def keeps_active(self, camera: str) -> bool:
        """Whether ``camera`` has live tracks (a ``KeepActive`` for the camera's gate): while
        it has, inference runs at its detect_fps though nothing moves, so an object that
        stopped stays matched; once they end, the gate falls back to its keep-alive."""
        cam = self._cams.get(camera)
        return cam is not None and cam.live

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(self._cams)

    def view(self, camera: str) -> dict[str, Any] | None:
        """Objects in view (a count per label, and each one), and the last events, newest
        first (HTTP threads)."""
        cam = self._cams.get(camera)
        if cam is None:
            return None
        with self._lock:
            recent = [dict(e) for e in cam.recent]
            in_view = dict(cam.counts)
            objects_now = [dict(o) for o in cam.objects_now]
        for e in recent:  # a link only once the file is there (written snapshot_delay_s in)
            name = e.get("snapshot")
            ready = cam.snapshots is not None and cam.snapshots.path(str(name)) is not None
            e["snapshot_url"] = f"/snapshots/{quote(camera, safe='')}/{name}" if ready else None
        return {"in_view": in_view, "objects": objects_now, "recent_events": recent}

    def snapshot_file(self, camera: str, name: str) -> Path | None:
        """The file of one of ``camera``'s snapshots, for the web server (None: no such)."""
        cam = self._cams.get(camera)
        if cam is None or cam.snapshots is None or not name.startswith(f"{camera}-"):
            return None
        return cam.snapshots.path(name)

    def close(self) -> None:
        """Ends every open event (the process stops: the objects are not seen any more)."""
        for cam in self._cams.values():
            if cam.last_clock is None:
                continue
            cam.tracker.end_all()
            cam.live = False
            self._emit(cam, cam.lifecycle.end_all(cam.last_clock), cam.last_clock)
        for p in self._owned:
            try:
                p.close()
            except Exception:
                log.exception("closing object events output %s failed", type(p).__name__)
