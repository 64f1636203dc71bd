"""The per-byte step after the resize: resized BGR bytes -> the model's input values.

Every affine normalization followed by quantization is a function of the byte value alone
(see ``quantization``: the 256-entry table), so the step runs on the resized image only and
writes straight into the destination (the interpreter's own input tensor). Routes, fastest
first:

- when the table is the identity (uint8) or the identity shifted by 128 (int8: the sign bit
  flipped), no arithmetic: the colour swap, or nothing, and the flip;
- for other uint8 and int8 inputs, one ``cv2.transform`` does the colour swap, the affine map
  and the rounding in a single pass;
- for 8-bit tables the transform's rounding misses, the colour swap, ``cv2.convertScaleAbs``
  with a line fitted to the table, and the flip;
- otherwise (float32 inputs, or a table no line reproduces), a colour swap and a ``cv2.LUT``
  through the table.

A route other than the table is used only after it reproduced the 256-entry table for every
byte value at every position of the input (checked once at load time).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import Enum
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.quantization import (
    InputDType,
    InputQuantization,
    affine_fit,
    build_table,
)
from camera_app.modes import ColourOrder

U8 = npt.NDArray[np.uint8]
# (the resized BGR image [H, W, 3], the destination [H, W, 3] of the input's dtype) -> None
PerByte = Callable[[U8, npt.NDArray[Any]], None]


def table_path(table: npt.NDArray[np.generic], colour_order: ColourOrder) -> PerByte:
    """Colour swap (if any), then ``table[byte]`` through ``cv2.LUT`` into the destination."""
    # cv2.LUT copies table entries byte for byte; an int8 table is applied as its uint8 bit
    # pattern into the destination's uint8 view, which is exact.
    signed = table.dtype == np.int8
    lut: npt.NDArray[Any] = table.view(np.uint8) if signed else table
    # The names each call uses, bound here (see preprocess.Preprocessor._make_stretch_into).
    look_up, cvt, u8, to_rgb = cv2.LUT, cv2.cvtColor, np.uint8, cv2.COLOR_BGR2RGB
    if colour_order is ColourOrder.BGR:

        def apply(small: U8, out: npt.NDArray[Any]) -> None:
            look_up(small, lut, out.view(u8) if signed else out)

        return apply

    def apply_swapped(small: U8, out: npt.NDArray[Any]) -> None:
        look_up(cvt(small, to_rgb), lut, out.view(u8) if signed else out)

    return apply_swapped


def _swap_into(
    colour_order: ColourOrder, signed: bool, then: Callable[[U8], object] | None = None
) -> PerByte:
    """The colour swap (or a copy) into the destination's bytes, ``then`` on them in place,
    and for int8 the sign bit flipped (uint8 ``v + 128`` -> the int8 value ``v``)."""
    swap = colour_order is ColourOrder.RGB
    cvt, copy, flip, u8, to_rgb = (
        cv2.cvtColor,
        np.copyto,
        np.bitwise_xor,
        np.uint8,
        cv2.COLOR_BGR2RGB,
    )
    sign = np.uint8(0x80)

    def apply(small: U8, out: npt.NDArray[Any]) -> None:
        dst = out.view(u8) if signed else out
        if swap:
            cvt(small, to_rgb, dst)
        elif small is not dst:
            copy(dst, small)
        if then is not None:
            then(dst)
        if signed:
            flip(dst, sign, dst)

    return apply


def copy_path(quant: InputQuantization, colour_order: ColourOrder) -> PerByte | None:
    """No arithmetic where the table is the identity: the colour swap (or a copy), and for
    int8 the sign bit flipped. None where the table is not the identity. Not yet checked."""
    table = build_table(quant).astype(np.int64)
    identity = np.arange(256) - (128 if quant.dtype is InputDType.INT8 else 0)
    if quant.dtype is InputDType.FLOAT32 or not np.array_equal(table, identity):
        return None
    return _swap_into(colour_order, quant.dtype is InputDType.INT8)


def transform_path(quant: InputQuantization, colour_order: ColourOrder) -> PerByte | None:
    """One ``cv2.transform`` pass for 8-bit inputs: swap, ``a * byte + b``, round, saturate.

    int8 values are computed shifted by +128 into uint8 and their sign bit flipped, which
    views back as the int8 value. None for float32 inputs. Not yet checked: see
    ``reproduces``.
    """
    if quant.dtype is InputDType.FLOAT32:
        return None
    a = 1.0 / (quant.std * quant.scale)
    b = quant.zero_point - quant.mean * a + (128.0 if quant.dtype is InputDType.INT8 else 0.0)
    order = (2, 1, 0) if colour_order is ColourOrder.RGB else (0, 1, 2)
    m = np.zeros((3, 4), np.float64)
    for out_c, in_c in enumerate(order):
        m[out_c, in_c] = a
    m[:, 3] = b
    transform = cv2.transform
    if quant.dtype is InputDType.UINT8:

        def apply(small: U8, out: npt.NDArray[Any]) -> None:
            transform(small, m, out)

        return apply
    flip, u8, sign = np.bitwise_xor, np.uint8, np.uint8(0x80)

    def apply_signed(small: U8, out: npt.NDArray[Any]) -> None:
        dst = out.view(u8)
        transform(small, m, dst)
        flip(dst, sign, dst)

    return apply_signed


def scale_path(quant: InputQuantization, colour_order: ColourOrder) -> PerByte | None:
    """8-bit inputs whose table ``cv2.transform`` misses (with the colour swap its 8-bit path
    rounds coefficients to 1/1024: YOLOv8's int8 input, scale 0.0187, is off by one for 6
    bytes): the colour swap into the destination, then ``cv2.convertScaleAbs`` in place
    (float32 arithmetic) with a line fitted to the table (``affine_fit``), and for int8 the
    sign flip. Three vectorized passes against ``cv2.LUT``'s look-up per byte. None for
    float32 inputs or a table no line fits. Not yet checked: see ``reproduces``."""
    if quant.dtype is InputDType.FLOAT32:
        return None
    signed = quant.dtype is InputDType.INT8
    fit = affine_fit(build_table(quant).astype(np.int64) + (128 if signed else 0))
    if fit is None:
        return None
    alpha, beta = fit
    scale = cv2.convertScaleAbs

    def fitted_line(dst: U8) -> None:
        scale(dst, dst, alpha, beta)

    return _swap_into(colour_order, signed, fitted_line)


def apply_new(per_byte: PerByte, small: U8, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``per_byte`` into a new array of ``dtype``."""
    out = np.empty(small.shape, dtype)
    per_byte(small, out)
    return out


