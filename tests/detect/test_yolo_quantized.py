"""Quantized-domain filtering of YOLO heads equals dequantizing everything first.

The reference here dequantizes the whole head, computes every anchor's confidence (YOLOv8:
the class score; YOLOv5: objectness x class score), takes the best class, thresholds, and
decodes the boxes of what passed: the plain way, written in the test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.decode import Candidates, Thresholds
from camera_app.detect.yolo_common import BoxUnits, HeadSpec
from camera_app.detect.yolo_e2e import YoloE2EDecoder
from camera_app.detect.yolov5 import ObjectnessGate, objectness_reach, v5_candidates
from camera_app.detect.yolov8 import v8_candidates

ALL = 10**6  # no top-k cut: every passing anchor is compared


def _deq(q: npt.NDArray[np.integer], scale: float, zp: int) -> npt.NDArray[np.float32]:
    return (q.astype(np.int64) - zp).astype(np.float32) * np.float32(scale)


def _reference(
    head_fn: npt.NDArray[np.float32], objectness: bool, threshold: float, scale_xy: float
) -> set[tuple[int, float, tuple[float, ...]]]:
    """head_fn: [F, N] real values -> {(class, score, box yxyx)} of the passing anchors."""
    first = 5 if objectness else 4
    out = set()
    for n in range(head_fn.shape[1]):
        col = head_fn[:, n]
        conf = col[first:] * col[4] if objectness else col[first:]
        c = int(np.argmax(conf))
        if conf[c] >= np.float32(threshold):
            # In float32, as a decoder computes boxes.
            f = np.float32(scale_xy)
            cx, cy, w, h = (v * f for v in col[:4])
            hw, hh = w * (f / np.float32(2)), h * (f / np.float32(2))
            box = tuple(
                round(float(min(max(v, np.float32(0)), np.float32(1))), 6)
                for v in (cy - hh, cx - hw, cy + hh, cx + hw)
            )
            out.add((c, round(float(conf[c]), 6), box))
    return out


def _ours(c: Candidates) -> set[tuple[int, float, tuple[float, ...]]]:
    return {
        (int(k), round(float(s), 6), tuple(round(float(v), 6) for v in b))
        for k, s, b in zip(c.class_ids, c.scores, c.boxes_yxyx, strict=True)
    }


heads = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["int8", "uint8"]),
        "scale": st.floats(0.001, 0.02),
        "zp_frac": st.floats(0.0, 0.3),
        "classes": st.integers(1, 12),
        "anchors": st.integers(1, 200),
        "threshold": st.floats(0.05, 0.95),
        "seed": st.integers(0, 2**32 - 1),
        "channels_first": st.booleans(),
    }
)


def _random_head(p: dict[str, Any], features: int) -> tuple[np.ndarray, float, int]:
    info = np.iinfo(np.dtype(str(p["dtype"])))
    zp = int(info.min + float(p["zp_frac"]) * (info.max - info.min))
    rng = np.random.default_rng(int(p["seed"]))
    q = rng.integers(info.min, info.max, (features, int(p["anchors"])), endpoint=True)
    return q.astype(str(p["dtype"])), float(p["scale"]), zp


@settings(max_examples=200, deadline=None)
@given(heads)
def test_v8_quantized_threshold_equals_dequantize_everything(p: dict[str, Any]) -> None:
    features = 4 + int(p["classes"])
    q, scale, zp = _random_head(p, features)
    channels_first = bool(p["channels_first"])
    head = q if channels_first else np.ascontiguousarray(q.T)
    spec = HeadSpec(channels_first, 4, features - 4, (scale, zp), (1.0, 1.0))
    th = Thresholds(score=float(p["threshold"]), pre_nms_top_k=ALL)
    got = _ours(v8_candidates(head, spec, th))
    assert got == _reference(_deq(q, scale, zp), False, th.score, 1.0)


@settings(max_examples=200, deadline=None)
@given(heads)
def test_v5_objectness_filter_equals_dequantize_everything(p: dict[str, Any]) -> None:
    features = 5 + int(p["classes"])
    q, scale, zp = _random_head(p, features)
    head = np.ascontiguousarray(q.T)  # YOLOv5 heads are [N, 5+C]
    spec = HeadSpec(False, 5, features - 5, (scale, zp), (1.0, 1.0))
    gate = ObjectnessGate.of(str(p["dtype"]), scale, zp)
    th = Thresholds(score=float(p["threshold"]), pre_nms_top_k=ALL)
    got = _ours(v5_candidates(head, spec, th, gate))
    assert got == _reference(_deq(q, scale, zp), True, th.score, 1.0)


def test_v5_reach_counts_negative_levels() -> None:
    """Below the zero point both factors are negative: their product is positive."""
    reach = objectness_reach("int8", 0.5, 0)
    lowest = np.int8(-128).view(np.uint8)
    assert reach[lowest] == np.float32(64 * 64)  # (-128 * 0.5) * (-128 * 0.5)


@pytest.mark.parametrize(
    ("dtype", "scale", "zp", "threshold", "split"),
    [
        ("uint8", 0.004483, 3, 0.5, True),  # the shared YOLOv5n head's quantization
        ("int8", 0.004, -128, 0.25, True),
        ("uint8", 0.01, 0, 7.0, True),  # 2.55 x 2.55 is the most: an empty upper range
        ("int8", 0.5, 0, 0.5, False),  # the lowest levels reach it too (negative x negative)
    ],
)
def test_v5_gate_equals_the_reach_table(
    dtype: str, scale: float, zp: int, threshold: float, split: bool
) -> None:
    """The gate's rows are those the reach table allows, by a compare or by the table."""
    gate = ObjectnessGate.of(dtype, scale, zp)
    assert (gate.cut(threshold) is not None) == split
    info = np.iinfo(np.dtype(dtype))
    head = np.arange(info.min, info.max + 1).astype(dtype)[:, None].repeat(6, axis=1)
    allowed = objectness_reach(dtype, scale, zp)[head[:, 4].view(np.uint8)] >= threshold
    assert gate.rows(head[:, 4], threshold).tolist() == np.flatnonzero(allowed).tolist()


