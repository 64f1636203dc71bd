"""Frame -> model input: resize first, then one pass per byte over the small image (OpenCV).

Every affine normalization followed by quantization is a function of the byte value alone
(see ``quantization``), so the per-pixel work is done on the resized image only, and written
straight into the destination (the interpreter's own input tensor, see ``Detector.prepare``),
so nothing is copied after it:

- when the table is the identity (uint8) or the identity shifted by 128 (int8: the sign bit
  flipped), no arithmetic: the colour swap, or nothing, and the flip;
- for other uint8 and int8 inputs, one ``cv2.transform`` does the colour swap, the affine map
  and the rounding in a single pass;
- otherwise (float32 inputs, or a table the transform's rounding does not reproduce), a colour
  swap and a ``cv2.LUT`` through the table.

A route other than the table is used only after it reproduced the 256-entry table for every
byte value at every position of the input (checked once at load time). The resize writes into
a per-thread buffer that is reused frame after frame (or, when nothing else is left to do,
straight into the destination).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import IDENTITY, Letterbox
from camera_app.detect.quantization import InputDType, InputQuantization, build_table
from camera_app.modes import ColourOrder, ResizeMode

U8 = npt.NDArray[np.uint8]
# (the resized BGR image [H, W, 3], the destination [H, W, 3] of the input's dtype) -> None
PerByte = Callable[[U8, npt.NDArray[Any]], None]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where the frame went in the model input, for mapping boxes back."""

    letterbox: Letterbox
    frame_wh: tuple[int, int]


def table_path(table: npt.NDArray[np.generic], colour_order: ColourOrder) -> PerByte:
    """Colour swap (if any), then ``table[byte]`` through ``cv2.LUT`` into the destination."""
    # cv2.LUT copies table entries byte for byte; an int8 table is applied as its uint8 bit
    # pattern into the destination's uint8 view, which is exact.
    signed = table.dtype == np.int8
    lut: npt.NDArray[Any] = table.view(np.uint8) if signed else table
    # The names each call uses, bound here (see Preprocessor._make_stretch_into).
    look_up, cvt, u8, to_rgb = cv2.LUT, cv2.cvtColor, np.uint8, cv2.COLOR_BGR2RGB
    if colour_order is ColourOrder.BGR:

        def apply(small: U8, out: npt.NDArray[Any]) -> None:
            look_up(small, lut, out.view(u8) if signed else out)

        return apply

    def apply_swapped(small: U8, out: npt.NDArray[Any]) -> None:
        look_up(cvt(small, to_rgb), lut, out.view(u8) if signed else out)

    return apply_swapped


def copy_path(quant: InputQuantization, colour_order: ColourOrder) -> PerByte | None:
    """No arithmetic where the table is the identity: the colour swap (or a copy), and for
    int8 the sign bit flipped (uint8 ``v + 128`` -> the int8 value ``v``). None where the
    table is not the identity. Not yet checked."""
    table = build_table(quant).astype(np.int64)
    identity = np.arange(256) - (128 if quant.dtype is InputDType.INT8 else 0)
    if quant.dtype is InputDType.FLOAT32 or not np.array_equal(table, identity):
        return None
    swap = colour_order is ColourOrder.RGB
    signed = quant.dtype is InputDType.INT8
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
        if signed:
            flip(dst, sign, dst)

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
    TABLE = "table"


@functools.lru_cache(maxsize=64)
def choose_route(
    quant: InputQuantization, colour_order: ColourOrder, input_hw: tuple[int, int]
) -> Route:
    """The fastest route that reproduces the table, once per (quantization, order, size)."""
    table = build_table(quant)
    for route, make in ((Route.COPY, copy_path), (Route.TRANSFORM, transform_path)):
        candidate = make(quant, colour_order)
        if candidate is not None and reproduces(candidate, table, colour_order, input_hw):
            return route
    return Route.TABLE


class _Buffers(threading.local):
    """Each thread's resize buffer, reused frame after frame (the next call overwrites it)."""

    def __init__(self, input_hw: tuple[int, int]) -> None:
        self.small: U8 = np.empty((*input_hw, 3), np.uint8)


