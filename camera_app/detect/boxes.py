"""Box coders and coordinate conversions (numpy only).

Names carry the format: ``yxyx`` / ``xyxy`` corners, ``ycxchw`` centre-size; ``_norm`` means
normalized to [0, 1] of the model input, ``_px`` means pixels of the original frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CenterSizeCoder:
    """TF1 ``faster_rcnn_box_coder``: encodings (ty, tx, th, tw) against (yc, xc, h, w) anchors."""

    y_scale: float = 10.0
    x_scale: float = 10.0
    h_scale: float = 5.0
    w_scale: float = 5.0

    def decode(self, encodings: F32, anchors_ycxchw: F32) -> F32:
        """Returns [N, 4] boxes as (ymin, xmin, ymax, xmax), normalized."""
        ya, xa, ha, wa = (anchors_ycxchw[:, i] for i in range(4))
        yc = encodings[:, 0] / np.float32(self.y_scale) * ha + ya
        xc = encodings[:, 1] / np.float32(self.x_scale) * wa + xa
        h = np.exp(encodings[:, 2] / np.float32(self.h_scale)) * ha
        w = np.exp(encodings[:, 3] / np.float32(self.w_scale)) * wa
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1).astype(np.float32)


@dataclass(frozen=True)
class CornerOffsetCoder:
    """Deltas (d0..d3) added to corner anchors (x1, y1, x2, y2), scaled by anchor size.

    x1 = d0*aw + ax1, y1 = d1*ah + ay1, x2 = d2*aw + ax2, y2 = d3*ah + ay2 (the ST model zoo
    layout, whose models output their own anchors).
    """

    def decode(self, deltas: F32, anchors_xyxy: F32) -> F32:
        """Returns [N, 4] boxes as (ymin, xmin, ymax, xmax), normalized."""
        aw = anchors_xyxy[:, 2] - anchors_xyxy[:, 0]
        ah = anchors_xyxy[:, 3] - anchors_xyxy[:, 1]
        x1 = deltas[:, 0] * aw + anchors_xyxy[:, 0]
        y1 = deltas[:, 1] * ah + anchors_xyxy[:, 1]
        x2 = deltas[:, 2] * aw + anchors_xyxy[:, 2]
        y2 = deltas[:, 3] * ah + anchors_xyxy[:, 3]
        return np.stack([y1, x1, y2, x2], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where the frame sits inside the model input, in normalized model coordinates.

    For a stretch resize this is the identity (offset 0, size 1).
    """

    x_offset: float = 0.0
    y_offset: float = 0.0
    x_size: float = 1.0
    y_size: float = 1.0


IDENTITY = Letterbox()


def yxyx_norm_to_xyxy_px(
    boxes_yxyx: F32, frame_wh: tuple[int, int], placement: Letterbox = IDENTITY
) -> F32:
    """Model-normalized (ymin, xmin, ymax, xmax) -> frame pixels (x1, y1, x2, y2), clipped."""
    w, h = frame_wh
    p = placement
    xyxy = boxes_yxyx[:, [1, 0, 3, 2]].astype(np.float64)
    offset = np.array([p.x_offset, p.y_offset, p.x_offset, p.y_offset])
    scale = np.array([w / p.x_size, h / p.y_size, w / p.x_size, h / p.y_size])
    limit = np.array([w, h, w, h], dtype=np.float64)
    out: F32 = np.clip((xyxy - offset) * scale, 0.0, limit).astype(np.float32)
    return out


def iou_xyxy(a: F32, b: F32) -> npt.NDArray[np.float32]:
    """Pairwise IoU of [N,4] and [M,4] corner boxes -> [N, M]."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(np.float32)
