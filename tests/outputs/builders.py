"""Builders for the outputs' tests: synthetic results with a solid-colour frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from camera_app.detect.detections import Detections
from camera_app.pipeline.types import Result, StageTimes
from camera_app.sources.base import Frame

RED_BGR = (0, 0, 255)
WALL_S = 1_714_564_800.125  # 2024-05-01T12:00:00.125Z
TIMES = StageTimes(frame_age_s=0.01234, preprocess_s=0.002, invoke_s=0.05, postprocess_s=0.001)


def make_detections(
    boxes_xyxy: Sequence[Sequence[float]] = (), labels: Sequence[str] = (), score: float = 0.9
) -> Detections:
    n = len(boxes_xyxy)
    if n == 0:
        return Detections.empty()
    return Detections(
        np.asarray(boxes_xyxy, np.float32).reshape(n, 4),
        np.full(n, score, np.float32),
        np.arange(n, dtype=np.int32),
        tuple(labels) if labels else tuple(f"class{i}" for i in range(n)),
    )


def make_result(
    camera: str = "cam0",
    sequence: int = 1,
    *,
    size_wh: tuple[int, int] = (64, 48),
    colour_bgr: tuple[int, int, int] = RED_BGR,
    image: np.ndarray | None = None,
    detections: Detections | None = None,
    capture_wall_s: float = WALL_S,
    capture_monotonic_s: float = 100.0,
    latency_s: float = 0.08,
    times: StageTimes = TIMES,
) -> Result:
    """One processed frame: a solid ``colour_bgr`` image unless ``image`` is given."""
    if image is None:
        w, h = size_wh
        image = np.empty((h, w, 3), np.uint8)
        image[:] = colour_bgr
    frame = Frame(image, camera, sequence, capture_monotonic_s, capture_wall_s)
    return Result(
        frame=frame,
        detections=Detections.empty() if detections is None else detections,
        times=times,
        done_monotonic_s=capture_monotonic_s + latency_s,
        worker=0,
    )
