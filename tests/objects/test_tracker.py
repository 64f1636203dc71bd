"""The tracker: exact cases, and properties over random scenes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.detections import Detections
from camera_app.objects.tracker import Tracker, TrackerParams, greedy_match
from tests.objects.builders import Mover, dets, scene

BOX = (100.0, 100.0, 200.0, 300.0)


def step(tracker: Tracker, boxes: list[tuple[float, ...]], t: float, scores=None):  # type: ignore[no-untyped-def]
    return tracker.update(dets(boxes, scores), t)


@pytest.mark.parametrize(
    ("iou", "expected"),
    [
        ([[0.9, 0.1], [0.8, 0.7]], [(0, 0), (1, 1)]),
        # the best pair goes first even when it leaves a worse one for another row
        ([[0.6, 0.5], [0.9, 0.0]], [(1, 0), (0, 1)]),
        ([[0.1, 0.15]], []),  # nothing reaches iou_min
        ([[0.5], [0.5]], [(0, 0)]),  # a tie: the first row wins, once
    ],
)
def test_greedy_match(iou: list[list[float]], expected: list[tuple[int, int]]) -> None:
    assert greedy_match(np.asarray(iou, np.float32), 0.2) == expected


def test_greedy_match_empty() -> None:
    assert greedy_match(np.zeros((0, 3), np.float32), 0.2) == []


def test_birth_after_min_hits_then_same_id() -> None:
    tr = Tracker(TrackerParams(min_hits=3))
    confirmed = []
    for k in range(5):
        tracks, ended = step(tr, [BOX], k * 0.1)
        assert ended == []
        assert [t.track_id for t in tracks] == [1]
        confirmed.append(tracks[0].confirmed)
    assert confirmed == [False, False, True, True, True]


def test_a_tentative_track_that_misses_a_frame_is_dropped_silently() -> None:
    tr = Tracker(TrackerParams(min_hits=3))
    step(tr, [BOX], 0.0)
    step(tr, [BOX], 0.1)
    tracks, ended = step(tr, [], 0.2)
    assert tracks == []
    assert ended == []
    tracks, _ = step(tr, [BOX], 0.3)
    assert [t.track_id for t in tracks] == [2]  # a new one


@pytest.mark.parametrize(
    ("gap_s", "ends"),
    [(1.9, False), (2.0, False), (2.01, True), (5.0, True)],
)
def test_death_after_max_age_seconds_not_frames(gap_s: float, ends: bool) -> None:
    tr = Tracker(TrackerParams(min_hits=1, max_age_s=2.0))
    step(tr, [BOX], 0.0)
    # many empty frames before the gap, or one: only the time counts
    for k in range(1, 50):
        tracks, ended = step(tr, [], min(gap_s, 1.99) * k / 50)
        assert ended == []
    tracks, ended = step(tr, [], gap_s)
    assert ended == ([1] if ends else [])
    assert [t.track_id for t in tracks] == ([] if ends else [1])


def test_expire_ends_by_the_clock_what_no_frame_came_for() -> None:
    tr = Tracker(TrackerParams(min_hits=2, max_age_s=2.0))
    step(tr, [BOX], 0.0)
    step(tr, [BOX], 0.1)  # confirmed, last seen at 0.1
    step(tr, [(400.0, 400.0, 450.0, 450.0)], 0.5)  # a tentative one, last seen at 0.5
    assert tr.expire(2.1) == (True, [])  # unseen 2.0 s: not yet
    assert tr.expire(2.2) == (True, [1])  # the confirmed one ends; the tentative lives on
    assert tr.expire(2.6) == (False, [])  # the tentative one goes without an end
    tracks, _ = step(tr, [BOX], 2.7)  # the camera is back: a new track, not the old one
    assert [t.track_id for t in tracks] == [3]


def test_one_frame_gap_at_10fps_or_1fps_keeps_the_id() -> None:
    for dt in (0.1, 1.0):
        tr = Tracker(TrackerParams(min_hits=1, max_age_s=2.5))
        step(tr, [BOX], 0.0)
        step(tr, [], dt)
        tracks, _ = step(tr, [BOX], 2 * dt)
        assert [(t.track_id, t.matched) for t in tracks] == [(1, True)]


def test_low_score_continues_a_confirmed_track_but_never_starts_one() -> None:
    tr = Tracker(TrackerParams(high_score=0.5, low_score=0.3, min_hits=2))
    step(tr, [BOX], 0.0)
    step(tr, [BOX], 0.1)
    tracks, _ = step(tr, [BOX], 0.2, scores=[0.35])  # dips under the threshold
    assert [(t.track_id, t.matched, t.score) for t in tracks] == [(1, True, pytest.approx(0.35))]
    # a low-score detection elsewhere starts nothing
    tracks, _ = step(tr, [BOX, (600, 100, 700, 300)], 0.3, scores=[0.9, 0.4])
    assert [t.track_id for t in tracks] == [1]
    # under low_score it is not even a second-pass candidate
    tracks, _ = step(tr, [BOX], 0.4, scores=[0.2])
    assert [(t.track_id, t.matched) for t in tracks] == [(1, False)]


def test_motion_prediction_follows_a_fast_object() -> None:
    # 100 px wide, moving 60 px per frame: consecutive boxes overlap with IoU 0.25, the
    # prediction with IoU 1; across a gap frame the raw boxes do not overlap at all.
    tr = Tracker(TrackerParams(min_hits=1, iou_min=0.2))
    for k in range(4):
        tracks, _ = step(tr, [(k * 60.0, 0, k * 60.0 + 100, 100)], k * 0.1)
    step(tr, [], 0.4)
    tracks, _ = step(tr, [(5 * 60.0, 0, 5 * 60.0 + 100, 100)], 0.5)
    assert [(t.track_id, t.matched) for t in tracks] == [(1, True)]


def test_without_prediction_the_same_gap_breaks_the_track() -> None:
    tr = Tracker(TrackerParams(min_hits=1, iou_min=0.2, max_predict_s=0.0))
    for k in range(4):
        step(tr, [(k * 60.0, 0, k * 60.0 + 100, 100)], k * 0.1)
    step(tr, [], 0.4)
    tracks, _ = step(tr, [(5 * 60.0, 0, 5 * 60.0 + 100, 100)], 0.5)
    assert sorted(t.track_id for t in tracks) == [1, 2]


def test_unmatched_confirmed_track_reports_its_prediction() -> None:
    tr = Tracker(TrackerParams(min_hits=1))
    step(tr, [(0, 0, 10, 10)], 0.0)
    step(tr, [(5, 0, 15, 10)], 1.0)  # 5 px/s to the right
    tracks, _ = step(tr, [], 1.5)
    assert tracks[0].box_xyxy == pytest.approx((7.5, 0, 17.5, 10))
    assert tracks[0].score == 0.0
    assert not tracks[0].matched


def labelled(name: str, score: float) -> Detections:
    d = dets([BOX], [score], [name])
    return Detections(
        d.boxes_xyxy, d.scores, np.array([{"cat": 16, "dog": 17}[name]], np.int32), d.labels
    )


def test_another_label_in_the_same_place_is_another_object() -> None:
    tr = Tracker(TrackerParams(min_hits=1))
    tr.update(labelled("cat", 0.9), 0.0)
    tracks, _ = tr.update(labelled("dog", 0.9), 0.1)
    assert [(t.track_id, t.label, t.matched) for t in tracks] == [
        (1, "cat", False),
        (2, "dog", True),
    ]


def test_across_labels_the_label_is_the_class_with_the_most_summed_score() -> None:
    tr = Tracker(TrackerParams(min_hits=1, match_labels=False))
    labels = []
    for k, (name, score) in enumerate([("cat", 0.9), ("dog", 0.6), ("dog", 0.6), ("cat", 0.6)]):
        tracks, _ = tr.update(labelled(name, score), k * 0.1)
        labels.append(tracks[0].label)
    # cat 0.9, dog 0.6 | dog 1.2 | cat 1.5
    assert labels == ["cat", "cat", "dog", "cat"]


def test_time_going_backwards_is_held() -> None:
    tr = Tracker(TrackerParams(min_hits=1, max_age_s=1.0))
    step(tr, [BOX], 10.0)
    tracks, ended = step(tr, [], 5.0)
    assert [t.track_id for t in tracks] == [1]
    assert ended == []


def test_end_all() -> None:
    tr = Tracker(TrackerParams(min_hits=2))
    step(tr, [BOX, (400, 0, 500, 100)], 0.0)
    step(tr, [BOX], 0.1)
    assert tr.end_all() == [1]
    assert step(tr, [], 0.2) == ([], [])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"low_score": 0.6, "high_score": 0.5},
        {"iou_min": 0.0},
        {"min_hits": 0},
        {"max_age_s": 0.0},
        {"velocity_smoothing": 0.0},
    ],
)
def test_bad_params(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"expected|must"):
        TrackerParams(**kwargs)  # type: ignore[arg-type]


# ---- clips with known paths (the demo's way: objects sliding across a canvas) ---------------

CLIP = [
    Mover("walker", (80, 200), (0, 300), (120, 0), 0.0, 8.0),
    # 150 px/s: at 5 fps it overlaps its previous box by IoU 0.33 (the first match of a track
    # needs overlap; its velocity is unknown until then)
    Mover("runner", (60, 150), (1200, 100), (-150, 10), 1.0, 7.5),
    Mover("parked", (300, 150), (500, 500), (0, 0), 0.0, 20.0, "car"),
    Mover("late", (100, 100), (200, 50), (0, 40), 10.0, 14.0, "dog"),
]


def run_clip(fps: float, seconds: float, drop_every: int = 0, dip_every: int = 0):  # type: ignore[no-untyped-def]
    """Track the clip; returns {mover: [track ids it got]} and the ended ids with times."""
    tr = Tracker(TrackerParams(min_hits=3, max_age_s=1.0))
    ids: dict[str, list[int]] = {}
    ended_at: dict[int, float] = {}
    n = round(fps * seconds)
    for k in range(n):
        t = k / fps
        d, names = scene(CLIP, t)
        if drop_every and k % drop_every == 3 and len(d):  # the detector misses one object
            keep = np.arange(len(d)) != 0
            labels = tuple(x for x, k2 in zip(d.labels, keep, strict=True) if k2)
            d = Detections(d.boxes_xyxy[keep], d.scores[keep], d.class_ids[keep], labels)
            names = [x for x, k2 in zip(names, keep, strict=True) if k2]
        if dip_every and k % dip_every == 5 and len(d):
            scores = d.scores.copy()
            scores[-1] = 0.35  # one object's score dips under the threshold
            d = Detections(d.boxes_xyxy, scores, d.class_ids, d.labels)
        tracks, ended = tr.update(d, t)
        for e in ended:
            ended_at[e] = t
        by_box = {t2.box_xyxy: t2 for t2 in tracks if t2.matched and t2.confirmed}
        for i, name in enumerate(names):
            box = tuple(float(v) for v in d.boxes_xyxy[i])
            if box in by_box:
                got = ids.setdefault(name, [])
                if not got or got[-1] != by_box[box].track_id:
                    got.append(by_box[box].track_id)
    return ids, ended_at


@pytest.mark.parametrize("fps", [5.0, 15.0, 30.0])
@pytest.mark.parametrize(("drop_every", "dip_every"), [(0, 0), (7, 0), (0, 6), (5, 9)])
def test_clip_one_track_per_object_no_switch(fps: float, drop_every: int, dip_every: int) -> None:
    ids, ended_at = run_clip(fps, 20.0, drop_every, dip_every)
    assert set(ids) == {"walker", "runner", "parked", "late"}
    assert all(len(v) == 1 for v in ids.values()), ids  # no switch, no fragment
    assert len({v[0] for v in ids.values()}) == 4
    # each object that left ended once, 1 s (max_age_s) after it was last seen, within a frame
    for name, leave in (("walker", 8.0), ("runner", 7.5), ("late", 14.0)):
        t_end = ended_at[ids[name][0]]
        assert leave + 1.0 - 1 / fps <= t_end <= leave + 1.0 + 2 / fps, (name, t_end)
    assert ids["parked"][0] not in ended_at


# ---- properties -----------------------------------------------------------------------------

boxes_st = st.lists(
    st.tuples(st.floats(0, 1000), st.floats(0, 1000), st.floats(5, 200), st.floats(5, 200)).map(
        lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(boxes_st, st.floats(0.01, 3.0)), max_size=12))
def test_properties_over_random_frames(frames: list[tuple[list[tuple[float, ...]], float]]) -> None:
    tr = Tracker(TrackerParams(min_hits=2, max_age_s=1.0))
    t = 0.0
    alive: set[int] = set()
    ever_ended: set[int] = set()
    for boxes, dt in frames:
        t += dt
        tracks, ended = tr.update(dets(boxes), t)
        ids = [x.track_id for x in tracks]
        assert len(ids) == len(set(ids))  # ids unique
        assert not set(ids) & ever_ended  # an ended id never comes back
        assert set(ended) <= alive  # only confirmed tracks end, once
        ever_ended |= set(ended)
        matched = [x for x in tracks if x.matched]
        assert len(matched) <= len(boxes)  # each detection feeds at most one track
        for x in matched:
            assert x.box_xyxy in {tuple(float(v) for v in b) for b in dets(boxes).boxes_xyxy}
        for x in tracks:
            assert t - x.last_seen_s <= 1.0 + 1e-9
        alive = {x.track_id for x in tracks if x.confirmed}


@settings(max_examples=40, deadline=None)
@given(boxes_st, st.integers(3, 10))
def test_property_still_objects_keep_their_ids(boxes: list[tuple[float, ...]], n: int) -> None:
    # Boxes that do not overlap each other (IoU < iou_min) stay one track each, forever.
    d = dets(boxes)
    from camera_app.detect.boxes import iou_xyxy

    iou = iou_xyxy(d.boxes_xyxy, d.boxes_xyxy)
    np.fill_diagonal(iou, 0)
    if len(boxes) and iou.max() >= 0.2:
        return
    tr = Tracker(TrackerParams(min_hits=2))
    first = None
    for k in range(n):
        tracks, ended = tr.update(d, k * 0.1)
        assert ended == []
        ids = sorted(x.track_id for x in tracks)
        first = first or ids
        assert ids == first
    assert len(first or []) == len(boxes)
