"""Map a detector's outputs by meaning, never by position.

Evidence, strongest first: the ``TFLite_Detection_PostProcess`` op's own output order; signature
output names; tensor names; shapes; values from probe runs (anchors do not change with the
input). When nothing fits, ``OutputLayoutError`` lists what the model has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from camera_app.detect.graph import GraphInfo, TensorInfo
from camera_app.errors import OutputLayoutError

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
Probe = Mapping[int, npt.NDArray[np.generic]]

_BOX_HINT = re.compile(r"box|bbox|loc|encod|regress|delta", re.IGNORECASE)
_SCORE_HINT = re.compile(r"class|score|conf|logit|prob|cls", re.IGNORECASE)
_ANCHOR_HINT = re.compile(r"anchor|prior", re.IGNORECASE)


class Activation(str, Enum):
    NONE = "none"  # scores are probabilities already
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"


@dataclass(frozen=True)
class PostProcessLayout:
    boxes: TensorInfo
    classes: TensorInfo
    scores: TensorInfo
    count: TensorInfo
    order: str  # "tf1", "tf2" or "other": the position of the four outputs
    evidence: str

    def describe(self) -> str:
        return (
            f"in-graph {POSTPROCESS_OP}, {self.order.upper()} output order "
            f"(boxes={self.boxes.name}, classes={self.classes.name}, scores={self.scores.name}, "
            f"count={self.count.name}); mapped by {self.evidence}"
        )


@dataclass(frozen=True)
class RawLayout:
    boxes: TensorInfo
    scores: TensorInfo
    anchors: TensorInfo | None
    evidence: str
    # The int8/uint8 tensor the float scores are dequantized from, when the model loader
    # made it an extra output (see ``model.expose_quantized_scores``): read instead of them.
    scores_quantized: TensorInfo | None = None

    @property
    def num_boxes(self) -> int:
        return self.boxes.shape[-2]

    @property
    def num_columns(self) -> int:
        return self.scores.shape[-1]

    def describe(self) -> str:
        anchors = f", anchors={self.anchors.name}" if self.anchors else ""
        q = self.scores_quantized
        read = f" read from its {q.dtype} source {q.name}" if q else ""
        return (
            f"raw SSD outputs (box encodings={self.boxes.name} {list(self.boxes.shape)}, "
            f"class scores={self.scores.name} {list(self.scores.shape)}{read}{anchors}); "
            f"mapped by {self.evidence}"
        )


Layout = PostProcessLayout | RawLayout


def _seen(graph: GraphInfo) -> str:
    return "; ".join(f"#{i} {t.describe()}" for i, t in enumerate(graph.outputs))


def _order(outputs: Sequence[TensorInfo], b: int, c: int, s: int, n: int) -> str:
    pos = [t.index for t in outputs]
    if pos == [b, c, s, n]:
        return "tf1"
    if pos == [n, s, c, b]:
        return "tf2"
    return "other"


def _postprocess(graph: GraphInfo, probes: Sequence[Probe]) -> PostProcessLayout | None:
    outs = graph.outputs
    by_index = {t.index: t for t in outs}
    for op in graph.ops:
        if op.name == POSTPROCESS_OP and len(op.outputs) == 4:
            b, c, s, n = op.outputs
            if all(i in by_index for i in op.outputs):
                return PostProcessLayout(
                    by_index[b], by_index[c], by_index[s], by_index[n],
                    _order(outs, b, c, s, n), f"the {POSTPROCESS_OP} op's output order",
                )  # fmt: skip
    # Without op information: four float outputs shaped [1,N,4], [1,N], [1,N], [1].
    if len(outs) != 4 or any(t.dtype != "float32" for t in outs):
        return None
    boxes = [t for t in outs if len(t.shape) == 3 and t.shape[-1] == 4]
    counts = [t for t in outs if len(t.shape) <= 1]
    pairs = [t for t in outs if len(t.shape) == 2]
    if len(boxes) != 1 or len(counts) != 1 or len(pairs) != 2:
        return None
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
            return None
        classes, evidence = ids[0], "shapes and value ranges"
    else:
        return None
    scores = next(t for t in pairs if t is not classes)
    b, c, s, n = boxes[0].index, classes.index, scores.index, counts[0].index
    return PostProcessLayout(
        boxes[0], classes, scores, counts[0], _order(outs, b, c, s, n), evidence
    )


def _constant_across(t: TensorInfo, probes: Sequence[Probe]) -> bool:
    if len(probes) < 2:
        return False
    first = probes[0][t.index]
    return all(np.array_equal(first, p[t.index]) for p in probes[1:])


def _raw(graph: GraphInfo, probes: Sequence[Probe]) -> RawLayout | None:
    outs = [t for t in graph.outputs if len(t.shape) == 3 and t.shape[0] == 1]
    if len(outs) not in (2, 3) or len(outs) != len(graph.outputs):
        return None
    if len({t.shape[1] for t in outs}) != 1:
        return None
    hints = {t.index: graph.hint_name(t) for t in outs}
    wide = [t for t in outs if t.shape[-1] != 4]
    if len(wide) == 1:
        scores, evidence = wide[0], "shapes"
    else:
        named = [t for t in outs if _SCORE_HINT.search(hints[t.index])]
        if len(named) != 1:
            return None
        scores, evidence = named[0], "names"
    rest = [t for t in outs if t is not scores and t.shape[-1] == 4]
    if len(rest) != len(outs) - 1:
        return None
    if len(rest) == 1:
        return RawLayout(rest[0], scores, None, evidence)
    named_anchor = [t for t in rest if _ANCHOR_HINT.search(hints[t.index])]
    named_box = [t for t in rest if _BOX_HINT.search(hints[t.index])]
    constant = [t for t in rest if _constant_across(t, probes)]
    if len(named_anchor) == 1 and named_anchor != named_box:
        anchors, evidence = named_anchor[0], evidence + " and names"
    elif len(constant) == 1:
        anchors, evidence = constant[0], evidence + " and values (anchors ignore the input)"
    else:
        return None
    boxes = next(t for t in rest if t is not anchors)
    return RawLayout(boxes, scores, anchors, evidence)


def recognise(graph: GraphInfo, probes: Sequence[Probe] = (), model: str = "") -> Layout:
    """The detector layout of ``graph``, or an error listing what it saw."""
    found: Layout | None = _postprocess(graph, probes) or _raw(graph, probes)
    if found is None:
        raise OutputLayoutError(
            f"cannot recognise the outputs as an SSD detector; expected the {POSTPROCESS_OP} "
            "outputs (boxes [1,N,4], classes [1,N], scores [1,N], count [1]) or raw outputs "
            "(box encodings [1,N,4] + class scores [1,N,C], optionally anchors [1,N,4]); "
            f"the model has {len(graph.outputs)} outputs: {_seen(graph)}",
            model=model,
        )
    return found


def detect_activation(
    graph: GraphInfo, scores: TensorInfo, probes: Sequence[Probe]
) -> tuple[Activation, str]:
    """Is a raw score tensor already activated? Returns the activation still to apply, and why."""
    op = graph.find_activation(scores.index)
    if op is not None:
        return Activation.NONE, f"{op.name} op #{op.index} already applied in the graph"
    hint = graph.hint_name(scores).lower()
    if "softmax" in hint or "sigmoid" in hint or "logistic" in hint:
        return Activation.NONE, f"the output name '{graph.hint_name(scores)}' says so"
    rng = scores.real_range()
    if rng is not None and rng[0] >= -1e-6 and rng[1] <= 1 + 1e-6:
        return Activation.NONE, "its quantization range lies within [0, 1]"
    if probes:
        vals = np.concatenate([np.ravel(p[scores.index]).astype(np.float32) for p in probes])
        if scores.quantized:
            vals = (vals - scores.zero_point) * scores.scale
        if vals.min() >= 0 and vals.max() <= 1:
            return Activation.NONE, "its values lie within [0, 1]"
    return Activation.SIGMOID, "values outside [0, 1] are logits (TF SSD convention: sigmoid)"