_UINT8 = np.dtype(np.uint8)
# (frame, destination [H, W, 3]) -> None, the frame stretched to the input size
Stretch = Callable[[U8, npt.NDArray[Any]], None]


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
        self.route = choose_route(quant, colour_order, input_hw)
        made = {Route.COPY: copy_path, Route.TRANSFORM: transform_path}.get(self.route)
        per_byte = made(quant, colour_order) if made is not None else None
        # The step after the resize: (the resized BGR image, the destination [H, W, 3]) -> None.
        self.per_byte = per_byte or table_path(self.table, colour_order)
        self.shape = (1, *input_hw, 3)
        self._dtype = self.table.dtype
        self._buffers = _Buffers(input_hw)
        self._stretch_into = self._make_stretch_into()
        # The last frame shape seen, checked, and where such a frame goes (frames of a
        # camera keep their size: the per-frame path then only compares the shape).
        self._last: tuple[tuple[int, ...], Placement] = ((), Placement(IDENTITY, (0, 0)))

    def _make_stretch_into(self) -> Stretch:
        """frame -> destination [H, W, 3] for a stretch resize, with every name it uses bound
        here: the per-frame path runs as few Python steps as it can (each one is slow on a
        thread that has just come back from ``invoke()``, with cold caches)."""
        size = (self.input_hw[1], self.input_hw[0])
        resize = cv2.resize  # INTER_LINEAR is its default
        if self.route is Route.COPY and self.colour_order is ColourOrder.BGR:
            # Nothing to do but the resize: it writes into the destination itself.
            if self.quant.dtype is InputDType.INT8:
                flip, u8 = np.bitwise_xor, np.uint8
                sign = np.uint8(0x80)

                def direct_signed(frame: U8, dst: npt.NDArray[Any]) -> None:
                    b = dst.view(u8)
                    resize(frame, size, b)
                    flip(b, sign, b)

                return direct_signed

            def direct(frame: U8, dst: npt.NDArray[Any]) -> None:
                resize(frame, size, dst)

            return direct
        per_byte, buffers = self.per_byte, self._buffers

        def via_buffer(frame: U8, dst: npt.NDArray[Any]) -> None:
            small = buffers.small
            resize(frame, size, small)
            per_byte(small, dst)

        return via_buffer

    def _placement(self, frame_bgr: U8) -> Placement:
        """Where a frame of this shape goes; raises for anything but a BGR uint8 frame."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a BGR uint8 frame [H, W, 3], got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        h, w = frame_bgr.shape[:2]
        if self.resize is ResizeMode.STRETCH or (h, w) == self.input_hw:
            placement = Placement(IDENTITY, (w, h))
        else:
            placement = Placement(self._letterbox_geometry(h, w)[0], (w, h))
        self._last = (frame_bgr.shape, placement)
        return placement

    def _letterbox_geometry(self, fh: int, fw: int) -> tuple[Letterbox, tuple[int, int, int, int]]:
        """The letterbox of an fh x fw frame, and its (x0, y0, width, height) in pixels."""
        h_in, w_in = self.input_hw
        scale = min(w_in / fw, h_in / fh)
        nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
        x0, y0 = (w_in - nw) // 2, (h_in - nh) // 2
        return Letterbox(x0 / w_in, y0 / h_in, nw / w_in, nh / h_in), (x0, y0, nw, nh)

    def resize_frame(self, frame_bgr: U8) -> tuple[U8, Letterbox]:
        """The frame at the model's input size; stretched into this thread's reused buffer,
        which the next call on this thread overwrites."""
        h_in, w_in = self.input_hw
        fh, fw = frame_bgr.shape[:2]
        if self.resize is ResizeMode.STRETCH or (fh, fw) == (h_in, w_in):
            small = self._buffers.small
            cv2.resize(frame_bgr, (w_in, h_in), small)
            return small, IDENTITY
        letterbox, (x0, y0, nw, nh) = self._letterbox_geometry(fh, fw)
        canvas = np.full((h_in, w_in, 3), self.pad, dtype=np.uint8)
        canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(
            frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR
        )
        return canvas, letterbox

    def into(self, frame_bgr: U8, out: npt.NDArray[Any]) -> Placement:
        """Preprocess ``frame_bgr`` into ``out`` (C-contiguous [1, H, W, 3] of the input's
        dtype, e.g. the interpreter's input tensor); where the frame went in it."""
        shape, placement = self._last
        if frame_bgr.shape != shape or frame_bgr.dtype != _UINT8:
            placement = self._placement(frame_bgr)
        # OpenCV would silently write a new array instead of a destination it cannot use.
        if out.shape != self.shape or out.dtype != self._dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"expected a C-contiguous {self._dtype} destination {list(self.shape)}, "
                f"got {out.dtype} {list(out.shape)}"
            )
        if placement.letterbox is IDENTITY:
            self._stretch_into(frame_bgr, out[0])
        else:
            small, _ = self.resize_frame(frame_bgr)
            self.per_byte(small, out[0])
        return placement

    def __call__(self, frame_bgr: U8) -> tuple[npt.NDArray[np.generic], Placement]:
        """The model input as a new array the caller owns, and where the frame went in it."""
        out = np.empty(self.shape, self.table.dtype)
        return out, self.into(frame_bgr, out)


def usual_float_path(
    frame_bgr: U8, input_hw: tuple[int, int], quant: InputQuantization
) -> npt.NDArray[np.generic]:
    """What most projects do per frame (for benchmarks and equality tests only)."""
    from camera_app.detect.quantization import reference_normalize

    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_LINEAR)
    return reference_normalize(np.asarray(small, np.uint8), quant)[np.newaxis]
