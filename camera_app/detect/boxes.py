"""Box coders and coordinate conversions (numpy only).

Names carry the format: ``yxyx`` / ``xyxy`` corners, ``ycxchw`` centre-size; ``_norm`` means
normalized to [0, 1] of the model input, ``_px`` means pixels of the original frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
_YXYX = [1, 0, 3, 2]  # swaps x and y in a corner box: xyxy <-> yxyx


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
        # All four corners in one multiply-add (few numpy calls: this runs on a handful of
        # rows right after invoke(), where each call's fixed cost dominates).
        wh = anchors_xyxy[:, 2:] - anchors_xyxy[:, :2]  # (aw, ah)
        xyxy = deltas * np.concatenate([wh, wh], axis=1) + anchors_xyxy
        out: F32 = xyxy[:, _YXYX].astype(np.float32, copy=False)
        return out


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


@functools.lru_cache(maxsize=32)
def _pixel_map(
    frame_wh: tuple[int, int], p: Letterbox
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(offset, scale, limit) per x1, y1, x2, y2 column, built once per frame size."""
    w, h = frame_wh
    offset = np.array([p.x_offset, p.y_offset, p.x_offset, p.y_offset])
    scale = np.array([w / p.x_size, h / p.y_size, w / p.x_size, h / p.y_size])
    limit = np.array([w, h, w, h], dtype=np.float64)
    for a in (offset, scale, limit):
        a.setflags(write=False)  # shared between calls
    return offset, scale, limit


def yxyx_norm_to_xyxy_px(
    boxes_yxyx: F32, frame_wh: tuple[int, int], placement: Letterbox = IDENTITY
) -> F32:
    """Model-normalized (ymin, xmin, ymax, xmax) -> frame pixels (x1, y1, x2, y2), clipped."""
    offset, scale, limit = _pixel_map(frame_wh, placement)
    xyxy = boxes_yxyx[:, _YXYX].astype(np.float64)
    out: F32 = np.clip((xyxy - offset) * scale, 0.0, limit).astype(np.float32)
    return out


def iou_xyxy(a: F32, b: F32) -> npt.NDArray[np.float32]:
    """Pairwise IoU of [N,4] and [M,4] corner boxes -> [N, M] (0 where the union is empty)."""
    # The intersection's corners as two [N, M] planes per axis pair ([2, N, M], C order):
    # broadcasting [N, 1, 2] against [1, M, 2] instead lets numpy run its inner loop over the
    # last axis of 2, which made this call several times slower for a few dozen boxes.
    at, bt = a.T[:, :, None], b.T[:, None, :]
    side = np.minimum(at[2:], bt[2:], out=np.empty((2, a.shape[0], b.shape[0]), np.float32))
    side -= np.maximum(at[:2], bt[:2], out=np.empty_like(side))
    np.maximum(side, 0, out=side)
    inter = side[0] * side[1]
    ea = a[:, 2:] - a[:, :2]
    eb = b[:, 2:] - b[:, :2]
    np.maximum(ea, 0, out=ea)
    np.maximum(eb, 0, out=eb)
    union = (ea[:, 0] * ea[:, 1])[:, None] + (eb[:, 0] * eb[:, 1])[None, :] - inter
    iou = np.zeros(inter.shape, np.float32)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou
