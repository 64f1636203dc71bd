"""Class-aware greedy non-maximum suppression, vectorized per kept box (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from camera_app.detect.boxes import iou_xyxy

_MATRIX_MAX = 512  # up to this many boxes, suppress from one pairwise IoU matrix (1 MB float32)


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
    """
    if boxes_xyxy.shape[0] == 0 or max_detections <= 0:
        return np.empty(0, dtype=np.intp)
    if boxes_xyxy.shape[0] == 1:  # common after thresholding, and nothing to compare
        return np.zeros(1, dtype=np.intp)
    # Shift each class into its own region of the plane: boxes of different classes then
    # never overlap, and one IoU computation serves all classes at once.
    span = float(boxes_xyxy.max() - min(0.0, float(boxes_xyxy.min()))) + 1.0
    shifted = boxes_xyxy + (class_ids.astype(np.float32) * np.float32(span))[:, None]
    order = np.argsort(-scores, kind="stable")
    if order.size <= _MATRIX_MAX:
        # One IoU matrix for all pairs, then a plain greedy walk: for the few hundred boxes
        # left after thresholding this beats one numpy IoU call per kept box.
        ordered = shifted[order]
        over = iou_xyxy(ordered, ordered) > np.float32(iou_threshold)
        suppressed = np.zeros(order.size, dtype=bool)
        kept: list[int] = []
        for i in range(order.size):
            if suppressed[i]:
                continue
            kept.append(i)
            if len(kept) >= max_detections:
                break
            suppressed |= over[i]
        return order[np.asarray(kept, dtype=np.intp)]
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        ious = iou_xyxy(shifted[best : best + 1], shifted[rest])[0]
        order = rest[ious <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)
