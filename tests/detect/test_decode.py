from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.boxes import (
    CenterSizeCoder,
    CornerOffsetCoder,
    Letterbox,
    yxyx_norm_to_xyxy_px,
)
from camera_app.detect.decode import (
    ScoreFormat,
    Thresholds,
    decode_postprocess,
    select_scores,
)
from camera_app.detect.layout import Activation
from camera_app.detect.quantization import dequantize


def _reference_select(raw: np.ndarray, fmt: ScoreFormat, t: float) -> set[tuple[int, int]]:
    """Dequantize everything, activate everything, then threshold: the slow, obvious way."""
    x = dequantize(raw, fmt.scale, fmt.zero_point) if fmt.quantized else raw.astype(np.float64)
    # Thresholds are float32 in the pipeline; compare in float32 where nothing is activated.
    if fmt.activation is Activation.NONE:
        first = 1 if fmt.background else 0
        rows, cols = np.nonzero(x[:, first:].astype(np.float32) >= np.float32(t))
        return set(zip(rows.tolist(), cols.tolist(), strict=True))
    x = x.astype(np.float64)
    if fmt.activation is Activation.SIGMOID:
        x = 1 / (1 + np.exp(-x))
    elif fmt.activation is Activation.SOFTMAX:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        x = e / e.sum(axis=1, keepdims=True)
    first = 1 if fmt.background else 0
    rows, cols = np.nonzero(x[:, first:] >= t)
    return set(zip(rows.tolist(), cols.tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.floats(0.05, 0.95),
    activation=st.sampled_from([Activation.NONE, Activation.SIGMOID]),
    background=st.booleans(),
    dtype=st.sampled_from(["uint8", "int8"]),
    scale=st.floats(0.002, 0.1),
)
def test_quantized_filter_equals_dequantize_everything(
    seed: int, t: float, activation: Activation, background: bool, dtype: str, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    info = np.iinfo(np.dtype(dtype))
    raw = rng.integers(info.min, info.max, (50, 6), endpoint=True).astype(dtype)
    zp = int(rng.integers(info.min, info.max, endpoint=True))
    fmt = ScoreFormat(activation, background, scale, zp)
    rows, cols, probs = select_scores(raw, fmt, t)
    got = set(zip(rows.tolist(), cols.tolist(), strict=True))
    expected = _reference_select(raw, fmt, t)
    # Entries within float rounding of the threshold may fall either way for the sigmoid.
    if activation is Activation.NONE:
        assert got == expected
    else:
        assert len(got ^ expected) <= 1
    assert np.all(probs >= t - 1e-6)


def test_softmax_scores() -> None:
    raw = np.log(np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], np.float32))
    rows, cols, probs = select_scores(raw, ScoreFormat(Activation.SOFTMAX, True), 0.5)
    assert rows.tolist() == [0]
    assert cols.tolist() == [0]
    assert probs[0] == pytest.approx(0.7, rel=1e-5)


def test_center_size_decode_exact() -> None:
    anchors = np.array([[0.5, 0.5, 0.2, 0.4]], np.float32)  # yc, xc, h, w
    enc = np.array([[1.0, -2.0, 0.0, np.log(2) * 5]], np.float32)  # ty, tx, th, tw
    box = CenterSizeCoder().decode(enc, anchors)[0]
    # yc = 0.5 + 0.1*0.2 = 0.52; xc = 0.5 - 0.2*0.4 = 0.42; h = 0.2; w = 0.8
    np.testing.assert_allclose(box, [0.42, 0.02, 0.62, 0.82], atol=1e-6)


def test_corner_offset_decode_exact() -> None:
    anchors = np.array([[0.2, 0.1, 0.6, 0.5]], np.float32)  # x1 y1 x2 y2
    deltas = np.array([[0.1, -0.1, 0.0, 0.5]], np.float32)
    box = CornerOffsetCoder().decode(deltas, anchors)[0]
    # aw = 0.4, ah = 0.4: x1 = 0.24, y1 = 0.06, x2 = 0.6, y2 = 0.7 -> (y1, x1, y2, x2)
    np.testing.assert_allclose(box, [0.06, 0.24, 0.7, 0.6], atol=1e-6)


def test_boxes_to_pixels_with_letterbox() -> None:
    # A 200x100 frame letterboxed into a square: it fills the width, half the height.
    lb = Letterbox(x_offset=0.0, y_offset=0.25, x_size=1.0, y_size=0.5)
    box = np.array([[0.25, 0.5, 0.75, 1.0]], np.float32)  # ymin xmin ymax xmax in the input
    np.testing.assert_allclose(yxyx_norm_to_xyxy_px(box, (200, 100), lb), [[100, 0, 200, 100]])


def test_postprocess_ignores_slots_past_count() -> None:
    boxes = np.tile(np.array([[0.1, 0.1, 0.5, 0.5]], np.float32), (4, 1))
    classes = np.array([1, 2, 3, 4], np.float32)
    scores = np.array([0.9, 0.6, 9e29, np.nan], np.float32)  # garbage past count=2
    c = decode_postprocess(boxes, classes, scores, 2.0, Thresholds(score=0.5))
    assert c.class_ids.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"score": 0.0}, "score threshold"), ({"iou": 1.5}, "IoU"), ({"max_detections": 0}, "max_")],
)
def test_thresholds_validate(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds(**kwargs)  # type: ignore[arg-type]
