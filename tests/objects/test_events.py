"""Object events end to end through the objects sink, on clips with known paths."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.detections import Detections
from camera_app.objects.config import LabelFilter, ObjectsConfig, TrackingConfig, ZoneConfig
from camera_app.objects.lifecycle import ObjectEvent
from camera_app.objects.sink import CameraObjects, JsonLines, ObjectsSink, filter_detections
from camera_app.objects.snapshots import Candidate, SnapshotStore
from camera_app.outputs.events import EventsSink
from camera_app.pipeline.types import Result
from tests.objects.builders import Mover, dets, scene
from tests.outputs.builders import make_result

FPS = 10.0
W, H = 1280, 720
IMAGE = np.full((H, W, 3), 60, np.uint8)
DOOR = ZoneConfig("door", ((400, 400), (700, 400), (700, 720), (400, 720)), labels=("person",))
WALKER = Mover("walker", (80, 200), (0, 300), (120, 0), 1.0, 9.0)  # bottom centre y 500
PARKED = Mover("parked", (300, 150), (800, 500), (0, 0), 0.0, 1000.0, "car")


class Recorder:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[ObjectEvent] = []
        self.counted: list[dict[str, int]] = []
        self.snapshots: list[tuple[str, str, bytes]] = []
        self.closed = False

    def event(self, event: ObjectEvent, now_s: float) -> None:
        self.events.append(event)

    def counts(self, camera: str, counts: Mapping[str, int]) -> None:
        self.counted.append(dict(counts))

    def snapshot(self, camera: str, label: str, jpeg: bytes) -> None:
        self.snapshots.append((camera, label, jpeg))

    def close(self) -> None:
        self.closed = True


def make_sink(
    cfg: ObjectsConfig, store: SnapshotStore | None = None
) -> tuple[ObjectsSink, Recorder]:
    rec = Recorder()
    cam = CameraObjects("door", cfg, low_score=0.3, snapshots=store)
    return ObjectsSink([cam], {"door": [rec]}), rec


def play(sink: ObjectsSink, movers: list[Mover], seconds: float, jitter: bool = False) -> None:
    rng = np.random.default_rng(7)
    for k in range(round(seconds * FPS)):
        t = k / FPS
        d, _ = scene(movers, t)
        if jitter and len(d):
            boxes = d.boxes_xyxy + rng.uniform(-1.5, 1.5, d.boxes_xyxy.shape).astype(np.float32)
            scores = rng.uniform(
                0.4, 0.95, len(d)
            )  # dips under high_score (0.6).astype(np.float32)
            d = Detections(boxes, scores, d.class_ids, d.labels)
        sink.handle(make_result("door", k, image=IMAGE, detections=d,
                                capture_monotonic_s=100.0 + t, capture_wall_s=1e9 + t))  # fmt: skip


def at(k: int, d: Detections, image: np.ndarray) -> Result:
    """Frame ``k`` of a clip at FPS."""
    t = k / FPS
    return make_result("door", k, image=image, detections=d, capture_monotonic_s=t,
                       capture_wall_s=1e9 + t)  # fmt: skip


CFG = ObjectsConfig(end_after_s=2.0, update_interval_s=3.0, zones=(DOOR,), zone_inertia=1)


@pytest.mark.parametrize("inertia", [1, 3])
def test_a_walker_starts_once_enters_and_leaves_the_zone_where_its_bottom_centre_crosses(
    inertia: int,
) -> None:
    sink, rec = make_sink(dataclasses.replace(CFG, zone_inertia=inertia))
    play(sink, [WALKER], 14.0)
    kinds = [(e.type.value, e.changes, e.entered, e.left) for e in rec.events]
    # start at the third frame seen (min_hits 3), zone changes at once, one "moved" update
    # between them at most every update_interval_s, one end
    assert kinds[0] == ("start", (), (), ())
    assert kinds[-1][0] == "end"
    zone_events = [e for e in rec.events if "zones" in e.changes]
    assert [(e.entered, e.left) for e in zone_events] == [(("door",), ()), ((), ("door",))]
    # bottom centre x = 40 + 120 (t - 1): at 400 (the edge) when t = 4.0, past 700 after 6.5
    # (with zone_inertia frames, the change counts at the inertia-th frame past the line)
    assert [e.sequence for e in zone_events] == [40 + inertia - 1, 66 + inertia - 1]
    assert rec.events[0].sequence == 12  # seen at frames 10, 11, 12
    assert len({e.event_id for e in rec.events}) == 1
    assert len({e.track_id for e in rec.events}) == 1
    # last seen at t 8.9 (frame 89), ended when unseen > 2 s: frame 110
    assert rec.events[-1].sequence == 110
    assert rec.events[-1].changes == ()  # it left the view: not "stopped"
    assert rec.events[-1].last_seen_wall_s == pytest.approx(1e9 + 8.9)
    assert rec.events[-1].first_seen_wall_s == pytest.approx(1e9 + 1.0)
    for a, b in zip(rec.events, rec.events[1:], strict=False):
        if b.changes == ("moved",):
            assert (b.sequence - a.sequence) / FPS >= 3.0 - 1e-9
    assert rec.counted == [{"person": 1}, {"person": 0}]


def test_a_still_object_gives_one_start_and_nothing_more() -> None:
    sink, rec = make_sink(CFG)
    play(sink, [PARKED], 120.0, jitter=True)
    assert [e.type.value for e in rec.events] == ["start"]
    assert rec.counted == [{"car": 1}]


def test_a_camera_whose_results_stop_ends_its_objects_by_the_clock() -> None:
    """The camera went down with a car in view: after end_after_s without results the car's
    event ends and its count goes to 0, not when (if ever) the camera comes back."""
    sink, rec = make_sink(CFG)  # end_after_s 2
    play(sink, [PARKED], 2.0)  # frames at 100.0 .. 101.9 (capture_monotonic_s)
    assert [e.type.value for e in rec.events] == ["start"]
    for now_s in (101.0, 102.5, 103.8):  # results stopped at 101.9: within end_after_s
        sink.tick(now_s)
    assert [e.type.value for e in rec.events] == ["start"]
    assert sink.keeps_active("door")
    sink.tick(103.95)
    assert [e.type.value for e in rec.events] == ["start", "end"]
    end = rec.events[-1]
    assert end.changes == ("camera_down",)  # not an object that left
    assert end.last_seen_wall_s == pytest.approx(1e9 + 1.9)
    assert rec.counted == [{"car": 1}, {"car": 0}]
    assert sink.view("door")["in_view"] == {}  # type: ignore[index]
    assert not sink.keeps_active("door")
    sink.tick(200.0)
    sink.close()  # nothing left to end
    assert [e.type.value for e in rec.events] == ["start", "end"]


def test_ticks_between_results_that_keep_coming_change_nothing() -> None:
    sink, rec = make_sink(CFG)
    for k in range(30):  # results at 1/s (slower than the clip's 10): still within 2 s
        t = float(k)
        d, _ = scene([PARKED], t)
        sink.handle(make_result("door", k, image=IMAGE, detections=d,
                                capture_monotonic_s=t, capture_wall_s=1e9 + t))  # fmt: skip
        sink.tick(t + 0.99)
    assert [e.type.value for e in rec.events] == ["start"]


def test_close_ends_what_is_open() -> None:
    sink, rec = make_sink(CFG)
    play(sink, [PARKED], 2.0)
    sink.close()
    assert [e.type.value for e in rec.events] == ["start", "end"]
    # An end because the process stops says so; one because the object left does not.
    assert rec.events[-1].changes == ("stopped",)
    assert rec.events[-1].to_json()["changes"] == ["stopped"]


def test_min_score_per_label_holds_the_start_back() -> None:
    cfg = ObjectsConfig(end_after_s=2.0, filters=(LabelFilter("car", min_score=0.95),))
    sink, rec = make_sink(cfg)
    play(sink, [PARKED], 5.0, jitter=True)  # scores 0.4 to 0.95, never >= 0.95 (uniform open)
    assert rec.events == []


@pytest.mark.parametrize(
    ("min_area", "max_area", "kept"),
    [(0, None, 2), (5000, None, 1), (0, 5000, 1), (100_000, None, 0)],
)
def test_area_filters(min_area: float, max_area: float | None, kept: int) -> None:
    d = dets([(0, 0, 50, 50), (0, 0, 100, 100)])  # 2500 and 10000 px
    got = filter_detections(d, {"person": LabelFilter("person", 0.0, min_area, max_area)})
    assert len(got) == kept
    assert len(filter_detections(d, {"cat": LabelFilter("cat", 0.0, 1e9)})) == 2


def test_masked_object_never_starts() -> None:
    from camera_app.objects.config import MaskConfig

    cfg = ObjectsConfig(
        end_after_s=2.0, masks=(MaskConfig(((700, 600), (1280, 600), (1280, 720), (700, 720))),)
    )
    sink, rec = make_sink(cfg)
    play(sink, [PARKED], 5.0)  # bottom centre (950, 650): in the mask
    assert rec.events == []


def test_low_scores_keep_the_event_going_through_a_dip() -> None:
    sink, rec = make_sink(ObjectsConfig(end_after_s=0.5, tracking=TrackingConfig(high_score=0.5)))
    for k in range(60):
        score = 0.35 if 20 <= k < 40 else 0.9  # two seconds under the threshold
        d = dets([(100, 100, 200, 300)], [score])
        sink.handle(at(k, d, IMAGE))
    assert [e.type.value for e in rec.events] == ["start"]


def test_snapshot_written_once_best_by_score_and_size(tmp_path: Path) -> None:
    store = SnapshotStore(str(tmp_path), max_mb=50)
    cfg = ObjectsConfig(end_after_s=1.0, snapshot_delay_s=1.0)
    sink, rec = make_sink(cfg, store)
    image = IMAGE.copy()
    image[100:400, 100:300] = (0, 255, 0)
    for k in range(40):
        big = 12 <= k < 14  # the largest box, but at frames 12 and 13
        box = (100, 100, 300, 400) if big else (150, 150, 250, 350)
        d = dets([box], [0.8])
        sink.handle(at(k, d, image))
    files = sorted(p.name for p in tmp_path.iterdir())
    eid = rec.events[0].event_id
    assert files == [f"door-{eid}-crop.jpg", f"door-{eid}.jpg"]
    assert rec.events[0].snapshot == f"door-{eid}.jpg"
    crop = cv2.imread(str(tmp_path / f"door-{eid}-crop.jpg"))
    assert crop.shape[:2] == (390, 260)  # 300 x 200 with 15% margins: the big one was chosen
    assert len(rec.snapshots) == 1
    assert rec.snapshots[0][:2] == ("door", "person")
    full = cv2.imdecode(np.frombuffer(rec.snapshots[0][2], np.uint8), cv2.IMREAD_COLOR)
    assert full.shape == (H, W, 3)


def test_snapshot_folder_keeps_under_its_limit(tmp_path: Path) -> None:
    store = SnapshotStore(str(tmp_path), max_mb=0.05)  # 50 kB
    sink, _ = make_sink(ObjectsConfig(end_after_s=0.2, snapshot_delay_s=0.0), store)
    noise = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
    t = 0.0
    for k in range(8):  # eight objects one after the other, each its own event
        for _ in range(4):
            d = dets([(100 + 100 * k, 100, 300 + 100 * k, 400)], [0.9])
            sink.handle(make_result("door", k, image=noise, detections=d, capture_monotonic_s=t))
            t += 0.1
        sink.handle(make_result("door", k, image=noise, capture_monotonic_s=t + 1))
        t += 1.1
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert store.written == 8
    assert store.deleted > 0
    assert total <= 50_000


def test_snapshot_folder_deletes_the_oldest_written_whatever_the_file_times(
    tmp_path: Path,
) -> None:
    # Files of an earlier run go first; this run's go in the order it wrote them, though
    # the clock was an hour ahead when the first was written (NTP has set it back since).
    noise = np.random.default_rng(2).integers(0, 255, (H, W, 3), dtype=np.uint8)
    shot = Candidate(1.0, noise, (100.0, 100.0, 400.0, 500.0), "person", 0.9)
    earlier = tmp_path / "door-earlier.jpg"
    earlier.write_bytes(b"\xff\xd8" + b"x" * 1000)
    os.utime(earlier, (time.time() + 7200, time.time() + 7200))  # written with the clock ahead
    store = SnapshotStore(str(tmp_path), max_mb=100)
    store.write("door", "a", shot)
    ahead = time.time() + 3600
    for name in ("door-a.jpg", "door-a-crop.jpg"):
        os.utime(tmp_path / name, (ahead, ahead))
    store.write("door", "b", shot)
    size = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    # Room for b, c and c's crop only: the earlier run's file and a's go.
    store.max_bytes = 2 * (size["door-b.jpg"] + size["door-b-crop.jpg"]) + 500
    store.write("door", "c", shot)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["door-b-crop.jpg", "door-b.jpg", "door-c-crop.jpg", "door-c.jpg"]
    assert store.deleted == 3


def test_snapshot_folder_must_exist(tmp_path: Path) -> None:
    from camera_app.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a folder"):
        SnapshotStore(str(tmp_path / "no" / "such"), 10)
    a_file = tmp_path / "a-file"
    a_file.touch()
    with pytest.raises(ConfigError, match="is not a folder"):
        SnapshotStore(str(a_file), 10)
    SnapshotStore(str(tmp_path / "made"), 10)  # one level is made, as under StateDirectory=
    assert (tmp_path / "made").is_dir()


def test_json_lines_mode(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    writer = EventsSink(str(out))
    cam = CameraObjects("door", CFG, low_score=0.3)
    sink = ObjectsSink([cam], {"door": [JsonLines(writer)]}, owned=[JsonLines(writer)])
    play(sink, [WALKER], 14.0)
    sink.close()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["type"] == "start"
    assert lines[-1]["type"] == "end"
    assert set(lines[0]) == {
        "type", "event_id", "camera", "track_id", "label", "score", "first_seen", "last_seen",
        "zones", "entered", "left", "box_xyxy", "changes", "snapshot", "sequence",
    }  # fmt: skip
    assert lines[0]["first_seen"] == "2001-09-09T01:46:41.000Z"


# started at frame 2 (min_hits 3) outside; frames 3..39 each flip: 37 updates without inertia
@pytest.mark.parametrize(("inertia", "zone_updates"), [(1, 37), (3, 0)])
def test_zone_inertia_stops_flicker_at_the_border(inertia: int, zone_updates: int) -> None:
    sink, rec = make_sink(dataclasses.replace(CFG, zone_inertia=inertia))
    for k in range(40):
        x = 360.0 + (2.0 if k % 2 else -2.0)  # bottom centre at 398 / 402: out / in
        sink.handle(at(k, dets([(x, 300, x + 80, 500)]), IMAGE))
    assert sum("zones" in e.changes for e in rec.events) == zone_updates


def test_health_reports_a_failing_events_file(tmp_path: Path) -> None:
    writer = JsonLines(EventsSink("/dev/full"))
    sink = ObjectsSink([CameraObjects("door", CFG, low_score=0.3)], {"door": [writer]},
                       owned=[writer])  # fmt: skip
    assert sink.health() == (True, 0)
    play(sink, [PARKED], 1.0)  # the start event's line cannot be written
    up, failures = sink.health()
    assert not up
    assert failures == 1


def test_label_blind_tracking_sends_a_label_update() -> None:
    cfg = ObjectsConfig(end_after_s=2.0, tracking=TrackingConfig(match_labels=False))
    sink, rec = make_sink(cfg)
    box = [(100, 100, 200, 300)]
    for k, (label, score) in enumerate([("cat", 0.7)] * 4 + [("dog", 0.9)] * 4):
        d = dets(box, [score], [label])
        d = Detections(d.boxes_xyxy, d.scores, np.array([{"cat": 16, "dog": 17}[label]], np.int32),
                       d.labels)  # fmt: skip
        sink.handle(at(k, d, IMAGE))
    # cat 2.8 after four frames; dog passes it at the fourth dog frame (3.6 > 2.8)
    assert [(e.type.value, e.label, e.changes) for e in rec.events] == [
        ("start", "cat", ()), ("update", "dog", ("label", "score")),
    ]  # fmt: skip
    assert rec.events[1].sequence == 7


@settings(max_examples=60, deadline=None)
@given(
    st.lists(  # objects: grid cell, first frame, frames present, frames it drifts by a cell
        st.tuples(
            st.integers(0, 10),
            st.integers(0, 4),
            st.integers(0, 30),
            st.integers(1, 30),
            st.integers(1, 10),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.floats(0.02, 1.5), min_size=45, max_size=45),
)
def test_property_each_event_id_starts_and_ends_once(
    objects: list[tuple[int, int, int, int, int]], gaps: list[float]
) -> None:
    sink, rec = make_sink(dataclasses.replace(CFG, zone_inertia=2))
    x, y, first, length, _ = objects[0]
    objects = [(x, y, first, max(length, 3), 1000), *objects[1:]]
    t = 0.0
    for k, dt in enumerate(gaps):
        t += dt
        boxes = []
        for x, y, first, length, every in objects:
            if first <= k < first + length:
                cx = 100.0 * (x + (k - first) // every)  # moves a cell every few frames
                boxes.append((cx, 100.0 * y, cx + 120, 100.0 * y + 150))
        sink.handle(make_result("door", k, image=IMAGE, detections=dets(boxes),
                                capture_monotonic_s=t, capture_wall_s=1e9 + t))  # fmt: skip
    sink.close()
    by_id: dict[str, list[ObjectEvent]] = {}
    for e in rec.events:
        by_id.setdefault(e.event_id, []).append(e)
    for evs in by_id.values():
        kinds = [e.type.value for e in evs]
        assert kinds[0] == "start"
        assert kinds[-1] == "end"  # close() ends what is open
        assert kinds.count("start") == kinds.count("end") == 1
        assert len({e.track_id for e in evs}) == 1
        assert all(a.sequence <= b.sequence for a, b in itertools.pairwise(evs))
        assert all(e.first_seen_wall_s <= e.last_seen_wall_s for e in evs)
        for e in evs[1:-1]:
            assert e.changes  # an update always says why
    assert rec.events  # the first object stays still for 3 results or more: it has events
    if rec.counted:
        assert set(rec.counted[-1].values()) == {0}


class TickingRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[float] = []

    def tick(self, now_s: float) -> None:
        self.ticks.append(now_s)


def test_a_publisher_with_a_tick_hears_the_sinks_once_per_tick() -> None:
    # MQTT's per-camera availability follows the cameras on these ticks, results or not.
    ticking, plain = TickingRecorder(), Recorder()
    cams = [CameraObjects(n, ObjectsConfig(), low_score=0.3) for n in ("door", "yard")]
    sink = ObjectsSink(cams, {"door": [ticking, plain], "yard": [ticking]})
    sink.tick(1.0)
    sink.tick(1.5)
    assert ticking.ticks == [1.0, 1.5]  # one publisher of two cameras: one tick each time
