"""The detector: a loaded model plus its preprocessing, decoding and labels.

Three stages, callable one by one so the pipeline can time each:
``preprocess(frame) -> (input, placement)``, ``infer(input) -> outputs``,
``postprocess(outputs, placement) -> Detections``; ``detect(frame)`` runs all three. The
inference worker runs the same stages in place: ``prepare(frame)`` writes the input tensor,
``invoke_in_place()`` lends the output buffers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from camera_app.detect.anchors import AnchorConfig
from camera_app.detect.boxes import yxyx_norm_to_xyxy_px
from camera_app.detect.decode import Candidates, Thresholds, suppress
from camera_app.detect.detections import Detections
from camera_app.detect.family import Decoder, DecoderContext, InputConvention
from camera_app.detect.graph import ScoreCap, score_cap
from camera_app.detect.labels import (
    Labels,
    find_labels_beside,
    labels_from_export,
    labels_from_file,
    labels_from_metadata,
)
from camera_app.detect.layout import Activation
from camera_app.detect.model import LoadedModel, load_model
from camera_app.detect.preprocess import Placement, Preprocessor
from camera_app.detect.quantization import InputDType, InputQuantization
from camera_app.errors import ModelError
from camera_app.modes import ColourOrder, ResizeMode, RuntimeName

log = logging.getLogger(__name__)
Outputs = Mapping[int, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class DetectorOptions:
    threshold: float = 0.5
    iou_threshold: float = 0.5
    max_detections: int = 20
    classes: tuple[str, ...] = ()
    colour_order: ColourOrder = ColourOrder.RGB
    resize: ResizeMode | None = None  # None = the family's convention (YOLO: letterbox)
    mean: float | None = None  # None = the family's convention: (pixel - mean) / std
    std: float | None = None
    score_activation: Activation | None = None  # None = detect
    background: bool | None = None  # None = detect
    anchors: Path | AnchorConfig | None = None  # None = model output, file beside, or default
    labels: Path | None = None
    label_offset: int | None = None
    threads: int = 2
    runtime: RuntimeName | None = None  # None: LiteRT, else tflite-runtime


def _labels(model: LoadedModel, opts: DetectorOptions) -> Labels:
    """The config's labels file, else one beside the model, else the export's own names."""
    if opts.labels is not None:
        return labels_from_file(opts.labels, opts.label_offset)
    beside = find_labels_beside(model.path)
    if beside is not None:
        return labels_from_file(beside, opts.label_offset)
    embedded = labels_from_metadata(model.content, str(model.path), opts.label_offset)
    if embedded is not None:
        return embedded
    exported = labels_from_export(model.metadata)
    return exported if exported is not None else Labels.none()


def input_settings(
    convention: InputConvention, opts: DetectorOptions
) -> tuple[float, float, ResizeMode]:
    """(mean, std, resize): the options where set, else the family's convention."""
    mean = convention.mean if opts.mean is None else opts.mean
    std = convention.std if opts.std is None else opts.std
    resize = convention.resize if opts.resize is None else opts.resize
    return mean, std, resize


class Detector:
    def __init__(self, model: LoadedModel, opts: DetectorOptions) -> None:
        self.model = model
        self.opts = opts
        inp = model.input
        layout = model.layout
        self.convention = layout.input_convention
        mean, std, self.resize = input_settings(self.convention, opts)
        self.input_quant = InputQuantization(
            dtype=InputDType(inp.dtype), mean=mean, std=std,
            scale=inp.scale, zero_point=inp.zero_point,
        )  # fmt: skip
        self.preprocessor = Preprocessor(
            model.input_hw, self.input_quant, opts.colour_order, self.resize,
            pad=self.convention.pad,
        )  # fmt: skip
        self.labels = _labels(model, opts)
        if not self.labels.names:
            log.warning(
                "%s: no class names (no labels file given or beside the model, none in its "
                "metadata): results are named class_0, class_1...; set model.labels (--labels) "
                "to a file of one name a line",
                model.path,
            )
        ctx = DecoderContext(
            model=str(model.path), model_path=model.path, graph=model.graph,
            probes=model.probes, input_hw=model.input_hw, labels=self.labels,
            anchors=opts.anchors, score_activation=opts.score_activation,
            background=opts.background,
        )  # fmt: skip
        self.decoder: Decoder = layout.decoder(ctx)
        # reads: the outputs postprocess uses (a raw model's anchors come from the probes).
        self.reads = self.decoder.reads
        self.score_cap: ScoreCap | None = score_cap(model.graph, self.decoder.score_tensor)
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
        return load_detectors(model, opts, 1)[0]

    def thresholds_for(
        self, score: float | None = None, classes: tuple[str, ...] | None = None
    ) -> Thresholds:
        """The detector's thresholds with a camera's own score and classes, where it has them."""
        th = self.thresholds
        if score is not None:
            th = replace(th, score=score)
        if classes is not None:
            th = replace(th, allowed_classes=self.labels.ids_for(classes) if classes else None)
        return th

    def preprocess(
        self, frame_bgr: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.generic], Placement]:
        return self.preprocessor(frame_bgr)

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Placement:
        """``preprocess`` straight into the interpreter's input tensor (nothing to copy after);
        ``invoke_in_place`` runs it. What the inference worker does."""
        with self.model.input_view() as tensor:
            return self.preprocessor.into(frame_bgr, tensor)

    def invoke_in_place(self) -> AbstractContextManager[Outputs]:
        """``invoke()`` on what ``prepare`` wrote, the outputs lent for the block only (see
        ``LoadedModel.invoke_in_place``). ``postprocess`` is safe inside the block: every array
        it returns is a new one."""
        return self.model.invoke_in_place(self.reads)

    def infer(self, model_input: npt.NDArray[np.generic]) -> Outputs:
        return self.model.run(model_input)

    def candidates(self, outputs: Outputs, th: Thresholds | None = None) -> Candidates:
        """The family's candidates, suppressed when its graph did not run NMS itself."""
        th = th or self.thresholds
        c = self.decoder.candidates(outputs, th)
        return suppress(c, th) if self.decoder.suppress else c

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


def load_detectors(
    model: str, opts: DetectorOptions | None = None, count: int = 1
) -> list[Detector]:
    """The one way a model is loaded (``run``: one per interpreter; ``detect``, ``inspect``,
    ``bench``: one). Interpreters are not thread-safe, so each detector has its own."""
    from camera_app.runtime import load_runtime

    opts = opts or DetectorOptions()
    try:
        runtime = load_runtime(opts.runtime)
        return [Detector(load_model(model, threads=opts.threads, runtime=runtime), opts)
                for _ in range(count)]  # fmt: skip
    except ValueError as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(str(exc), model=model) from exc


def load_detector(model: str, opts: DetectorOptions | None = None) -> Detector:
    return load_detectors(model, opts, 1)[0]
