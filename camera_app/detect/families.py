"""The known output families, asked in turn (see ``family`` for the protocol).

Refusing families come first: a pose head [1, 56, 8400] would otherwise pass as a 52-class
YOLOv8 head. Each family only claims its own shapes, so the order of the rest does not matter.
"""

from __future__ import annotations

from camera_app.detect.family import Family, Layout, Miss, ModelView, Refuse, seen
from camera_app.detect.refused import Classifier, Pose, Segmentation
from camera_app.detect.ssd_postprocess import SsdPostProcess
from camera_app.detect.ssd_raw import SsdRaw
from camera_app.detect.yolo_e2e import YoloEndToEnd
from camera_app.detect.yolov5 import YoloV5
from camera_app.detect.yolov8 import YoloV8
from camera_app.errors import OutputLayoutError

FAMILIES: tuple[Family, ...] = (
    Segmentation(), Pose(), Classifier(),
    SsdPostProcess(), SsdRaw(), YoloV8(), YoloV5(), YoloEndToEnd(),
)  # fmt: skip


def survey(view: ModelView) -> list[tuple[str, Layout | Miss | Refuse]]:
    """What every family says about the model (for ``inspect``)."""
    return [(f.name, f.recognise(view)) for f in FAMILIES]


def recognise(view: ModelView, model: str = "") -> Layout:
    """The first family that recognises the model; a refusal or a list of misses otherwise."""
    misses: list[str] = []
    for f in FAMILIES:
        verdict = f.recognise(view)
        if isinstance(verdict, Refuse):
            raise OutputLayoutError(verdict.reason, model=model)
        if isinstance(verdict, Miss):
            misses.append(f"{f.name}: {verdict.reason}")
            continue
        return verdict
    raise OutputLayoutError(
        "cannot recognise the outputs as a detector of any known family ("
        + "; ".join(m for m in misses if not m.startswith(("segmentation", "pose", "classifier")))
        + f"); the model has {len(view.graph.outputs)} outputs: {seen(view.graph)}",
        model=model,
    )
