"""One container for detections: parallel numpy arrays, validated on construction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Detection:
    """One detection, for iteration and JSON."""

    box_xyxy: tuple[float, float, float, float]
    score: float
    class_id: int
    label: str


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes in pixels of the original frame (x1, y1, x2, y2), highest score first."""

    boxes_xyxy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int32]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        n = self.scores.shape[0] if self.scores.ndim == 1 else -1
        if self.scores.ndim != 1:
            raise ValueError(f"scores: expected shape [N], got {self.scores.shape}")
        if self.boxes_xyxy.shape != (n, 4):
            raise ValueError(f"boxes_xyxy: expected shape ({n}, 4), got {self.boxes_xyxy.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids: expected shape ({n},), got {self.class_ids.shape}")
        if len(self.labels) != n:
            raise ValueError(f"labels: expected {n} names, got {len(self.labels)}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), ())

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __iter__(self) -> Iterator[Detection]:
        for i in range(len(self)):
            x1, y1, x2, y2 = (float(v) for v in self.boxes_xyxy[i])
            yield Detection(
                (x1, y1, x2, y2), float(self.scores[i]), int(self.class_ids[i]), self.labels[i]
            )

    def to_json(self, ndigits: int = 1) -> list[dict[str, Any]]:
        return [
            {
                "label": d.label,
                "class_id": d.class_id,
                "score": round(d.score, 4),
                "box_xyxy": [round(v, ndigits) for v in d.box_xyxy],
            }
            for d in self
        ]
