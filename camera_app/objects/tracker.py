"""Multi-object tracking by IoU with motion prediction (numpy only).

Each call to :meth:`Tracker.update` takes one frame's detections and its capture time and
returns the tracks, with ids that stay stable while the object is seen:

1. every live track is moved to where its velocity (pixels per second of each box corner)
   puts it at this frame's time, so a fast object still overlaps its prediction;
2. detections scoring at least ``high_score`` are matched to tracks by IoU, greedily, best
   pair first (fast and deterministic; scenes here hold tens of objects, not thousands);
3. the confirmed tracks left over get a second chance with the detections between
   ``low_score`` and ``high_score`` (ByteTrack's idea): an object whose score dips for a frame
   keeps its id, while a low score alone never starts a track;
4. a high-score detection left over starts a tentative track, confirmed after ``min_hits``
   matches in a row; a tentative track that misses a frame is dropped (most false positives);
5. a confirmed track unmatched for longer than ``max_age_s`` of capture time ends. Time, not
   frames: the result rate varies with load and cameras. When no frame comes at all (the
   camera is down), :meth:`Tracker.expire` ends them by the clock instead.

Matching is within a label by default: when a cat walks where a person stood, that is a new
object, not the person changing kind. With ``match_labels=False`` matching ignores the label
(for a detector that flips cat/dog on one object) and a track's label is the one with the
largest summed score over its matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import iou_xyxy
from camera_app.detect.detections import Detections

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrackerParams:
    high_score: float = 0.5  # a detection this good can start or continue a track
    low_score: float = 0.3  # second pass only: continue a confirmed track, never start one
    iou_min: float = 0.2  # a lower overlap with the prediction is not the same object
    min_hits: int = 3  # matches in a row before a track is confirmed
    max_age_s: float = 2.0  # a confirmed track unmatched this long ends
    max_predict_s: float = 1.0  # extrapolate motion at most this far past the last match
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement
    match_labels: bool = True  # a detection continues only a track of its own label

    def __post_init__(self) -> None:
        if not 0 < self.low_score <= self.high_score <= 1:
            raise ValueError(
                f"expected 0 < low_score <= high_score <= 1, got {self.low_score} and "
                f"{self.high_score}"
            )
        if not 0 < self.iou_min < 1:
            raise ValueError(f"iou_min: expected a number in (0, 1), got {self.iou_min}")
        if self.min_hits < 1:
            raise ValueError(f"min_hits: expected an integer >= 1, got {self.min_hits}")
        if not self.max_age_s > 0 or not self.max_predict_s >= 0:
            raise ValueError("max_age_s must be > 0 and max_predict_s >= 0")
        if not 0 < self.velocity_smoothing <= 1:
            raise ValueError(f"velocity_smoothing: expected (0, 1], got {self.velocity_smoothing}")


class Track(NamedTuple):
    """One track after an update: where it is, what it is, since when (a NamedTuple: tens of
    them are built per frame, and a tuple is the cheapest immutable value)."""

    track_id: int
    box_xyxy: tuple[float, float, float, float]  # pixels: the matched box, or the prediction
    score: float  # of this frame's match; 0.0 when unmatched
    label: str
    confirmed: bool
    matched: bool  # matched in this frame
    first_seen_s: float
    last_seen_s: float
    hits: int


def greedy_match(iou: F32, iou_min: float) -> list[tuple[int, int]]:
    """(row, column) pairs, highest IoU first, each row and column at most once, IoU >= min."""
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou >= iou_min)
    if rows.size == 0:
        return []
    order = np.argsort(-iou[rows, cols], kind="stable").tolist()
    rows_l, cols_l = rows.tolist(), cols.tolist()
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = rows_l[k], cols_l[k]
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


class Tracker:
    """One camera's tracks. Not thread-safe: one caller (the outputs thread) per camera.

    The state is kept in parallel arrays (one row per live track) so one update costs a
    fixed handful of numpy calls, whatever the number of objects.
    """

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self._ids = np.zeros(0, np.int64)
        self._boxes = np.zeros((0, 4), np.float32)
        self._velocity = np.zeros((0, 4), np.float32)
        self._last_seen = np.zeros(0, np.float64)
        self._first_seen = np.zeros(0, np.float64)
        self._hits = np.zeros(0, np.int64)
        self._scores = np.zeros(0, np.float32)
        self._confirmed = np.zeros(0, bool)
        self._classes = np.zeros(0, np.int32)  # the class id each track started with
        self._votes: list[dict[str, float]] = []  # label-blind matching only
        self._labels: list[str] = []
        self._next_id = 1
        self._last_now_s: float | None = None

    def _predicted(self, now_s: float) -> F32:
        dt = np.clip(now_s - self._last_seen, 0.0, self.params.max_predict_s)
        out: F32 = (self._boxes + self._velocity * dt[:, None].astype(np.float32)).astype(
            np.float32
        )
        return out

    def update(self, detections: Detections, now_s: float) -> tuple[list[Track], list[int]]:
        """Feed one frame; returns (live tracks, ids of tracks that ended at this frame).

        ``now_s`` is the frame's capture time (monotonic seconds); an older time than the
        previous call's is treated as equal to it (results arrive in capture order).
        """
        p = self.params
        if self._last_now_s is not None:
            now_s = max(now_s, self._last_now_s)
        self._last_now_s = now_s
        predicted = self._predicted(now_s)
        scores = detections.scores
        high = np.flatnonzero(scores >= p.high_score)
        low = np.flatnonzero((scores >= p.low_score) & (scores < p.high_score))

        track_rows: list[int] = []
        det_rows: list[int] = []
        used_high = np.zeros(high.size, bool)
        for ti, di in greedy_match(self._iou(predicted, detections, high), p.iou_min):
            track_rows.append(ti)
            det_rows.append(int(high[di]))
            used_high[di] = True
        free = np.ones(self._ids.size, bool)
        free[track_rows] = False
        left = np.flatnonzero(free & self._confirmed)
        if left.size and low.size:
            iou = self._iou(predicted, detections, low, left)
            for ti, di in greedy_match(iou, p.iou_min):
                track_rows.append(int(left[ti]))
                det_rows.append(int(low[di]))
        matched = np.zeros(self._ids.size, bool)
        if track_rows:
            self._match(np.asarray(track_rows), detections, np.asarray(det_rows), now_s)
            matched[track_rows] = True

        # Confirmed tracks live on unmatched up to max_age_s; tentative ones die at a miss.
        alive = matched | (self._confirmed & (now_s - self._last_seen <= p.max_age_s))
        ended = self._ids[self._confirmed & ~alive].tolist()
        self._keep(alive)
        matched = matched[alive]
        born = high[~used_high]
        if born.size:
            self._born(detections, born, now_s)
            matched = np.concatenate([matched, np.ones(born.size, bool)])
        self._confirmed |= self._hits >= p.min_hits
        return self._tracks(predicted[alive], matched), [int(i) for i in ended]

    def _iou(self, predicted: F32, d: Detections, cols: npt.NDArray[np.int_],
             rows: npt.NDArray[np.int_] | None = None) -> F32:  # fmt: skip
        """IoU of (some) tracks' predictions with some detections, 0 across labels."""
        pred = predicted if rows is None else predicted[rows]
        iou = iou_xyxy(pred, d.boxes_xyxy[cols])
        if self.params.match_labels and iou.size:
            classes = self._classes if rows is None else self._classes[rows]
            iou[classes[:, None] != d.class_ids[cols][None, :]] = 0.0
        return iou

    def _match(self, rows: npt.NDArray[np.int_], d: Detections, cols: npt.NDArray[np.int_],
               now_s: float) -> None:  # fmt: skip
        box = d.boxes_xyxy[cols].astype(np.float32)
        dt = (now_s - self._last_seen[rows]).astype(np.float32)
        moved = dt > 0
        measured = (box - self._boxes[rows]) / np.where(moved, dt, 1.0)[:, None]
        a = np.where(self._hits[rows] > 1, np.float32(self.params.velocity_smoothing), 1.0)
        a = np.where(moved, a, 0.0).astype(np.float32)[:, None]
        self._velocity[rows] = a * measured + (1 - a) * self._velocity[rows]
        self._boxes[rows] = box
        self._scores[rows] = d.scores[cols]
        self._last_seen[rows] = now_s
        self._hits[rows] += 1
        if self.params.match_labels:
            return  # a track's label is the one it started with
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            votes = self._votes[r]
            label = d.labels[c]
            votes[label] = votes.get(label, 0.0) + float(d.scores[c])
            self._labels[r] = max(votes, key=votes.__getitem__)

    def _keep(self, rows: npt.NDArray[np.bool_]) -> None:
        self._ids, self._boxes, self._velocity = (
            self._ids[rows],
            self._boxes[rows],
            self._velocity[rows],
        )
        self._last_seen, self._first_seen = self._last_seen[rows], self._first_seen[rows]
        self._hits, self._scores, self._confirmed = (
            self._hits[rows],
            self._scores[rows],
            self._confirmed[rows],
        )
        self._classes = self._classes[rows]
        keep = rows.tolist()
        self._votes = [v for v, k in zip(self._votes, keep, strict=True) if k]
        self._labels = [v for v, k in zip(self._labels, keep, strict=True) if k]

    def _born(self, d: Detections, cols: npt.NDArray[np.int_], now_s: float) -> None:
        n = cols.size
        new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self._ids = np.concatenate([self._ids, new_ids])
        self._boxes = np.concatenate([self._boxes, d.boxes_xyxy[cols].astype(np.float32)])
        self._velocity = np.concatenate([self._velocity, np.zeros((n, 4), np.float32)])
        self._last_seen = np.concatenate([self._last_seen, np.full(n, now_s)])
        self._first_seen = np.concatenate([self._first_seen, np.full(n, now_s)])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._scores = np.concatenate([self._scores, d.scores[cols].astype(np.float32)])
        self._confirmed = np.concatenate([self._confirmed, np.zeros(n, bool)])
        self._classes = np.concatenate([self._classes, d.class_ids[cols].astype(np.int32)])
        self._votes += [{d.labels[c]: float(d.scores[c])} for c in cols.tolist()]
        self._labels += [d.labels[c] for c in cols.tolist()]

    def _tracks(self, predicted: F32, matched: npt.NDArray[np.bool_]) -> list[Track]:
        """``predicted``: this frame's prediction of the tracks that were live before it."""
        n = predicted.shape[0]
        boxes = self._boxes.copy()
        unmatched = np.flatnonzero(~matched[:n])
        boxes[unmatched] = predicted[unmatched]
        boxes_l = boxes.tolist()
        scores = np.where(matched, self._scores, 0.0).tolist()
        return [
            Track(tid, (b[0], b[1], b[2], b[3]), sc, label, conf, m,
                  first, last, hits)
            for tid, b, sc, label, conf, m, first, last, hits in zip(
                self._ids.tolist(), boxes_l, scores, self._labels, self._confirmed.tolist(),
                matched.tolist(), self._first_seen.tolist(), self._last_seen.tolist(),
                self._hits.tolist(), strict=True,
            )
        ]  # fmt: skip

    def expire(self, now_s: float) -> tuple[bool, list[int]]:
        """Ends the tracks unseen for longer than ``max_age_s`` at ``now_s``, between frames
        (the camera gave none: it is down or stalled), tentative ones too. Returns whether
        tracks are left, and the ids of the confirmed tracks that ended."""
        alive = now_s - self._last_seen <= self.params.max_age_s
        ended = [int(i) for i in self._ids[self._confirmed & ~alive]]
        self._keep(alive)
        return bool(self._ids.size), ended

    def end_all(self) -> list[int]:
        """Ends every confirmed track (at shutdown); returns their ids."""
        ended = [int(i) for i in self._ids[self._confirmed]]
        self._keep(np.zeros(self._ids.size, bool))
        return ended
