from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from camera_app.detect.boxes import iou_xyxy
from camera_app.detect.nms import nms_class_aware


def brute_force_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_t: float, max_det: int
) -> list[int]:
    """Textbook greedy NMS, one pair at a time, in plain Python."""

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if len(keep) == max_det:
            break
        if all(classes[k] != classes[i] or iou(boxes[k], boxes[i]) <= iou_t for k in keep):
            keep.append(i)
    return keep


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
    iou_t=st.floats(0.05, 0.95),
    max_det=st.integers(1, 30),
    n_classes=st.integers(1, 4),
)
def test_nms_equals_brute_force(
    n: int, seed: int, iou_t: float, max_det: int, n_classes: int
) -> None:
    """The same boxes, in the same order, as the textbook walk, ties in score included."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(1, 40, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    # Quantized-looking scores make ties common, which exercises the ordering rule.
    scores = (rng.integers(0, 20, n) / 20).astype(np.float32)
    classes = rng.integers(0, n_classes, n).astype(np.int32)
    # OpenCV computes IoU in float64, the reference in float32: a pair within rounding of the
    # threshold may fall either side, so such draws say nothing about the walk.
    assume(not np.any(np.abs(iou_xyxy(boxes, boxes) - iou_t) < 1e-5))
    got = nms_class_aware(boxes, scores, classes, iou_threshold=iou_t, max_detections=max_det)
    assert got.tolist() == brute_force_nms(boxes, scores, classes, iou_t, max_det)


def test_many_boxes_equal_brute_force() -> None:
    """A thousand boxes of three classes (an unthresholded head's worth), in one call."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 600, (1000, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 90, (1000, 2))], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, 1000).astype(np.float32)
    classes = rng.integers(0, 3, 1000).astype(np.int32)
    got = nms_class_aware(boxes, scores, classes, iou_threshold=0.45, max_detections=300)
    want = brute_force_nms(boxes, scores, classes, 0.45, 300)
    assert len(want) > 50
    assert got.tolist() == want


def test_different_classes_never_suppress_each_other() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    classes = np.array([1, 2, 1], np.int32)
    got = nms_class_aware(boxes, scores, classes, iou_threshold=0.5, max_detections=10)
    assert got.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_iou_values(a: list[float], b: list[float], expected: float) -> None:
    got = iou_xyxy(np.array([a], np.float32), np.array([b], np.float32))[0, 0]
    assert got == pytest.approx(expected, rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 12), m=st.integers(0, 12), seed=st.integers(0, 2**32 - 1))
def test_iou_matrix_equals_pairwise_float32(n: int, m: int, seed: int) -> None:
    """Every entry equals the pair's IoU in float32 scalar steps, to the bit: inverted and
    empty boxes included (their extents count as 0)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-5, 50, (n, 4)).astype(np.float32)
    b = rng.uniform(-5, 50, (m, 4)).astype(np.float32)
    if n and m:
        b[0] = a[0]  # an identical pair
    got = iou_xyxy(a, b)
    assert got.shape == (n, m)
    assert got.dtype == np.float32
    zero = np.float32(0)
    for i in range(n):
        for j in range(m):
            p, q = a[i], b[j]
            ix = max(zero, min(p[2], q[2]) - max(p[0], q[0]))
            iy = max(zero, min(p[3], q[3]) - max(p[1], q[1]))
            inter = ix * iy
            area_p = max(zero, p[2] - p[0]) * max(zero, p[3] - p[1])
            area_q = max(zero, q[2] - q[0]) * max(zero, q[3] - q[1])
            union = area_p + area_q - inter
            want = inter / union if union > 0 else zero
            assert got[i, j] == want, (i, j)
