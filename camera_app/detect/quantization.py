"""Input quantization as a 256-entry lookup table, and output dequantization.

Every affine normalization ``(x - mean) / std`` followed by quantization
``round(f / scale) + zero_point`` is a function of the byte value ``x`` alone, so it is
computed once for the 256 possible bytes at load time and applied with one table look-up
per pixel. ``reference_normalize`` is the straightforward per-pixel float formula; the tests
prove ``table[image] == reference_normalize(image)`` bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt


class InputDType(str, Enum):
    UINT8 = "uint8"
    INT8 = "int8"
    FLOAT32 = "float32"

    @property
    def numpy(self) -> np.dtype[np.generic]:
        return np.dtype(self.value)


@dataclass(frozen=True)
class InputQuantization:
    """How bytes become the model's input values.

    ``mean``/``std`` are the normalization the model was trained with (float = (x-mean)/std);
    ``scale``/``zero_point`` come from the input tensor itself (0/0 for float inputs).
    """

    dtype: InputDType
    mean: float = 127.5
    std: float = 127.5
    scale: float = 0.0
    zero_point: int = 0

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"normalization std must be > 0, got {self.std}")
        if self.dtype is not InputDType.FLOAT32 and not self.scale > 0:
            raise ValueError(
                f"a {self.dtype.value} input needs a quantization scale > 0, got {self.scale}"
            )


def _round_half_away(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # TFLite's QUANTIZE kernel rounds half away from zero (std::round); numpy's round is
    # half-to-even. Matching TFLite keeps our bytes equal to what its own QUANTIZE would make.
    return np.trunc(x + np.copysign(np.float32(0.5), x)).astype(np.float32)


def reference_normalize(
    image_u8: npt.NDArray[np.uint8], q: InputQuantization
) -> npt.NDArray[np.generic]:
    """The usual per-pixel float path: astype(float32), normalize, quantize, clip, cast."""
    f = (image_u8.astype(np.float32) - np.float32(q.mean)) / np.float32(q.std)
    if q.dtype is InputDType.FLOAT32:
        return f
    info = np.iinfo(q.dtype.value)
    scaled = f / np.float32(q.scale) + np.float32(q.zero_point)
    return np.clip(_round_half_away(scaled), info.min, info.max).astype(q.dtype.numpy)


def build_table(q: InputQuantization) -> npt.NDArray[np.generic]:
    """The 256-entry table: ``table[b]`` is the model input value for byte ``b``."""
    return reference_normalize(np.arange(256, dtype=np.uint8), q)


def affine_fit(
    levels: npt.NDArray[np.integer[Any]], margin: float = 1e-3
) -> tuple[float, float] | None:
    """A slope and an offset whose line rounds to ``levels[x]`` for every byte ``x``: the
    levels (0..255, saturating at both ends) as one rounded affine function, with every byte
    at least ``margin`` from a rounding edge. None where no line fits with that margin (a
    table whose float32 rounding at .5 ties is no line's, e.g. scale 2/255, zero point -1).

    The line with the largest margin: for a slope ``a`` the best offset is midway between the
    tightest upper and lower bounds, and that margin is concave in ``a`` (a minimum of lines
    less a maximum of lines), so a ternary search finds its top.
    """
    x = np.arange(256, dtype=np.float64)
    t = levels.astype(np.float64)
    upper = np.where(t < 255, t + 0.5, np.inf)  # 255 saturates: anything above is 255
    lower = t - 0.5  # 0 holds down to -0.5 (the absolute value of an OpenCV scale)

    def best(a: float) -> tuple[float, float]:
        up, lo = float(np.min(upper - a * x)), float(np.max(lower - a * x))
        return (up - lo) / 2, (up + lo) / 2

    # A rounded line's levels step by at most its slope + 1 from one byte to the next.
    lo_a, hi_a = 0.0, float(np.max(np.diff(t), initial=0.0)) + 1.0
    for _ in range(200):
        m1, m2 = lo_a + (hi_a - lo_a) / 3, hi_a - (hi_a - lo_a) / 3
        if best(m1)[0] < best(m2)[0]:
            lo_a = m1
        else:
            hi_a = m2
    a = (lo_a + hi_a) / 2
    got, b = best(a)
    # (All 255: no upper bound anywhere, so no finite offset: the table does it.)
    return (a, b) if got >= margin and math.isfinite(b) else None


def dequantize(
    q_values: npt.NDArray[Any], scale: float, zero_point: int
) -> npt.NDArray[np.float32]:
    """Real values of a quantized tensor."""
    # Widen before subtracting: int8/uint8 arithmetic would wrap (e.g. -128 - 66).
    # The product is taken in float32 so `quantized_threshold` can mirror it exactly.
    return (q_values.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def quantized_threshold(threshold: float, scale: float, zero_point: int) -> int:
    """Smallest integer q with ``dequantize(q) >= threshold``, with the same float arithmetic.

    Filtering ``q >= quantized_threshold(t)`` selects exactly the entries whose dequantized
    value is ``>= t``, without dequantizing the whole tensor.
    """
    s = np.float32(scale)
    t = np.float32(threshold)
    q = int(np.ceil(float(t) / float(s))) + zero_point
    # Correct the estimate against the exact float32 arithmetic used by `dequantize`.
    while s * np.float32(q - 1 - zero_point) >= t:
        q -= 1
    while s * np.float32(q - zero_point) < t:
        q += 1
    return q