def test_v8_allow_list_filters_after_the_best_class() -> None:
    head = np.zeros((6, 2), np.float32)
    head[:4] = [[0.5, 0.5], [0.5, 0.5], [0.2, 0.2], [0.2, 0.2]]
    head[4:, 0] = [0.9, 0.6]  # anchor 0: best class 0
    head[4:, 1] = [0.1, 0.8]  # anchor 1: best class 1
    spec = HeadSpec(True, 4, 2, None, (1.0, 1.0))
    c = v8_candidates(head, spec, Thresholds(score=0.5, allowed_classes=frozenset({1})))
    assert c.class_ids.tolist() == [1]
    assert c.scores.tolist() == [np.float32(0.8)]


def _e2e(quant: tuple[float, int] | None, pixels: bool) -> YoloE2EDecoder:
    units = BoxUnits(pixels, "test")
    scale = (1 / 640, 1 / 480) if pixels else (1.0, 1.0)
    return YoloE2EDecoder(0, quant, scale, units, 3)


E2E_ROWS = np.array(
    [
        [0.1, 0.2, 0.3, 0.4, 0.9, 2.0],
        [0.5, 0.5, 0.6, 0.7, 0.6, 0.0],
        [0.0, 0.0, 1.0, 1.0, 0.2, 1.0],  # below the threshold
    ],
    np.float32,
)


@pytest.mark.parametrize("pixels", [False, True])
def test_end_to_end_head_threshold_and_class_filter_only(pixels: bool) -> None:
    rows = E2E_ROWS.copy()
    if pixels:
        rows[:, [0, 2]] *= 640
        rows[:, [1, 3]] *= 480
    c = _e2e(None, pixels).candidates({0: rows[None]}, Thresholds(score=0.5))
    assert c.class_ids.tolist() == [2, 0]
    np.testing.assert_allclose(c.scores, [0.9, 0.6])
    np.testing.assert_allclose(c.boxes_yxyx[0], [0.2, 0.1, 0.4, 0.3], atol=1e-6)
    only = _e2e(None, pixels).candidates(
        {0: rows[None]}, Thresholds(score=0.5, allowed_classes=frozenset({0}))
    )
    assert only.class_ids.tolist() == [0]


def test_quantized_end_to_end_head_equals_its_dequantized_values() -> None:
    scale, zp = 1 / 64, -100
    q = np.clip(np.round(E2E_ROWS / scale) + zp, -128, 127).astype(np.int8)
    got = _e2e((scale, zp), False).candidates({0: q[None]}, Thresholds(score=0.5))
    real = _deq(q, scale, zp)
    want = _e2e(None, False).candidates({0: real[None]}, Thresholds(score=0.5))
    assert got.class_ids.tolist() == want.class_ids.tolist()
    np.testing.assert_array_equal(got.scores, want.scores)
    np.testing.assert_array_equal(got.boxes_yxyx, want.boxes_yxyx)


def test_a_head_of_no_known_family_lists_what_each_family_missed() -> None:
    from camera_app.detect.families import recognise
    from camera_app.detect.family import ModelView
    from camera_app.detect.graph import GraphInfo, TensorInfo
    from camera_app.errors import OutputLayoutError

    inp = TensorInfo(0, "images", "float32", (1, 64, 64, 3))
    out = TensorInfo(1, "head", "float32", (1, 5, 7))
    graph = GraphInfo((inp,), (out,), {0: inp, 1: out}, ())
    probes = [{1: np.zeros((1, 5, 7), np.float32)}, {1: np.ones((1, 5, 7), np.float32)}]
    with pytest.raises(OutputLayoutError) as info:
        recognise(ModelView(graph, probes, inp), model="m.tflite")
    message = str(info.value)
    assert message.startswith("m.tflite: cannot recognise the outputs as a detector")
    for family in ("ssd-postprocess:", "ssd-raw:", "yolov8:", "yolov5:", "yolo-end-to-end:"):
        assert family in message
    assert "84 grid cells of a 64x64 input" in message
    assert "#0 'head' float32[1, 5, 7]" in message
    assert "\n" not in message
