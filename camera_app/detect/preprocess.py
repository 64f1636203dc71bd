"""Frame -> model input: resize first, then one table look-up per byte (OpenCV + numpy).

The table folds colour normalization and input quantization together (see ``quantization``),
so uint8, int8 and float32 inputs all cost one pass over the small, resized image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import IDENTITY, Letterbox
from camera_app.detect.quantization import InputQuantization, build_table
from camera_app.modes import ColourOrder, ResizeMode


@dataclass(frozen=True)
class Placement:
    """Where the frame went in the model input, for mapping boxes back."""

    letterbox: Letterbox
    frame_wh: tuple[int, int]


class Preprocessor:
    """Turns BGR uint8 frames into the model's input tensor, [1, H, W, 3]."""

    def __init__(
        self,
        input_hw: tuple[int, int],
        quant: InputQuantization,
        colour_order: ColourOrder = ColourOrder.RGB,
        resize: ResizeMode = ResizeMode.STRETCH,
    ) -> None:
        self.input_hw = input_hw
        self.quant = quant
        self.colour_order = colour_order
        self.resize = resize
        self.table = build_table(quant)
        # cv2.LUT copies table entries byte-for-byte; an int8 table is applied as its uint8
        # bit pattern and viewed back as int8, which is exact.
        self._lut: npt.NDArray[Any] = (
            self.table.view(np.uint8) if self.table.dtype == np.int8 else self.table
        )
        self._out_dtype = self.table.dtype

    def resize_frame(
        self, frame_bgr: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.uint8], Letterbox]:
        h_in, w_in = self.input_hw
        fh, fw = frame_bgr.shape[:2]
        if self.resize is ResizeMode.STRETCH or (fh, fw) == (h_in, w_in):
            small = cv2.resize(frame_bgr, (w_in, h_in), interpolation=cv2.INTER_LINEAR)
            return np.asarray(small, dtype=np.uint8), IDENTITY
        scale = min(w_in / fw, h_in / fh)
        nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
        canvas = np.zeros((h_in, w_in, 3), dtype=np.uint8)
        x0, y0 = (w_in - nw) // 2, (h_in - nh) // 2
        canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(
            frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR
        )
        return canvas, Letterbox(x0 / w_in, y0 / h_in, nw / w_in, nh / h_in)

    def __call__(
        self, frame_bgr: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.generic], Placement]:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a BGR uint8 frame [H, W, 3], got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        small: npt.NDArray[Any]
        small, letterbox = self.resize_frame(frame_bgr)
        if self.colour_order is ColourOrder.RGB:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        mapped = cv2.LUT(small, self._lut)
        if self._out_dtype == np.int8:
            mapped = mapped.view(np.int8)
        h, w = frame_bgr.shape[:2]
        return mapped[np.newaxis], Placement(letterbox, (w, h))


def usual_float_path(
    frame_bgr: npt.NDArray[np.uint8], input_hw: tuple[int, int], quant: InputQuantization
) -> npt.NDArray[np.generic]:
    """What most projects do per frame (for benchmarks and equality tests only)."""
    from camera_app.detect.quantization import reference_normalize

    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_LINEAR)
    return reference_normalize(np.asarray(small, np.uint8), quant)[np.newaxis]
