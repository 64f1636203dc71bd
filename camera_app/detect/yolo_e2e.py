"""End-to-end YOLO heads (YOLOv10, YOLO26): one output [1, K, 6] = x1, y1, x2, y2, score,
class id, with NMS done in the graph: the app only thresholds and filters classes.

Told from a [1, N, 4+2] YOLOv8 head by K (not a grid's anchor count) and by the class column,
which holds whole numbers on the probe runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from camera_app.detect.decode import Candidates, Thresholds, keep_allowed
from camera_app.detect.family import DecoderContext, Miss, ModelView, NoSource, Outputs
from camera_app.detect.graph import TensorInfo
from camera_app.detect.labels import check_fits
from camera_app.detect.quantization import dequantize, quantized_threshold
from camera_app.detect.yolo_common import BoxUnits, OneHeadFamily, YoloLayout, metadata_names_count


@dataclass(frozen=True)
class YoloE2ELayout(NoSource, YoloLayout):
    output: TensorInfo
    units: BoxUnits
    num_classes: int  # 0: unknown (the head does not say; labels or metadata may)
    family: ClassVar[str] = "yolo-end-to-end"

    def outputs(self) -> str:
        return (
            f"end-to-end YOLO head [1, K, 6] in {self.output.describe()}: x1, y1, x2, y2, "
            "score, class id, NMS done in the graph"
        )

    def decoder(self, ctx: DecoderContext) -> YoloE2EDecoder:
        if self.num_classes:
            check_fits(ctx.labels, self.num_classes, ctx.model)
        t = self.output
        h, w = ctx.input_hw
        sx, sy = (1.0 / w, 1.0 / h) if self.units.pixels else (1.0, 1.0)
        quant = (t.scale, t.zero_point) if t.quantized else None
        return YoloE2EDecoder(t.index, quant, (sx, sy), self.units, self.num_classes)


@dataclass(frozen=True)
class YoloE2EDecoder:
    index: int
    quant: tuple[float, int] | None
    box_scale: tuple[float, float]
    units: BoxUnits
    num_classes: int
    suppress: ClassVar[bool] = False  # the export ran NMS

    @property
    def reads(self) -> frozenset[int]:
        return frozenset((self.index,))

    @property
    def score_tensor(self) -> int:
        return self.index

    def details(self) -> dict[str, object]:
        return {
            "box_format": f"xyxy, {self.units.describe()}",
            "scores": "column 4, thresholded" + (" in the quantized domain" if self.quant else ""),
            "nms": "done in the graph (end-to-end export): threshold and class filter only",
        }

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates:
        head = outputs[self.index][0]  # [K, 6]
        if self.quant:
            rows = np.flatnonzero(head[:, 4] >= quantized_threshold(th.score, *self.quant))
            vals = dequantize(head[rows], *self.quant)
        else:
            rows = np.flatnonzero(head[:, 4] >= np.float32(th.score))
            vals = head[rows].astype(np.float32)
        class_ids = np.rint(vals[:, 5]).astype(np.int32)
        picked, class_ids, scores = keep_allowed(
            np.arange(rows.size), class_ids, vals[:, 4].copy(), th
        )
        v = vals[picked]
        sx, sy = np.float32(self.box_scale[0]), np.float32(self.box_scale[1])
        boxes = np.stack([v[:, 1] * sy, v[:, 0] * sx, v[:, 3] * sy, v[:, 2] * sx], axis=1)
        boxes = np.clip(boxes, 0.0, 1.0).astype(np.float32, copy=False)
        order = np.argsort(-scores, kind="stable")[: th.max_detections]
        return Candidates(boxes[order], scores[order], class_ids[order])


class YoloEndToEnd(OneHeadFamily):
    name = "yolo-end-to-end"
    expected = "[1, K, 6]"

    def head(self, view: ModelView, t: TensorInfo, cells: int) -> YoloE2ELayout | Miss:
        if t.shape[2] != 6:
            return Miss(f"{list(t.shape)} has not 6 values per detection")
        if t.shape[1] in (cells, 3 * cells):
            return Miss(f"K = {t.shape[1]} is a grid's anchor count: a 2-class YOLOv8/v5 head")
        vals = view.values(t)  # [probes, K, 6]
        ids = vals[:, :, 5]
        if not np.all(ids == np.round(ids)) or ids.min() < 0:
            return Miss("column 5 does not hold whole non-negative class ids on the probe runs")
        units = self.probe_units(vals[:, :, 4], vals[:, :, :4], "score column")
        if isinstance(units, Miss):
            return units
        evidence = (
            f"shape (K = {t.shape[1]}, not a grid's anchor count), whole class ids and scores "
            "within [0, 1] on the probe runs"
        )
        names = metadata_names_count(view.metadata) or 0
        return YoloE2ELayout(t, units, names, evidence=evidence)
