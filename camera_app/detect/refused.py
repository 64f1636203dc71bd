"""Exports this app knows and will not run: each gets one sentence saying what it is.

Segmentation (a detection head plus mask prototypes [1, 160, 160, 32]), pose (keypoints
[1, 56, N]) and classification ([1, C]) models load, run and would give nonsense detections
if a detection family took them; these families claim them first and refuse them.
"""

from __future__ import annotations

from camera_app.detect.family import Miss, ModelView, Refuse, yolo_grid_cells
from camera_app.detect.yolo_common import metadata_names_count

_TASKS = {"segment": "segmentation", "pose": "pose", "classify": "classification",
          "obb": "oriented-box"}  # fmt: skip
_DETECT = "export a detection model (Ultralytics: a plain yolo*n.pt, not -seg/-pose/-cls)"


def _refuse(export: str, why: str) -> Refuse:
    """The one sentence a refused export gets: what it is, how that shows, what to run."""
    return Refuse(f"this is a {export} export ({why}); camera_app runs detection models: {_DETECT}")


def _task(view: ModelView) -> str | None:
    task = view.metadata.get("task")
    return task if isinstance(task, str) else None


class Segmentation:
    name = "segmentation"

    def recognise(self, view: ModelView) -> Refuse | Miss:
        protos = [
            t for t in view.graph.outputs
            if len(t.shape) == 4 and t.shape[0] == 1 and 32 in (t.shape[1], t.shape[3])
        ]  # fmt: skip
        if _task(view) == "segment" or (protos and len(view.graph.outputs) >= 2):
            what = f"mask prototypes {protos[0].describe()}" if protos else "metadata task"
            return _refuse("segmentation", f"{what} beside the detection head")
        return Miss("no mask prototypes [1, 160, 160, 32]")


class Pose:
    name = "pose"

    def recognise(self, view: ModelView) -> Refuse | Miss:
        cells = yolo_grid_cells(view.input_hw)
        meta_kpt = "kpt_shape" in view.metadata
        for t in view.graph.outputs:
            if len(t.shape) == 3 and t.shape[0] == 1 and cells in t.shape[1:]:
                features = t.shape[1] if t.shape[2] == cells else t.shape[2]
                named = metadata_names_count(view.metadata)
                # 56 = box 4 + person 1 + 17 keypoints x (x, y, visibility): unless the export
                # itself says it names 52 classes for detection.
                plain_52 = named == 52 and _task(view) == "detect"
                if (features == 56 and not plain_52) or meta_kpt or _task(view) == "pose":
                    keypoints = "4 box + 1 score + 17 x 3 keypoint values per anchor"
                    return _refuse("pose", f"keypoints in {t.describe()}: {keypoints}")
        return Miss("no [1, 56, N] keypoint head")


class Classifier:
    name = "classifier"

    def recognise(self, view: ModelView) -> Refuse | Miss:
        outs = view.graph.outputs
        task = _task(view)
        if task in _TASKS and task not in ("segment", "pose"):
            return _refuse(_TASKS[task], f"its metadata says task '{task}'")
        if len(outs) == 1 and len(outs[0].shape) == 2 and outs[0].shape[0] == 1:
            t = outs[0]
            return Refuse(
                f"cannot recognise the outputs as a detector: the single output {t.describe()} "
                f"is a classifier's [1, classes] scores (no boxes); use a detection model"
            )
        return Miss("not a single [1, C] output")
