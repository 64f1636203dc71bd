"""SSD with the in-graph ``TFLite_Detection_PostProcess`` op (TF1 and TF2 export orders).

Outputs are mapped by the op's own output order when the op list is readable, else by names,
shapes and value ranges (class ids are whole numbers, some above 1; scores lie in [0, 1]):
never by position, since TF1 and TF2 exports order them differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from camera_app.detect.decode import Candidates, Thresholds, decode_postprocess
from camera_app.detect.family import DecoderContext, Miss, ModelView, NoSource, Outputs, SsdLayout
from camera_app.detect.graph import GraphInfo, TensorInfo
from camera_app.detect.labels import check_fits
from camera_app.detect.layout import POSTPROCESS_OP, Probe


@dataclass(frozen=True)
class PostProcessLayout(NoSource, SsdLayout):
    boxes: TensorInfo
    classes: TensorInfo
    scores: TensorInfo
    count: TensorInfo
    order: str  # "tf1", "tf2" or "other": the position of the four outputs
    family: ClassVar[str] = "ssd-postprocess"

    def outputs(self) -> str:
        return (
            f"in-graph {POSTPROCESS_OP}, {self.order.upper()} output order "
            f"(boxes={self.boxes.name}, classes={self.classes.name}, scores={self.scores.name}, "
            f"count={self.count.name})"
        )

    def decoder(self, ctx: DecoderContext) -> PostProcessDecoder:
        # The class scores fed into the op show a quantization cap; the op's output cannot.
        cap_tensor = self.scores.index
        pp = ctx.graph.producer(self.scores.index)
        if pp is not None and len(pp.inputs) > 1:
            cap_tensor = pp.inputs[1]
            # Its class predictions [1, anchors, classes + 1]: column 0 is the background,
            # which the op's class ids leave out; a labels file naming fewer classes would
            # show "class_17" for a dog.
            scores_in = ctx.graph.tensors.get(cap_tensor)
            if scores_in is not None and len(scores_in.shape) == 3 and scores_in.shape[2] > 1:
                check_fits(ctx.labels, scores_in.shape[2] - 1, ctx.model)
        return PostProcessDecoder(self, cap_tensor)


@dataclass(frozen=True)
class PostProcessDecoder:
    layout: PostProcessLayout
    score_tensor: int
    suppress: ClassVar[bool] = False  # the op ran NMS

    @property
    def reads(self) -> frozenset[int]:
        lt = self.layout
        return frozenset(t.index for t in (lt.boxes, lt.classes, lt.scores, lt.count))

    @property
    def num_classes(self) -> int:
        return 0  # the op's outputs do not say; its input may (see ``decoder``)

    def details(self) -> dict[str, object]:
        return {
            "box_format": "yxyx normalized (the op's boxes)",
            "output_order": self.layout.order,
            "nms": f"done in the graph by {POSTPROCESS_OP}",
        }

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates:
        lt = self.layout
        return decode_postprocess(
            outputs[lt.boxes.index][0], outputs[lt.classes.index][0],
            outputs[lt.scores.index][0], float(np.ravel(outputs[lt.count.index])[0]), th,
        )  # fmt: skip


def _order(outputs: Sequence[TensorInfo], b: int, c: int, s: int, n: int) -> str:
    pos = [t.index for t in outputs]
    if pos == [b, c, s, n]:
        return "tf1"
    if pos == [n, s, c, b]:
        return "tf2"
    return "other"


def _by_op(graph: GraphInfo) -> PostProcessLayout | None:
    outs = graph.outputs
    by_index = {t.index: t for t in outs}
    for op in graph.ops:
        if op.name == POSTPROCESS_OP and len(op.outputs) == 4:
            b, c, s, n = op.outputs
            if all(i in by_index for i in op.outputs):
                return PostProcessLayout(
                    by_index[b], by_index[c], by_index[s], by_index[n], _order(outs, b, c, s, n),
                    evidence=f"the {POSTPROCESS_OP} op's output order",
                )  # fmt: skip
    return None


def _by_meaning(graph: GraphInfo, probes: Sequence[Probe]) -> PostProcessLayout | Miss:
    """Without op information: four float outputs shaped [1,N,4], [1,N], [1,N], [1]."""
    outs = graph.outputs
    if len(outs) != 4 or any(t.dtype != "float32" for t in outs):
        return Miss(f"no {POSTPROCESS_OP} op, and not four float32 outputs")
    boxes = [t for t in outs if len(t.shape) == 3 and t.shape[-1] == 4]
    counts = [t for t in outs if len(t.shape) <= 1]
    pairs = [t for t in outs if len(t.shape) == 2]
    if len(boxes) != 1 or len(counts) != 1 or len(pairs) != 2:
        return Miss("the four outputs are not shaped [1,N,4], [1,N], [1,N], [1]")
    names = {t.index: graph.hint_name(t).lower() for t in pairs}
    cls_by_name = [t for t in pairs if "class" in names[t.index]]
    if len(cls_by_name) == 1:
        classes, evidence = cls_by_name[0], "output names"
    elif probes:
        # Class ids are whole numbers and some exceed 1; scores lie in [0, 1].
        def looks_like_ids(t: TensorInfo) -> bool:
            vals = np.concatenate([np.ravel(p[t.index]) for p in probes])
            return bool(np.all(vals == np.round(vals)) and np.any(vals > 1))

        ids = [t for t in pairs if looks_like_ids(t)]
        if len(ids) != 1:
            return Miss("the two [1,N] outputs cannot be told apart as classes and scores")
        classes, evidence = ids[0], "shapes and value ranges"
    else:
        return Miss("the two [1,N] outputs have no names saying which holds the classes")
    scores = next(t for t in pairs if t is not classes)
    b, c, s, n = boxes[0].index, classes.index, scores.index, counts[0].index
    return PostProcessLayout(
        boxes[0], classes, scores, counts[0], _order(outs, b, c, s, n), evidence=evidence
    )


class SsdPostProcess:
    name = "ssd-postprocess"

    def recognise(self, view: ModelView) -> PostProcessLayout | Miss:
        return _by_op(view.graph) or _by_meaning(view.graph, view.probes)
