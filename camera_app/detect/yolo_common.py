"""What the YOLO families share (numpy only): their input convention, box units read from the
values, centre-size boxes to normalized corners, and the quantized-domain class threshold.

Ultralytics heads put cx, cy, w, h in the first four features, normalized by the input size in
its TFLite exports (so int8 scores do not collapse); other exports give input pixels. Which one
a model uses is read from its probe outputs: normalized boxes stay near [0, 1], pixel boxes
reach tens or hundreds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import F32
from camera_app.detect.decode import Candidates, Thresholds, keep_allowed, top_k
from camera_app.detect.family import (
    DecoderContext,
    InputConvention,
    Layout,
    LayoutBase,
    Miss,
    ModelView,
    yolo_grid_cells,
)
from camera_app.detect.graph import TensorInfo
from camera_app.detect.labels import check_fits
from camera_app.detect.quantization import dequantize, quantized_threshold
from camera_app.modes import ResizeMode

# Ultralytics trains and validates on letterboxed inputs padded with grey 114, RGB pixel/255.
YOLO_INPUT = InputConvention(
    0.0, 255.0, ResizeMode.LETTERBOX, 114, "Ultralytics exports: RGB pixel/255, letterbox 114"
)
# The threshold's level, once per (threshold, scale, zero point) rather than every frame.
_level = functools.lru_cache(maxsize=64)(quantized_threshold)
_PIXEL_ABOVE = 2.0  # normalized coordinates stay near [0, 1]; pixel ones go far beyond
# Sigmoid scores lie in [0, 1]; a quantized head's calibrated range may overshoot a little
# (the uint8 YOLOv5n reaches 1.07); logits spread far wider.
_SCORE_RANGE = (-0.25, 1.25)


def score_like(vals: npt.NDArray[np.float32]) -> str:
    """'' when ``vals`` look like probabilities, else a phrase saying what they span."""
    if vals.size == 0:
        return ""
    lo, hi = float(vals.min()), float(vals.max())
    if _SCORE_RANGE[0] <= lo and hi <= _SCORE_RANGE[1]:
        return ""
    return f"span [{lo:.3g}, {hi:.3g}]: not sigmoid scores"


@dataclass(frozen=True)
class BoxUnits:
    """Whether boxes are normalized or in input pixels, and how that was told."""

    pixels: bool
    how: str

    def scale(self, input_hw: tuple[int, int]) -> tuple[float, float]:
        """(x, y) factors that make the boxes normalized."""
        h, w = input_hw
        return (1.0 / w, 1.0 / h) if self.pixels else (1.0, 1.0)

    def describe(self) -> str:
        return f"{'input pixels' if self.pixels else 'normalized to [0, 1]'} ({self.how})"


def box_units(coords: npt.NDArray[np.float32], what: str) -> BoxUnits:
    """Units of box coordinates seen on the probe runs (``coords``: any shape)."""
    if coords.size == 0 or not np.any(coords):
        return BoxUnits(False, f"assumed: the probe runs gave no {what}")
    top = float(np.max(np.abs(coords)))
    if top > _PIXEL_ABOVE:
        return BoxUnits(True, f"probe {what} reach {top:.4g}")
    return BoxUnits(False, f"probe {what} stay within {top:.3g}")


@dataclass(frozen=True)
class HeadSpec:
    """One YOLO head, seen as features x anchors ([F, N]; the layout transposes a view)."""

    channels_first: bool  # [1, F, N] (YOLOv8/11) rather than [1, N, F]
    first_class: int  # 4 without objectness, 5 with (YOLOv5)
    num_classes: int
    quant: tuple[float, int] | None  # (scale, zero point) of a quantized head
    box_scale: tuple[float, float]  # (x, y) factors to normalize the boxes

    def features(self, head: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The batch-less head as [F, N] (a view, never a copy)."""
        return head if self.channels_first else head.T

    def real(self, values: npt.NDArray[Any]) -> F32:
        return dequantize(values, *self.quant) if self.quant else values.astype(np.float32)

    def class_cut(self, threshold: float) -> float | int:
        """The threshold in the head's own domain: a level for a quantized head."""
        return _level(threshold, *self.quant) if self.quant else float(threshold)

    @functools.cached_property
    def _to_yxyx(self) -> F32:
        """(cx, cy, w, h) rows @ this = (ymin, xmin, ymax, xmax), normalized: one matmul."""
        sx, sy = (np.float32(v) for v in self.box_scale)
        h = np.float32(0.5)
        return np.array(
            [[0, sx, 0, sx], [sy, 0, sy, 0], [0, -h * sx, 0, h * sx], [-h * sy, 0, h * sy, 0]],
            np.float32,
        )

    def boxes(self, feat: npt.NDArray[Any], cols: npt.NDArray[np.intp]) -> F32:
        """The anchors' boxes, (ymin, xmin, ymax, xmax) normalized, clipped to [0, 1]."""
        out: F32 = self.real(feat[:4, cols]).T @ self._to_yxyx
        return np.clip(out, 0.0, 1.0, out=out)


