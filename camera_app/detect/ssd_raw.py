"""Raw SSD outputs: box encodings [1,N,4] + class scores [1,N,C], anchors from the model, a
file beside it, or the TF ``ssd_anchor_generator``; the app runs the NMS.

The score tensor is the wide one (or the one named like scores); of two [1,N,4] outputs the
anchors are the one named so, or the one that does not change with the input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from camera_app.detect.anchors import AnchorConfig, Anchors, generate_anchors, load_anchors_file
from camera_app.detect.boxes import CenterSizeCoder, CornerOffsetCoder
from camera_app.detect.decode import Candidates, ScoreFormat, Thresholds, raw_candidates
from camera_app.detect.family import DecoderContext, Miss, ModelView, Outputs, SsdLayout
from camera_app.detect.graph import GraphInfo, TensorInfo
from camera_app.detect.labels import check_fits
from camera_app.detect.layout import Probe, detect_activation
from camera_app.errors import OutputLayoutError

_BOX_HINT = re.compile(r"box|bbox|loc|encod|regress|delta", re.IGNORECASE)
_SCORE_HINT = re.compile(r"class|score|conf|logit|prob|cls", re.IGNORECASE)
_ANCHOR_HINT = re.compile(r"anchor|prior", re.IGNORECASE)


@dataclass(frozen=True)
class RawLayout(SsdLayout):
    boxes: TensorInfo
    scores: TensorInfo
    anchors: TensorInfo | None
    # The int8/uint8 tensor the float scores are dequantized from, when the model loader
    # made it an extra output (see ``model.expose_quantized_scores``): read instead of them.
    scores_quantized: TensorInfo | None = None
    family: ClassVar[str] = "ssd-raw"

    @property
    def float_output(self) -> TensorInfo | None:
        quantized = self.scores.quantized or self.scores_quantized is not None
        return None if quantized else self.scores

    @property
    def extra_outputs(self) -> tuple[TensorInfo, ...]:
        return (self.scores_quantized,) if self.scores_quantized is not None else ()

    def with_source(self, src: TensorInfo) -> RawLayout:
        return replace(self, scores_quantized=src)

    @property
    def num_boxes(self) -> int:
        return self.boxes.shape[-2]

    @property
    def num_columns(self) -> int:
        return self.scores.shape[-1]

    def outputs(self) -> str:
        anchors = f", anchors={self.anchors.name}" if self.anchors else ""
        q = self.scores_quantized
        read = f" read from its {q.dtype} source {q.name}" if q else ""
        return (
            f"raw SSD outputs (box encodings={self.boxes.name} {list(self.boxes.shape)}, "
            f"class scores={self.scores.name} {list(self.scores.shape)}{read}{anchors})"
        )

    def decoder(self, ctx: DecoderContext) -> RawDecoder:
        return raw_decoder(self, ctx)


@dataclass(frozen=True)
class RawDecoder:
    boxes_index: int
    boxes_quant: tuple[float, int] | None
    scores_index: int
    fmt: ScoreFormat
    anchors: Anchors
    coder: CenterSizeCoder | CornerOffsetCoder
    anchors_source: str
    activation_reason: str
    num_classes: int
    score_tensor: int
    scores_read_from: str  # for inspect: which tensor, and in which domain
    suppress: ClassVar[bool] = True

    @property
    def reads(self) -> frozenset[int]:
        return frozenset((self.boxes_index, self.scores_index))

    def details(self) -> dict[str, object]:
        return {
            "box_format": f"box encodings decoded by {type(self.coder).__name__}",
            "box_coder": type(self.coder).__name__,
            "anchors": self.anchors_source,
            "num_anchors": int(self.anchors.shape[0]),
            "scores_read_from": self.scores_read_from,
            "score_activation": self.fmt.activation.value,
            "activation_reason": self.activation_reason,
            "background_column": self.fmt.background,
            "nms": "class-aware, by the app",
        }

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates:
        return raw_candidates(
            outputs[self.boxes_index][0], self.boxes_quant, outputs[self.scores_index][0],
            self.fmt, self.anchors, self.coder, th,
        )  # fmt: skip


def find_anchors_beside(model_path: Path) -> Path | None:
    found = sorted(
        p for p in model_path.parent.glob("*.txt")
        if "anchor" in p.name.lower() or "prior" in p.name.lower()
    )  # fmt: skip
    return found[0] if found else None


def _anchors(
    layout: RawLayout, ctx: DecoderContext
) -> tuple[Anchors, CenterSizeCoder | CornerOffsetCoder, str]:
    n = layout.num_boxes
    if layout.anchors is not None:
        corners = np.asarray(ctx.probes[0][layout.anchors.index], np.float32).reshape(n, 4)
        if not np.all(corners[:, 2] >= corners[:, 0]) or not np.all(corners[:, 3] >= corners[:, 1]):
            raise OutputLayoutError(
                f"the anchors output {layout.anchors.describe()} is not (x1, y1, x2, y2) "
                "corners with x2 >= x1 and y2 >= y1",
                model=ctx.model,
            )
        return corners, CornerOffsetCoder(), f"model output '{layout.anchors.name}'"
    spec = ctx.anchors if ctx.anchors is not None else find_anchors_beside(ctx.model_path)
    if isinstance(spec, Path):
        try:
            return load_anchors_file(spec, expected=n), CenterSizeCoder(), f"file {spec}"
        except ValueError as exc:
            raise OutputLayoutError(str(exc), model=ctx.model) from exc
    cfg = spec or AnchorConfig()
    anchors = generate_anchors(cfg, ctx.input_hw)
    source = f"ssd_anchor_generator {cfg}"
    if anchors.shape[0] != n:
        raise OutputLayoutError(
            f"the model has {n} boxes but {source} gives {anchors.shape[0]} anchors for a "
            f"{ctx.input_hw[0]}x{ctx.input_hw[1]} input; set model.anchors to the "
            "model's anchor file or its ssd_anchor_generator settings",
            model=ctx.model,
        )
    return anchors, CenterSizeCoder(), source


def raw_decoder(layout: RawLayout, ctx: DecoderContext) -> RawDecoder:
    anchors, coder, source = _anchors(layout, ctx)
    if ctx.score_activation is not None:
        activation, why = ctx.score_activation, "configured"
    else:
        activation, why = detect_activation(ctx.graph, layout.scores, ctx.probes)
    columns = layout.num_columns
    labels = ctx.labels
    if ctx.background is not None:
        background = ctx.background
    elif labels.names and labels.count == columns:
        background = False
    else:
        background = True  # TF OD API SSDs score background in column 0
    check_fits(labels, columns - int(background), ctx.model)
    # Scores are read from their int8/uint8 source when the loader exposed it (same values).
    q = layout.scores_quantized
    s, b = q or layout.scores, layout.boxes
    read_from = (
        f"{s.dtype} {'tensor before the DEQUANTIZE' if q else 'output'} {s.name} (#{s.index}), "
        + ("threshold in the quantized domain" if s.quantized else "float threshold")
    )
    return RawDecoder(
        boxes_index=b.index,
        boxes_quant=(b.scale, b.zero_point) if b.quantized else None,
        scores_index=s.index,
        fmt=ScoreFormat(activation, background, s.scale if s.quantized else 0.0, s.zero_point),
        anchors=anchors,
        coder=coder,
        anchors_source=source,
        activation_reason=why,
        num_classes=columns - int(background),
        score_tensor=layout.scores.index,
        scores_read_from=read_from,
    )


def _constant_across(t: TensorInfo, probes: Sequence[Probe]) -> bool:
    if len(probes) < 2:
        return False
    first = probes[0][t.index]
    return all(np.array_equal(first, p[t.index]) for p in probes[1:])


def _raw(graph: GraphInfo, probes: Sequence[Probe]) -> RawLayout | Miss:
    outs = [t for t in graph.outputs if len(t.shape) == 3 and t.shape[0] == 1]
    if len(outs) not in (2, 3) or len(outs) != len(graph.outputs):
        return Miss("not two or three [1,N,K] outputs")
    if len({t.shape[1] for t in outs}) != 1:
        return Miss("the outputs do not share one box count N")
    hints = {t.index: graph.hint_name(t) for t in outs}
    wide = [t for t in outs if t.shape[-1] != 4]
    if len(wide) == 1:
        scores, evidence = wide[0], "shapes"
    else:
        named = [t for t in outs if _SCORE_HINT.search(hints[t.index])]
        if len(named) != 1:
            return Miss("no single output is the class scores [1,N,C]")
        scores, evidence = named[0], "names"
    rest = [t for t in outs if t is not scores and t.shape[-1] == 4]
    if len(rest) != len(outs) - 1:
        return Miss("besides the scores, the outputs are not [1,N,4] boxes or anchors")
    if len(rest) == 1:
        return RawLayout(rest[0], scores, None, evidence=evidence)
    named_anchor = [t for t in rest if _ANCHOR_HINT.search(hints[t.index])]
    named_box = [t for t in rest if _BOX_HINT.search(hints[t.index])]
    constant = [t for t in rest if _constant_across(t, probes)]
    if len(named_anchor) == 1 and named_anchor != named_box:
        anchors, evidence = named_anchor[0], evidence + " and names"
    elif len(constant) == 1:
        anchors, evidence = constant[0], evidence + " and values (anchors ignore the input)"
    else:
        return Miss("of the two [1,N,4] outputs, neither is named or behaves like anchors")
    boxes = next(t for t in rest if t is not anchors)
    return RawLayout(boxes, scores, anchors, evidence=evidence)


class SsdRaw:
    name = "ssd-raw"

    def recognise(self, view: ModelView) -> RawLayout | Miss:
        return _raw(view.graph, view.probes)
