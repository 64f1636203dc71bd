"""Frame -> model input: resize first, then the per-byte step over the small image (OpenCV).

The resize writes into a per-thread buffer that is reused frame after frame (or, when nothing
else is left to do, straight into the destination: the interpreter's own input tensor, see
``Detector.prepare``); the per-byte step (``per_byte``: colour swap, normalization,
quantization) then writes the destination, so nothing is copied after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import IDENTITY, Letterbox
from camera_app.detect.per_byte import U8, Route, choose_route, step_for
from camera_app.detect.quantization import InputDType, InputQuantization, build_table
from camera_app.modes import ColourOrder, ResizeMode


@dataclass(frozen=True)
class Placement:
    """Where the frame went in the model input, for mapping boxes back."""

    letterbox: Letterbox
    frame_wh: tuple[int, int]


class _Buffers(threading.local):
    """Each thread's resize buffers, reused frame after frame (the next call overwrites them):
    the input's size, and a letterbox's band of rows (see ``Preprocessor._band_into``)."""

    def __init__(self, input_hw: tuple[int, int]) -> None:
        self.small: U8 = np.empty((*input_hw, 3), np.uint8)
        self.bands: dict[int, U8] = {}  # by height: cameras of other aspects share a worker


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
        # The step after the resize: (the resized BGR image, the destination [H, W, 3]) -> None.
        self.per_byte = step_for(self.route, quant, colour_order, self.table)
        self.shape = (1, *input_hw, 3)
        self._dtype = self.table.dtype
        self._buffers = _Buffers(input_hw)
        self._stretch_into = self._make_stretch_into()
        self._pad_value = self.table[pad]  # what the step makes of the letterbox's grey
        # The last frame shape seen, checked, where such a frame goes (frames of a camera
        # keep their size: the per-frame path then only compares the shape) and, for a
        # letterbox that pads only above and below, its band of rows (y0, height).
        self._last: tuple[tuple[int, ...], Placement, tuple[int, int] | None] = (
            (),
            Placement(IDENTITY, (0, 0)),
            None,
        )

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
        band = None
        if self.resize is ResizeMode.STRETCH or (h, w) == self.input_hw:
            placement = Placement(IDENTITY, (w, h))
        else:
            letterbox, (_, y0, nw, nh) = self._letterbox_geometry(h, w)
            placement = Placement(letterbox, (w, h))
            if nw == self.input_hw[1]:  # full-width rows: one contiguous band of the input
                band = (y0, nh)
        self._last = (frame_bgr.shape, placement, band)
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
        shape, placement, band = self._last
        if frame_bgr.shape != shape or frame_bgr.dtype != _UINT8:
            placement = self._placement(frame_bgr)
            band = self._last[2]
        # OpenCV would silently write a new array instead of a destination it cannot use.
        if out.shape != self.shape or out.dtype != self._dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"expected a C-contiguous {self._dtype} destination {list(self.shape)}, "
                f"got {out.dtype} {list(out.shape)}"
            )
        if placement.letterbox is IDENTITY:
            self._stretch_into(frame_bgr, out[0])
        elif band is not None:
            self._band_into(frame_bgr, out[0], *band)
        else:  # a frame taller than the input: padded left and right
            small, _ = self.resize_frame(frame_bgr)
            self.per_byte(small, out[0])
        return placement

    def _band_into(self, frame_bgr: U8, dst: npt.NDArray[Any], y0: int, nh: int) -> None:
        """A letterbox padded only above and below (a frame wider than the input, as most
        cameras' are for a square YOLO input): the frame is resized into this thread's band
        buffer and the per-byte step writes only those rows of the destination; the rows
        above and below get the value the step gives the pad (a grey, the same in either
        colour order). No canvas to fill and copy, and 44% less per-byte work for 16:9."""
        bands = self._buffers.bands
        band = bands.get(nh)
        if band is None:
            band = bands[nh] = np.empty((nh, self.input_hw[1], 3), np.uint8)
        cv2.resize(frame_bgr, (self.input_hw[1], nh), band)  # INTER_LINEAR, as resize_frame
        self.per_byte(band, dst[y0 : y0 + nh])
        dst[:y0] = self._pad_value
        dst[y0 + nh :] = self._pad_value

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
