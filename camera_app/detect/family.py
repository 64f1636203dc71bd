"""The decoder seam: every output family behind one small protocol (numpy only).

A ``Family`` looks at the loaded model (a ``ModelView``: graph, tensor details, probe outputs,
the export's own metadata) and answers with a ``Layout`` (recognised, saying how), a ``Miss``
(not this family, and why not) or a ``Refuse`` (a known export this app does not run, such as
a segmentation head). A ``Layout`` builds its ``Decoder``; a decoder turns one frame's outputs
into ``Candidates`` before NMS. The detector only calls these; adding a family is one module
(in ``FAMILIES``, see ``families``) plus its tests.

Candidates' boxes are always (ymin, xmin, ymax, xmax) normalized to the model input, so the
mapping back to frame pixels (stretch or letterbox) is the same for every family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from camera_app.detect.anchors import AnchorConfig
from camera_app.detect.decode import Candidates, Thresholds
from camera_app.detect.graph import GraphInfo, TensorInfo
from camera_app.detect.labels import Labels
from camera_app.detect.layout import Activation, Probe
from camera_app.modes import ResizeMode

Outputs = Mapping[int, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class InputConvention:
    """How a family's exports expect their input: ``(pixel - mean) / std``, RGB, resize."""

    mean: float
    std: float
    resize: ResizeMode
    pad: int = 0  # the grey of letterbox borders
    why: str = ""


SSD_INPUT = InputConvention(127.5, 127.5, ResizeMode.STRETCH, 0, "TF Object Detection API SSDs")


@dataclass(frozen=True)
class ModelView:
    """What a family may look at: the graph, two probe runs, and the export's metadata."""

    graph: GraphInfo
    probes: Sequence[Probe]
    input: TensorInfo
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input.shape[1], self.input.shape[2]

    def values(self, t: TensorInfo) -> npt.NDArray[np.float32]:
        """The probe runs' real values of ``t`` without its batch axis, stacked on a new first."""
        raw = np.stack([np.asarray(p[t.index])[0] for p in self.probes])
        if t.quantized:
            # Widen before subtracting: int8/uint8 arithmetic would wrap.
            return (raw.astype(np.int32) - t.zero_point).astype(np.float32) * np.float32(t.scale)
        return raw.astype(np.float32)


@dataclass(frozen=True)
class Miss:
    """Not this family; ``reason`` says what was missing."""

    reason: str


@dataclass(frozen=True)
class Refuse:
    """A model this family knows and the app will not run (one sentence saying what to do)."""

    reason: str


@dataclass(frozen=True)
class DecoderContext:
    """What a layout needs, besides itself, to build its decoder."""

    model: str  # the model file, for messages
    model_path: Path
    graph: GraphInfo
    probes: Sequence[Probe]
    input_hw: tuple[int, int]
    labels: Labels
    anchors: Path | AnchorConfig | None = None
    score_activation: Activation | None = None
    background: bool | None = None


class Decoder(Protocol):
    """One frame's outputs -> candidates before NMS (``suppress``: whether NMS is still due)."""

    @property
    def reads(self) -> frozenset[int]: ...  # the output indices ``candidates`` reads

    @property
    def suppress(self) -> bool: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def score_tensor(self) -> int: ...  # where a quantization cap on scores would show

    def details(self) -> dict[str, object]: ...  # for inspect: box format, scores, anchors...

    def candidates(self, outputs: Outputs, th: Thresholds) -> Candidates: ...


class Layout(Protocol):
    """A recognised output family of one model."""

    @property
    def family(self) -> str: ...

    @property
    def input_convention(self) -> InputConvention: ...

    @property
    def float_output(self) -> TensorInfo | None: ...  # float32 scores the decoder could read

    # from their int8 source instead (see ``model.expose_quantized_scores``); None: no such

    @property
    def extra_outputs(self) -> tuple[TensorInfo, ...]: ...  # the source, once exposed

    def with_source(self, src: TensorInfo) -> Layout: ...  # reading ``src`` instead

    def describe(self) -> str: ...

    def decoder(self, ctx: DecoderContext) -> Decoder: ...


@dataclass(frozen=True)
class LayoutBase:
    """What every recognised layout states the same way: its family, its input convention and
    the evidence it was mapped by, which ``describe`` puts after what ``outputs`` says."""

    evidence: str = field(kw_only=True)
    family: ClassVar[str]
    input_convention: ClassVar[InputConvention]

    def outputs(self) -> str:
        """Which outputs hold what."""
        raise NotImplementedError

    def read_from(self) -> str:
        """What ``describe`` adds when the scores are read from their quantized source."""
        return ""

    def describe(self) -> str:
        return f"{self.outputs()}; mapped by {self.evidence}{self.read_from()}"


@dataclass(frozen=True)
class SsdLayout(LayoutBase):
    """An SSD family's layout: its exports take the TF Object Detection API's input."""

    input_convention: ClassVar[InputConvention] = SSD_INPUT


class NoSource:
    """For layouts whose outputs are read as they are."""

    float_output: ClassVar[TensorInfo | None] = None
    extra_outputs: ClassVar[tuple[TensorInfo, ...]] = ()

    def with_source(self, src: TensorInfo) -> Layout:
        raise ValueError(f"{type(self).__name__} reads its outputs as they are, not {src.name}")


class Family(Protocol):
    @property
    def name(self) -> str: ...

    def recognise(self, view: ModelView) -> Layout | Miss | Refuse: ...


def seen(graph: GraphInfo) -> str:
    """The outputs, as an error lists them."""
    return "; ".join(f"#{i} {t.describe()}" for i, t in enumerate(graph.outputs))


def yolo_grid_cells(input_hw: tuple[int, int], strides: Sequence[int] = (8, 16, 32)) -> int:
    """Anchor-free YOLO heads predict one box per cell of the stride 8, 16 and 32 grids."""
    h, w = input_hw
    return sum(-(-h // s) * -(-w // s) for s in strides)
