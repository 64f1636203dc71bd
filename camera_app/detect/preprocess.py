"""Frame -> model input: resize first, then one pass per byte over the small image (OpenCV).

Every affine normalization followed by quantization is a function of the byte value alone
(see ``quantization``), so the per-pixel work is done on the resized image only:

- for uint8 and int8 inputs, one ``cv2.transform`` does the colour swap, the affine map and
  the rounding in a single pass; it is used only after it reproduced the 256-entry table for
  every byte value at every position of the input (checked once at load time);
- otherwise (float32 inputs, or a table the transform's rounding does not reproduce), a colour
  swap and a ``cv2.LUT`` through the table.

The resize writes into a per-thread buffer that is reused frame after frame; the returned
input is a new array the caller owns.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import IDENTITY, Letterbox
from camera_app.detect.quantization import InputDType, InputQuantization, build_table
from camera_app.modes import ColourOrder, ResizeMode

U8 = npt.NDArray[np.uint8]
PerByte = Callable[[U8], npt.NDArray[Any]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where the frame went in the model input, for mapping boxes back."""

    letterbox: Letterbox
    frame_wh: tuple[int, int]


def table_path(table: npt.NDArray[np.generic], colour_order: ColourOrder) -> PerByte:
    """Colour swap (if any), then ``table[byte]`` through ``cv2.LUT``."""
    # cv2.LUT copies table entries byte for byte; an int8 table is applied as its uint8 bit
    # pattern and viewed back as int8, which is exact.
    lut: npt.NDArray[Any] = table.view(np.uint8) if table.dtype == np.int8 else table
    swap = colour_order is ColourOrder.RGB

    def apply(small: U8) -> npt.NDArray[Any]:
        src = cv2.cvtColor(small, cv2.COLOR_BGR2RGB) if swap else small
        out = cv2.LUT(src, lut)
        return out.view(np.int8) if table.dtype == np.int8 else out

    return apply


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
    signed = quant.dtype is InputDType.INT8

    def apply(small: U8) -> npt.NDArray[Any]:
        out = cv2.transform(small, m)
        if signed:
            np.bitwise_xor(out, np.uint8(0x80), out=out)
            return out.view(np.int8)
        return out

    return apply


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
        got, want = candidate(image), reference(image)
        if got.dtype != want.dtype or not np.array_equal(got, want):
            return False
    return True


@functools.lru_cache(maxsize=64)
def _transform_reproduces(
    quant: InputQuantization, colour_order: ColourOrder, input_hw: tuple[int, int]
) -> bool:
    """``reproduces`` for the transform path, once per (quantization, order, size)."""
    fused = transform_path(quant, colour_order)
    return fused is not None and reproduces(fused, build_table(quant), colour_order, input_hw)


class Preprocessor:
    """Turns BGR uint8 frames into the model's input tensor, [1, H, W, 3]."""

    def __init__(
        self,
        input_hw: tuple[int, int],
        quant: InputQuantization,
        colour_order: ColourOrder = ColourOrder.RGB,
        resize: ResizeMode = ResizeMode.STRETCH,
        pad: int = 0,
    ) -> None:
        self.input_hw = input_hw
        self.pad = pad  # the grey of letterbox borders (YOLO trains with 114)
        self.quant = quant
        self.colour_order = colour_order
        self.resize = resize
        self.table = build_table(quant)
        fused = transform_path(quant, colour_order)
        self.fused = fused is not None and _transform_reproduces(quant, colour_order, input_hw)
        self._per_byte = (
            fused if fused is not None and self.fused else table_path(self.table, colour_order)
        )
        self._local = threading.local()  # each thread's reusable resize buffer

    def _buffer(self) -> U8:
        buf: U8 | None = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = np.empty((*self.input_hw, 3), np.uint8)
        return buf

    def resize_frame(self, frame_bgr: U8) -> tuple[U8, Letterbox]:
        """The frame at the model's input size; stretched into this thread's reused buffer,
        which the next call on this thread overwrites."""
        h_in, w_in = self.input_hw
        fh, fw = frame_bgr.shape[:2]
        if self.resize is ResizeMode.STRETCH or (fh, fw) == (h_in, w_in):
            small = cv2.resize(
                frame_bgr, (w_in, h_in), dst=self._buffer(), interpolation=cv2.INTER_LINEAR
            )
            return np.asarray(small, dtype=np.uint8), IDENTITY  # the buffer, as OpenCV filled it
        scale = min(w_in / fw, h_in / fh)
        nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
        canvas = np.full((h_in, w_in, 3), self.pad, dtype=np.uint8)
        x0, y0 = (w_in - nw) // 2, (h_in - nh) // 2
        canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(
            frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR
        )
        return canvas, Letterbox(x0 / w_in, y0 / h_in, nw / w_in, nh / h_in)

    def __call__(self, frame_bgr: U8) -> tuple[npt.NDArray[np.generic], Placement]:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a BGR uint8 frame [H, W, 3], got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        small, letterbox = self.resize_frame(frame_bgr)
        h, w = frame_bgr.shape[:2]
        return self._per_byte(small)[np.newaxis], Placement(letterbox, (w, h))


def usual_float_path(
    frame_bgr: U8, input_hw: tuple[int, int], quant: InputQuantization
) -> npt.NDArray[np.generic]:
    """What most projects do per frame (for benchmarks and equality tests only)."""
    from camera_app.detect.quantization import reference_normalize

    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_LINEAR)
    return reference_normalize(np.asarray(small, np.uint8), quant)[np.newaxis]
