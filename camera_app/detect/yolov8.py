"""YOLOv8 / YOLO11 heads: one output [1, 4+C, N] (or transposed [1, N, 4+C]), no objectness.

Features are cx, cy, w, h then C class scores (sigmoid applied). N is one anchor per cell of
the stride 8, 16 and 32 grids (8400 at 640x640), which tells the anchor axis from the feature
axis. A quantized head is thresholded in its own domain: the best class of each anchor is the
maximum level (dequantizing is monotone), so only the anchors that clear the threshold are
dequantized and decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from camera_app.detect.decode import Candidates, Thresholds
from camera_app.detect.family import DecoderContext, Miss, ModelView, Outputs
from camera_app.detect.graph import TensorInfo
from camera_app.detect.yolo_common import HeadSpec, OneHead, OneHeadDecoder, OneHeadFamily, finish


@dataclass(frozen=True)
class YoloV8Layout(OneHead):
    channels_first: bool  # [1, 4+C, N]; False: transposed [1, N, 4+C]
    family: ClassVar[str] = "yolov8"

    def outputs(self) -> str:
        shape = "[1, 4+C, N]" if self.channels_first else "[1, N, 4+C] (transposed)"
        return (
            f"YOLOv8/YOLO11 head {shape} in {self.output.describe()}: cx, cy, w, h then "
            f"{self.num_classes} class scores, no objectness"
        )

    def decoder(self, ctx: DecoderContext) -> YoloV8Decoder:
        spec = self.head_spec(ctx, self.channels_first, first_class=4)
        return YoloV8Decoder(self.read.index, spec, self.units)


@dataclass(frozen=True)
class YoloV8Decoder(OneHeadDecoder):
    def scores_how(self) -> str:
        domain = "quantized domain" if self.spec.quant else "float"
        return f"best class per anchor, thresholded in the {domain}"

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates:
        return v8_candidates(outputs[self.index][0], self.spec, th)


def v8_candidates(head: np.ndarray, spec: HeadSpec, th: Thresholds) -> Candidates:
    """[F, N] or [N, F] head -> best-class candidates of the anchors above the threshold."""
    feat = spec.features(head)
    scores = feat[spec.first_class :]
    best = scores.max(axis=0)  # the best class's level per anchor: monotone in its score
    cols = np.flatnonzero(best >= spec.class_cut(th.score))
    if cols.size == 0:
        return Candidates.empty()
    class_ids = scores[:, cols].argmax(axis=0).astype(np.int32)
    return finish(spec, feat, cols, class_ids, spec.real(best[cols]), th)


def _axes(t: TensorInfo, cells: int) -> tuple[bool, int] | None:
    """(channels_first, features) when one axis is the grid's anchor count."""
    a, b = t.shape[1], t.shape[2]
    if b == cells and 5 <= a < b:
        return True, a
    if a == cells and 5 <= b < a:
        return False, b
    return None


class YoloV8(OneHeadFamily):
    name = "yolov8"
    expected = "[1, 4+C, N]"

    def head(self, view: ModelView, t: TensorInfo, cells: int) -> YoloV8Layout | Miss:
        axes = _axes(t, cells)
        h, w = view.input_hw
        if axes is None:
            return Miss(
                f"neither axis of {list(t.shape)} is the {cells} grid cells of a {h}x{w} input"
            )
        channels_first, features = axes
        vals = view.values(t)  # [probes, a, b]
        feat = vals if channels_first else np.swapaxes(vals, 1, 2)  # [probes, F, N]
        units = self.probe_units(feat[:, 4:], feat[:, :4], "class rows")
        if isinstance(units, Miss):
            return units
        evidence = (
            f"shape ({cells} anchors = the stride 8/16/32 grid cells of {h}x{w}) and class "
            "values within [0, 1] on the probe runs"
        )
        return YoloV8Layout(t, features - 4, units, channels_first, evidence=evidence)
