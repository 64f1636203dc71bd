from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.quantization import (
    InputDType,
    InputQuantization,
    affine_fit,
    build_table,
    dequantize,
    quantized_threshold,
    reference_normalize,
)

quant_params = st.one_of(
    st.builds(
        InputQuantization,
        dtype=st.sampled_from([InputDType.UINT8, InputDType.INT8]),
        mean=st.floats(0, 255),
        std=st.floats(0.5, 300),
        scale=st.floats(1e-4, 1.0),
        zero_point=st.integers(-128, 255),
    ),
    st.builds(
        InputQuantization,
        dtype=st.just(InputDType.FLOAT32),
        mean=st.floats(0, 255),
        std=st.floats(0.5, 300),
    ),
)


@settings(max_examples=300, deadline=None)
@given(q=quant_params, seed=st.integers(0, 2**32 - 1))
def test_table_is_bit_exact_against_the_float_formula(q: InputQuantization, seed: int) -> None:
    image = np.random.default_rng(seed).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    table = build_table(q)
    expected = reference_normalize(image, q)
    got = table[image]
    assert got.dtype == expected.dtype == q.dtype.numpy
    # Bit for bit, including float32 inputs: compare the raw bytes.
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("q", "byte", "expected"),
    [
        # ssd_mobilenet_v1_coco_quant input: uint8, scale 1/128, zp 128, mean=std=127.5
        (InputQuantization(InputDType.UINT8, 127.5, 127.5, 0.0078125, 128), 0, 0),
        (InputQuantization(InputDType.UINT8, 127.5, 127.5, 0.0078125, 128), 255, 255),
        (InputQuantization(InputDType.UINT8, 127.5, 127.5, 0.0078125, 128), 128, 129),
        # the int8 ARM model: scale 1/128, zp 0 -> about byte - 128
        (InputQuantization(InputDType.INT8, 127.5, 127.5, 0.0078125, 0), 0, -128),
        (InputQuantization(InputDType.INT8, 127.5, 127.5, 0.0078125, 0), 255, 127),
        (InputQuantization(InputDType.INT8, 127.5, 127.5, 0.0078125, 0), 127, -1),
        # identity: mean 0, std 1, scale 1, zp 0
        (InputQuantization(InputDType.UINT8, 0.0, 1.0, 1.0, 0), 77, 77),
        # float [-1, 1]
        (InputQuantization(InputDType.FLOAT32), 0, -1.0),
        (InputQuantization(InputDType.FLOAT32), 255, 1.0),
        # float [0, 1]
        (InputQuantization(InputDType.FLOAT32, 0.0, 255.0), 51, 0.2),
    ],
)
def test_table_known_values(q: InputQuantization, byte: int, expected: float) -> None:
    assert build_table(q)[byte] == pytest.approx(expected, abs=1e-6)


def test_rounding_is_half_away_from_zero_like_tflite() -> None:
    # (x - 0) / 1 / 2 + 0 = x / 2: byte 1 -> 0.5 -> 1, byte 3 -> 1.5 -> 2, byte 5 -> 2.5 -> 3
    table = build_table(InputQuantization(InputDType.UINT8, 0.0, 1.0, 2.0, 0))
    assert table[[1, 3, 5]].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": InputDType.UINT8, "scale": 0.0}, "needs a quantization scale"),
        ({"dtype": InputDType.FLOAT32, "std": 0.0}, "std must be > 0"),
    ],
)
def test_invalid_quantization_is_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InputQuantization(**kwargs)  # type: ignore[arg-type]


def test_dequantize_widens_before_subtracting() -> None:
    q = np.array([-128, 127, 0], dtype=np.int8)
    # In int8 arithmetic -128 - 66 would wrap around to 62.
    assert dequantize(q, 0.5, 66).tolist() == [-97.0, 30.5, -33.0]


@settings(max_examples=300, deadline=None)
@given(
    threshold=st.floats(-5, 5, allow_nan=False),
    scale=st.floats(1e-4, 1.0),
    zero_point=st.integers(-128, 127),
)
def test_quantized_threshold_selects_exactly_the_dequantized_matches(
    threshold: float, scale: float, zero_point: int
) -> None:
    q = np.arange(-128, 128, dtype=np.int8)
    in_q_domain = q.astype(np.int32) >= quantized_threshold(threshold, scale, zero_point)
    in_real_domain = dequantize(q, scale, zero_point) >= np.float32(threshold)
    assert np.array_equal(in_q_domain, in_real_domain)


# -- affine_fit: a table as one rounded line -------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(a=st.floats(0.01, 50.0), b=st.floats(-300.0, 300.0))
def test_a_fitted_line_rounds_to_every_level_of_a_rounded_line(a: float, b: float) -> None:
    """Levels made from a line (saturated at 0 and 255, as OpenCV saturates) are fitted by a
    line that gives each of them back, every byte at least the margin from a rounding edge."""
    x = np.arange(256, dtype=np.float64)
    levels = np.clip(np.floor(a * x + b + 0.5), 0, 255).astype(np.int64)
    fit = affine_fit(levels)
    if fit is None:  # a line this close to .5 ties at some byte may have no room to spare
        return
    fa, fb = fit
    y = fa * x + fb
    assert np.array_equal(np.clip(np.floor(y + 0.5), 0, 255).astype(np.int64), levels)
    inner = (levels > 0) & (levels < 255)
    assert np.all(np.abs(y[inner] - levels[inner]) <= 0.5 - 1e-3 + 1e-9)
    assert np.all(y[levels == 0] > -0.5)  # OpenCV's absolute value must not lift a clipped 0


def test_most_rounded_lines_do_fit() -> None:
    """Not vacuous: lines with room to spare (offsets away from a tie) fit."""
    x = np.arange(256, dtype=np.float64)
    for a in (0.21, 0.5, 1.0, 1.004, 2.5, 40.0):
        levels = np.clip(np.floor(a * x + 3.3 + 0.5), 0, 255).astype(np.int64)
        assert affine_fit(levels) is not None, a


def test_no_line_fits_levels_that_are_not_a_line() -> None:
    x = np.arange(256)
    assert affine_fit(np.full(256, 255)) is None  # saturated everywhere: no finite offset
    assert affine_fit(np.where(x < 128, x, 255 - x)) is None  # up, then down
    assert affine_fit((x // 2) * 2) is None  # steps of 2 cannot be one rounding of a line
    # scale 2/255, zero point -1: the float formula rounds half its bytes by a float32 error
    ties = build_table(InputQuantization(InputDType.INT8, 127.5, 127.5, 2 / 255, -1))
    assert affine_fit(ties.astype(np.int64) + 128) is None