def finish(
    spec: HeadSpec,
    feat: npt.NDArray[Any],
    cols: npt.NDArray[np.intp],
    class_ids: npt.NDArray[np.int32],
    scores: F32,
    th: Thresholds,
) -> Candidates:
    """Allow-list, top-k, then decode only the surviving anchors' boxes."""
    cols, class_ids, scores = keep_allowed(cols, class_ids, scores, th)
    if cols.size == 0:
        return Candidates.empty()
    cols, class_ids, scores = top_k(cols, class_ids, scores, th.pre_nms_top_k)
    return Candidates(spec.boxes(feat, cols), scores, class_ids)


L = TypeVar("L", bound="OneHead")


@dataclass(frozen=True)
class YoloLayout(LayoutBase):
    """A YOLO family's layout: its exports take Ultralytics' input."""

    input_convention: ClassVar[InputConvention] = YOLO_INPUT


@dataclass(frozen=True)
class OneHead(YoloLayout):
    """What the single-head YOLO layouts share: the head, its classes and box units, and its
    int8/uint8 source once the loader exposed it (``model.expose_quantized_scores``: a float32
    head that is the DEQUANTIZE of an int8 one is read from that, a quarter of the bytes)."""

    output: TensorInfo
    num_classes: int
    units: BoxUnits
    source: TensorInfo | None = field(default=None, kw_only=True)

    @property
    def float_output(self) -> TensorInfo | None:
        return self.output if self.output.dtype == "float32" and self.source is None else None

    @property
    def extra_outputs(self) -> tuple[TensorInfo, ...]:
        return (self.source,) if self.source is not None else ()

    @property
    def read(self) -> TensorInfo:
        """The tensor the decoder reads."""
        return self.source or self.output

    def with_source(self: L, src: TensorInfo) -> L:
        return replace(self, source=src)

    def read_from(self) -> str:
        src = self.source
        return f"; read from its {src.dtype} source {src.name}" if src else ""

    def head_spec(self, ctx: DecoderContext, channels_first: bool, first_class: int) -> HeadSpec:
        """The head as its decoder reads it, once the labels are known to fit its classes."""
        check_fits(ctx.labels, self.num_classes, ctx.model)
        t = self.read
        return HeadSpec(
            channels_first=channels_first, first_class=first_class, num_classes=self.num_classes,
            quant=(t.scale, t.zero_point) if t.quantized else None,
            box_scale=self.units.scale(ctx.input_hw),
        )  # fmt: skip


@dataclass(frozen=True)
class OneHeadDecoder:
    """What the single-head YOLO decoders share: one head, centre-size boxes, NMS by the app."""

    index: int
    spec: HeadSpec
    units: BoxUnits
    suppress: ClassVar[bool] = True

    @property
    def reads(self) -> frozenset[int]:
        return frozenset((self.index,))

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def score_tensor(self) -> int:
        return self.index

    def scores_how(self) -> str:
        """How the scores are read, for ``details``."""
        raise NotImplementedError

    def details(self) -> dict[str, object]:
        return {
            "box_format": f"cxcywh, {self.units.describe()}",
            "scores": self.scores_how(),
            "nms": "class-aware, by the app",
        }


class OneHeadFamily:
    """A YOLO family whose models have one 3-D output with a batch of 1: ``head`` tells
    whether that output is the family's, given the anchor-free grid's cell count."""

    name: str
    expected: str  # the output's shape, as a miss names it

    def recognise(self, view: ModelView) -> Layout | Miss:
        outs = view.graph.outputs
        if len(outs) != 1 or len(outs[0].shape) != 3 or outs[0].shape[0] != 1:
            return Miss(f"not one {self.expected} output")
        return self.head(view, outs[0], yolo_grid_cells(view.input_hw))

    def head(self, view: ModelView, t: TensorInfo, cells: int) -> Layout | Miss:
        raise NotImplementedError

    @staticmethod
    def probe_units(
        scores: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32], what: str
    ) -> BoxUnits | Miss:
        """The probe boxes' units, or a miss when the probe ``scores`` (the head's ``what``)
        are not sigmoid scores."""
        if bad := score_like(scores):
            return Miss(f"its {what} {bad}")
        return box_units(boxes, "boxes")


def metadata_names_count(metadata: Mapping[str, Any]) -> int | None:
    names = metadata.get("names")
    return len(names) if isinstance(names, (dict, list, tuple)) else None
