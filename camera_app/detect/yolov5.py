"""YOLOv5 heads: one output [1, N, 5+C]: cx, cy, w, h, objectness, C class scores.

Confidence is objectness x class score; N is three anchors per cell of the stride 8, 16 and 32
grids (25200 at 640x640). A quantized head is filtered in its own domain: an objectness level
that cannot reach the threshold with any class level (a 256 x 256 table, built once) rules its
row out, so only the few rows left are dequantized.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from camera_app.detect.decode import Candidates, Thresholds
from camera_app.detect.family import DecoderContext, Miss, ModelView, Outputs
from camera_app.detect.graph import TensorInfo
from camera_app.detect.quantization import dequantize
from camera_app.detect.yolo_common import HeadSpec, OneHead, OneHeadDecoder, OneHeadFamily, finish


@dataclass(frozen=True)
class YoloV5Layout(OneHead):
    family: ClassVar[str] = "yolov5"

    def outputs(self) -> str:
        return (
            f"YOLOv5 head [1, N, 5+C] in {self.output.describe()}: cx, cy, w, h, objectness, "
            f"{self.num_classes} class scores (confidence = objectness x class)"
        )

    def decoder(self, ctx: DecoderContext) -> YoloV5Decoder:
        spec = self.head_spec(ctx, channels_first=False, first_class=5)
        return YoloV5Decoder(self.read.index, spec, self.units, self.read.dtype)


def objectness_reach(dtype: str, scale: float, zero_point: int) -> npt.NDArray[np.float32]:
    """Per objectness level (in bit-pattern order), the highest confidence any class level
    gives it, with the float32 arithmetic the decoder uses (so filtering on it is exact)."""
    info = np.iinfo(np.dtype(dtype))
    levels = np.arange(info.min, info.max + 1)
    real = dequantize(levels, scale, zero_point)
    reach = (real[:, None] * real[None, :]).max(axis=1)  # negative x negative counts too
    order = levels.astype(np.dtype(dtype)).view(np.uint8)  # level -> its bit pattern
    out = np.empty(256, np.float32)
    out[order] = reach
    return out


@dataclass(frozen=True)
class ObjectnessGate:
    """Which rows of a quantized YOLOv5 head can reach a threshold, told from objectness alone.

    Usually the levels that can are one upper range (objectness >= some level): a plain
    compare finds them. When the lowest levels can too (a negative objectness times a negative
    class score), the reach table is looked up instead.
    """

    dtype: str
    reach: npt.NDArray[np.float32] = field(compare=False, repr=False)  # objectness_reach
    _cuts: dict[float, int | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, dtype: str, scale: float, zero_point: int) -> ObjectnessGate:
        return cls(dtype, objectness_reach(dtype, scale, zero_point))

    def cut(self, threshold: float) -> int | None:
        """The level from which every objectness level can reach ``threshold`` and below which
        none can (the dtype's top level + 1 when none can), or None when no level splits them."""
        if threshold not in self._cuts:
            info = np.iinfo(np.dtype(self.dtype))
            levels = np.arange(info.min, info.max + 1)
            ok = self.reach[levels.astype(self.dtype).view(np.uint8)] >= np.float32(threshold)
            first = int(np.argmax(ok)) if ok.any() else ok.size
            self._cuts[threshold] = info.min + first if ok[first:].all() else None
        return self._cuts[threshold]

    def rows(self, objectness: npt.NDArray[np.generic], threshold: float) -> npt.NDArray[np.intp]:
        # The column is strided (one byte every 5+C): copying it first is quicker than
        # comparing or indexing with it in place.
        obj = np.ascontiguousarray(objectness)
        cut = self.cut(threshold)
        if cut is None:
            return np.flatnonzero(self.reach[obj.view(np.uint8)] >= np.float32(threshold))
        return np.flatnonzero(obj >= cut)


@dataclass(frozen=True)
class YoloV5Decoder(OneHeadDecoder):
    dtype: str
    gate: ObjectnessGate | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.spec.quant is not None and self.gate is None:
            object.__setattr__(self, "gate", ObjectnessGate.of(self.dtype, *self.spec.quant))

    def scores_how(self) -> str:
        domain = "objectness filtered in the quantized domain" if self.gate is not None else "float"
        return f"objectness x best class ({domain})"

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates:
        return v5_candidates(outputs[self.index][0], self.spec, th, self.gate)


def v5_candidates(
    head: npt.NDArray[np.generic],
    spec: HeadSpec,
    th: Thresholds,
    gate: ObjectnessGate | None = None,
) -> Candidates:
    """[N, 5+C] head -> candidates: best objectness x class per row above the threshold."""
    feat = spec.features(head)
    obj = feat[4]
    if gate is not None:
        # Rows whose objectness level can reach the threshold with some class level.
        cols = gate.rows(obj, th.score)
    else:
        # Float heads hold sigmoid scores (at most 1): confidence never exceeds objectness.
        cols = np.flatnonzero(np.ascontiguousarray(obj) >= np.float32(th.score))
    if cols.size == 0:
        return Candidates.empty()
    conf = spec.real(obj[cols])[None, :] * spec.real(feat[spec.first_class :, cols])  # [C, k]
    best = conf.argmax(axis=0).astype(np.int32)
    scores = conf[best, np.arange(cols.size)]
    keep = scores >= np.float32(th.score)
    return finish(spec, feat, cols[keep], best[keep], scores[keep], th)


class YoloV5(OneHeadFamily):
    name = "yolov5"
    expected = "[1, N, 5+C]"

    def head(self, view: ModelView, t: TensorInfo, cells: int) -> YoloV5Layout | Miss:
        anchors = 3 * cells
        h, w = view.input_hw
        if t.shape[1] != anchors or t.shape[2] < 6:
            return Miss(
                f"{list(t.shape)} is not [1, {anchors}, 5+C] (3 anchors per stride 8/16/32 "
                f"grid cell of {h}x{w})"
            )
        vals = view.values(t)
        units = self.probe_units(vals[:, :, 4:], vals[:, :, :4], "objectness/class columns")
        if isinstance(units, Miss):
            return units
        evidence = (
            f"shape ({anchors} rows = 3 anchors per stride 8/16/32 grid cell of {h}x{w}) and "
            "objectness and class values within [0, 1] on the probe runs"
        )
        return YoloV5Layout(t, t.shape[2] - 5, units, evidence=evidence)
