from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.quantization import (
    InputDType,
    InputQuantization,
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
