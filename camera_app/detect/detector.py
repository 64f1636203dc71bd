"""The detector: a loaded model plus its preprocessing, decoding and labels.

Three stages, callable one by one so the pipeline can time each:
``preprocess(frame) -> (input, placement)``, ``infer(input) -> outputs``,
``postprocess(outputs, placement) -> Detections``; ``detect(frame)`` runs all three.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from camera_app.detect.anchors import (
    AnchorConfig,
    Anchors,
    generate_anchors,
    load_anchors_file,
)
from camera_app.detect.boxes import CenterSizeCoder, CornerOffsetCoder, yxyx_norm_to_xyxy_px
from camera_app.detect.decode import (
    Candidates,
    ScoreFormat,
    Thresholds,
    decode_postprocess,
    decode_raw,
)
from camera_app.detect.detections import Detections
from camera_app.detect.graph import ScoreCap, score_cap
from camera_app.detect.labels import (
    Labels,
    check_fits,
    find_labels_beside,
    labels_from_file,
    labels_from_metadata,
)
from camera_app.detect.layout import (
    Activation,
    PostProcessLayout,
    RawLayout,
    detect_activation,
)
from camera_app.detect.model import LoadedModel, load_model
from camera_app.detect.preprocess import Placement, Preprocessor
from camera_app.detect.quantization import InputDType, InputQuantization
from camera_app.errors import ModelError, OutputLayoutError
from camera_app.modes import ColourOrder, ResizeMode

log = logging.getLogger(__name__)
Outputs = Mapping[int, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class DetectorOptions:
    threshold: float = 0.5
    iou_threshold: float = 0.5
    max_detections: int = 20
    classes: tuple[str, ...] = ()
    colour_order: ColourOrder = ColourOrder.RGB
    resize: ResizeMode = ResizeMode.STRETCH
    mean: float = 127.5
    std: float = 127.5
    score_activation: Activation | None = None  # None = detect
    background: bool | None = None  # None = detect
    anchors: Path | AnchorConfig | None = None  # None = model output, file beside, or default
    labels: Path | None = None
    label_offset: int | None = None
    threads: int = 2
    # 2: the resize in two parts on two threads (detect/resize.py). Pays off frame after frame
    # on the interpreter's idle cores; the App sets it, one-shot commands keep one thread.
    resize_threads: int = 1
    runtime: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


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


def find_anchors_beside(model_path: Path) -> Path | None:
    found = sorted(
        p for p in model_path.parent.glob("*.txt")
        if "anchor" in p.name.lower() or "prior" in p.name.lower()
    )  # fmt: skip
    return found[0] if found else None


def _labels(model: LoadedModel, opts: DetectorOptions) -> Labels:
    if opts.labels is not None:
        return labels_from_file(opts.labels, opts.label_offset)
    beside = find_labels_beside(model.path)
    if beside is not None:
        return labels_from_file(beside, opts.label_offset)
    embedded = labels_from_metadata(model.content, str(model.path), opts.label_offset)
    return embedded if embedded is not None else Labels.none()


def _raw_decoder(
    model: LoadedModel, layout: RawLayout, opts: DetectorOptions, labels: Labels
) -> RawDecoder:
    where = str(model.path)
    n = layout.num_boxes
    anchors: Anchors
    coder: CenterSizeCoder | CornerOffsetCoder
    if layout.anchors is not None:
        corners = np.asarray(model.probes[0][layout.anchors.index], np.float32).reshape(n, 4)
        if not np.all(corners[:, 2] >= corners[:, 0]) or not np.all(corners[:, 3] >= corners[:, 1]):
            raise OutputLayoutError(
                f"the anchors output {layout.anchors.describe()} is not (x1, y1, x2, y2) "
                "corners with x2 >= x1 and y2 >= y1",
                model=where,
            )
        anchors, coder, source = (
            corners,
            CornerOffsetCoder(),
            f"model output '{layout.anchors.name}'",
        )
    else:
        spec = opts.anchors if opts.anchors is not None else find_anchors_beside(model.path)
        if isinstance(spec, Path):
            try:
                anchors = load_anchors_file(spec, expected=n)
            except ValueError as exc:
                raise OutputLayoutError(str(exc), model=where) from exc
            source = f"file {spec}"
        else:
            cfg = spec or AnchorConfig()
            anchors = generate_anchors(cfg, model.input_hw)
            source = f"ssd_anchor_generator {cfg}"
            if anchors.shape[0] != n:
                raise OutputLayoutError(
                    f"the model has {n} boxes but {source} gives {anchors.shape[0]} anchors for a "
                    f"{model.input_hw[0]}x{model.input_hw[1]} input; set model.anchors to the "
                    "model's anchor file or its ssd_anchor_generator settings",
                    model=where,
                )
        coder = CenterSizeCoder()
    if opts.score_activation is not None:
        activation, why = opts.score_activation, "configured"
    else:
        activation, why = detect_activation(model.graph, layout.scores, model.probes)
    columns = layout.num_columns
    if opts.background is not None:
        background = opts.background
    elif labels.names and labels.count == columns:
        background = False
    else:
        background = True  # TF OD API SSDs score background in column 0
    check_fits(labels, columns - int(background), where)
    # Scores are read from their int8/uint8 source when the loader exposed it (same values).
    s, b = layout.scores_quantized or layout.scores, layout.boxes
    return RawDecoder(
        boxes_index=b.index,
        boxes_quant=(b.scale, b.zero_point) if b.quantized else None,
        scores_index=s.index,
        fmt=ScoreFormat(activation, background, s.scale if s.quantized else 0.0, s.zero_point),
        anchors=anchors,
        coder=coder,
        anchors_source=source,
        activation_reason=why,
    )


class Detector:
    def __init__(self, model: LoadedModel, opts: DetectorOptions) -> None:
        self.model = model
        self.opts = opts
        inp = model.input
        self.input_quant = InputQuantization(
            dtype=InputDType(inp.dtype), mean=opts.mean, std=opts.std,
            scale=inp.scale, zero_point=inp.zero_point,
        )  # fmt: skip
        self.preprocessor = Preprocessor(
            model.input_hw, self.input_quant, opts.colour_order, opts.resize,
            resize_threads=opts.resize_threads,
        )  # fmt: skip
        self.labels = _labels(model, opts)
        layout = model.layout
        self.raw: RawDecoder | None = None
        # reads: the outputs postprocess uses (a raw model's anchors come from the probes).
        if isinstance(layout, RawLayout):
            self.raw = _raw_decoder(model, layout, opts, self.labels)
            cap_tensor = layout.scores.index
            self.reads = frozenset((self.raw.boxes_index, self.raw.scores_index))
        else:
            cap_tensor = layout.scores.index
            pp = model.graph.producer(layout.scores.index)
            if pp is not None and len(pp.inputs) > 1:
                cap_tensor = pp.inputs[1]  # the class scores fed into the PostProcess op
            parts = (layout.boxes, layout.classes, layout.scores, layout.count)
            self.reads = frozenset(t.index for t in parts)
        self.score_cap: ScoreCap | None = score_cap(model.graph, cap_tensor)
        allowed = self.labels.ids_for(opts.classes) if opts.classes else None
        self.thresholds = Thresholds(
            opts.threshold, opts.iou_threshold, opts.max_detections, allowed
        )
        if self.score_cap is not None and opts.threshold > self.score_cap.cap:
            log.warning(
                "threshold %.2f can never match: %s", opts.threshold, self.score_cap.explain()
            )

    @classmethod
    def from_spec(cls, model: str, opts: DetectorOptions) -> Detector:
        from camera_app.runtime import load_runtime

        return cls(
            load_model(model, threads=opts.threads, runtime=load_runtime(opts.runtime)), opts
        )

    def with_thresholds(self, th: Thresholds) -> Thresholds:
        return th

    def preprocess(
        self, frame_bgr: npt.NDArray[np.uint8], resize_threads: int | None = None
    ) -> tuple[npt.NDArray[np.generic], Placement]:
        """``resize_threads=1`` while ``invoke()`` runs beside (its threads own the cores)."""
        return self.preprocessor(frame_bgr, resize_threads)

    def infer(self, model_input: npt.NDArray[np.generic]) -> Outputs:
        return self.model.run(model_input)

    def infer_in_place(
        self, model_input: npt.NDArray[np.generic]
    ) -> AbstractContextManager[Outputs]:
        """``infer`` without copying the outputs, for the block only (see ``run_in_place``).

        ``postprocess`` is safe inside the block: every array it returns is a new one.
        """
        return self.model.run_in_place(model_input, self.reads)

    def candidates(self, outputs: Outputs, th: Thresholds | None = None) -> Candidates:
        th = th or self.thresholds
        if self.raw is not None:
            r = self.raw
            return decode_raw(
                outputs[r.boxes_index][0], r.boxes_quant, outputs[r.scores_index][0],
                r.fmt, r.anchors, r.coder, th,
            )  # fmt: skip
        layout = self.model.layout
        assert isinstance(layout, PostProcessLayout)  # narrowing for mypy; set in __init__
        return decode_postprocess(
            outputs[layout.boxes.index][0], outputs[layout.classes.index][0],
            outputs[layout.scores.index][0], float(np.ravel(outputs[layout.count.index])[0]), th,
        )  # fmt: skip

    def postprocess(
        self, outputs: Outputs, placement: Placement, th: Thresholds | None = None
    ) -> Detections:
        c = self.candidates(outputs, th)
        boxes = yxyx_norm_to_xyxy_px(c.boxes_yxyx, placement.frame_wh, placement.letterbox)
        names = tuple(self.labels.name(int(i)) for i in c.class_ids)
        return Detections(boxes, c.scores, c.class_ids, names)

    def detect(self, frame_bgr: npt.NDArray[np.uint8], th: Thresholds | None = None) -> Detections:
        model_input, placement = self.preprocess(frame_bgr)
        return self.postprocess(self.infer(model_input), placement, th)


def load_detector(model: str, opts: DetectorOptions | None = None) -> Detector:
    try:
        return Detector.from_spec(model, opts or DetectorOptions())
    except ValueError as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(str(exc), model=model) from exc