def reproduces(
    candidate: PerByte, table: npt.NDArray[np.generic], colour_order: ColourOrder,
    input_hw: tuple[int, int],
) -> bool:  # fmt: skip
    """Whether ``candidate`` equals the table path bit for bit on every input it can get.

    Each output value of either path depends only on one input byte and its position, so
    256 images of the input's size, each holding every byte value shifted by one more,
    cover every (position, channel, byte) there is.
    """
    reference = table_path(table, colour_order)
    h, w = input_hw
    base = np.arange(h * w * 3, dtype=np.int64).astype(np.uint8)  # wraps: 0..255, 0..
    for shift in range(256):
        image = (base + np.uint8(shift)).reshape(h, w, 3)  # uint8 arithmetic wraps mod 256
        got = apply_new(candidate, image, table.dtype)
        want = apply_new(reference, image, table.dtype)
        if not np.array_equal(got.view(np.uint8), want.view(np.uint8)):
            return False
    return True


class Route(str, Enum):
    """The per-byte step a preprocessor takes (``camera-app inspect`` shows it)."""

    COPY = "copy"  # the table is the identity: a colour swap or a copy (int8: the sign flip)
    TRANSFORM = "cv2.transform"
    SCALE = "cv2.convertScaleAbs"  # a line fitted to the table
    TABLE = "table"


# The routes other than the table, fastest first: each makes its step, or None where it cannot.
_MAKERS: dict[Route, Callable[[InputQuantization, ColourOrder], PerByte | None]] = {
    Route.COPY: copy_path,
    Route.TRANSFORM: transform_path,
    Route.SCALE: scale_path,
}


@functools.lru_cache(maxsize=64)
def choose_route(
    quant: InputQuantization, colour_order: ColourOrder, input_hw: tuple[int, int]
) -> Route:
    """The fastest route that reproduces the table, once per (quantization, order, size)."""
    table = build_table(quant)
    for route, make in _MAKERS.items():
        candidate = make(quant, colour_order)
        if candidate is not None and reproduces(candidate, table, colour_order, input_hw):
            return route
    return Route.TABLE


def step_for(
    route: Route, quant: InputQuantization, colour_order: ColourOrder, table: npt.NDArray[Any]
) -> PerByte:
    """The step of a route ``choose_route`` picked (the table's for ``Route.TABLE``)."""
    make = _MAKERS.get(route)
    step = make(quant, colour_order) if make is not None else None
    return step or table_path(table, colour_order)
