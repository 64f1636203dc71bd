"""Class-aware greedy non-maximum suppression, by OpenCV's batched NMS.

``cv2.dnn.NMSBoxesBatched`` is the textbook greedy walk (stable score order, a box dropped when
its IoU with a kept box of its class exceeds the threshold) in C++: one call where a numpy
version needs an IoU matrix and a Python loop, which cost most of a YOLO frame's decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt


def nms_class_aware(
    boxes_xyxy: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.integer],
    *,
    iou_threshold: float,
    max_detections: int,
) -> npt.NDArray[np.intp]:
    """Indices of the kept boxes, highest score first.

    A box is suppressed by a higher-scoring kept box of the same class whose IoU with it is
    greater than ``iou_threshold``. Boxes of different classes never suppress each other.
    Ties in score keep the lower index first (stable sort), so results are deterministic.
    Inverted boxes count as empty; two empty boxes of a class at one place count as one.
    """
    if boxes_xyxy.shape[0] == 0 or max_detections <= 0:
        return np.empty(0, dtype=np.intp)
    if boxes_xyxy.shape[0] == 1:  # common after thresholding, and nothing to compare
        return np.zeros(1, dtype=np.intp)
    xywh = boxes_xyxy.astype(np.float64)
    xywh[:, 2:] -= xywh[:, :2]
    np.maximum(xywh[:, 2:], 0.0, out=xywh[:, 2:])
    # OpenCV's stubs ask for sequences; its binding takes the arrays as they are, uncopied.
    kept = cv2.dnn.NMSBoxesBatched(
        cast(Sequence[Sequence[float]], xywh),
        cast(Sequence[float], scores.astype(np.float32)),
        cast(Sequence[int], class_ids.astype(np.int32)),
        -np.inf,
        iou_threshold,
    )
    return np.asarray(kept, dtype=np.intp).reshape(-1)[:max_detections]
