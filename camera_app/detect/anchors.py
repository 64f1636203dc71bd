"""SSD anchors: the TF Object Detection API ``ssd_anchor_generator``, and anchor files.

Anchors are returned as float32 arrays of shape [N, 4] in (ycenter, xcenter, h, w),
normalized to [0, 1], in the order the TF exporter lays them out: feature map by feature map,
row by row, column by column, box spec by box spec.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from camera_app._files import read_regular

Anchors = npt.NDArray[np.float32]
MAX_ANCHORS_BYTES = 16 << 20  # 100,000 anchors as text take ~4 MB


@dataclass(frozen=True)
class AnchorConfig:
    """The fields of ``ssd_anchor_generator`` in a TF OD API pipeline config."""

    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True
    feature_map_sizes: tuple[int, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(
                f"expected 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}"
            )
        if self.feature_map_sizes is not None and len(self.feature_map_sizes) != self.num_layers:
            raise ValueError(
                f"feature_map_sizes has {len(self.feature_map_sizes)} entries, "
                f"expected num_layers={self.num_layers}"
            )


def default_feature_map_sizes(input_size: int, num_layers: int) -> tuple[int, ...]:
    """MobileNet SSD feature maps: stride 16 first, then halving (300 -> 19,10,5,3,2,1)."""
    sizes = [math.ceil(input_size / 16)]
    while len(sizes) < num_layers:
        sizes.append(math.ceil(sizes[-1] / 2))
    return tuple(sizes)


def _box_specs(cfg: AnchorConfig) -> list[list[tuple[float, float]]]:
    """(scale, aspect_ratio) pairs per layer, as multiple_grid_anchor_generator builds them."""
    n = cfg.num_layers
    if n == 1:
        scales = [cfg.min_scale]
    else:
        scales = [cfg.min_scale + (cfg.max_scale - cfg.min_scale) * i / (n - 1) for i in range(n)]
    scales.append(1.0)
    specs: list[list[tuple[float, float]]] = []
    for layer in range(n):
        scale, next_scale = scales[layer], scales[layer + 1]
        if layer == 0 and cfg.reduce_boxes_in_lowest_layer:
            specs.append([(0.1, 1.0), (scale, 2.0), (scale, 0.5)])
            continue
        layer_specs = [(scale, ar) for ar in cfg.aspect_ratios]
        if cfg.interpolated_scale_aspect_ratio > 0:
            layer_specs.append((math.sqrt(scale * next_scale), cfg.interpolated_scale_aspect_ratio))
        specs.append(layer_specs)
    return specs


def generate_anchors(cfg: AnchorConfig, input_hw: tuple[int, int]) -> Anchors:
    """All anchors for a square or rectangular input, as [N, 4] (yc, xc, h, w)."""
    if cfg.feature_map_sizes is not None:
        sizes = [(s, s) for s in cfg.feature_map_sizes]
    else:
        hs = default_feature_map_sizes(input_hw[0], cfg.num_layers)
        ws = default_feature_map_sizes(input_hw[1], cfg.num_layers)
        sizes = list(zip(hs, ws, strict=True))
    parts: list[npt.NDArray[np.float64]] = []
    for (fh, fw), specs in zip(sizes, _box_specs(cfg), strict=True):
        spec = np.array(specs, dtype=np.float64)  # [A, 2] (scale, aspect)
        sqrt_ar = np.sqrt(spec[:, 1])
        heights = spec[:, 0] / sqrt_ar
        widths = spec[:, 0] * sqrt_ar
        yc = (np.arange(fh, dtype=np.float64) + 0.5) / fh
        xc = (np.arange(fw, dtype=np.float64) + 0.5) / fw
        grid_y, grid_x, idx = np.meshgrid(yc, xc, np.arange(len(spec)), indexing="ij")
        layer = np.stack(
            [grid_y.ravel(), grid_x.ravel(), heights[idx.ravel()], widths[idx.ravel()]], axis=1
        )
        parts.append(layer)
    return np.concatenate(parts).astype(np.float32)


def load_anchors_file(path: Path, *, expected: int | None = None) -> Anchors:
    """Anchors from a text file of 4 lines (ycenter, xcenter, h, w) or N lines of 4 values."""
    try:
        rows = [
            [float(v) for v in line.replace(",", " ").split()]
            for line in read_regular(path, MAX_ANCHORS_BYTES).decode("utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read anchors: {exc}") from exc
    arr: npt.NDArray[np.float64]
    if len(rows) == 4 and len({len(r) for r in rows}) == 1 and len(rows[0]) != 4:
        arr = np.array(rows, dtype=np.float64).T
    elif rows and all(len(r) == 4 for r in rows):
        arr = np.array(rows, dtype=np.float64)
    else:
        raise ValueError(
            f"{path}: expected 4 lines (ycenter, xcenter, h, w) or one line of 4 values per "
            f"anchor, got {len(rows)} lines"
        )
    if expected is not None and arr.shape[0] != expected:
        raise ValueError(f"{path}: has {arr.shape[0]} anchors, the model has {expected} boxes")
    return arr.astype(np.float32)


def anchors_from_corners(xyxy: Sequence[Sequence[float]] | npt.NDArray[np.floating]) -> Anchors:
    """(x1, y1, x2, y2) anchors to (yc, xc, h, w)."""
    a = np.asarray(xyxy, dtype=np.float32)
    w = a[:, 2] - a[:, 0]
    h = a[:, 3] - a[:, 1]
    return np.stack([a[:, 1] + h / 2, a[:, 0] + w / 2, h, w], axis=1).astype(np.float32)
