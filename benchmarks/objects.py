"""Benchmark of the objects output: tracker cost per frame, and events bytes per hour.

    python benchmarks/objects.py [--frames 3000] [--objects 20]

1. The tracker's update with N objects moving on straight lines (10% of detections dipping
   into the second pass), per frame, for label-aware and label-blind matching side by side;
   target: under 0.2 ms with 20 objects.
2. A still scene (a parked car and a person standing) at 15 fps for an hour of capture time
   through the real writers: bytes of the per-frame JSON lines (events_mode: frames) next to
   the object events (events_mode: objects).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from camera_app.detect.detections import Detections
from camera_app.objects.config import MaskConfig, ObjectsConfig, ZoneConfig
from camera_app.objects.sink import CameraObjects, JsonLines, ObjectsSink
from camera_app.objects.tracker import Tracker, TrackerParams
from camera_app.outputs.events import EventsSink
from camera_app.pipeline.types import Result, StageTimes
from camera_app.sources.base import Frame


def scene(n: int, frames: int, fps: float, seed: int = 0) -> list[tuple[Detections, float]]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1200, (n, 2))
    v = rng.uniform(-60, 60, (n, 2))
    wh = rng.uniform(40, 120, (n, 2))
    out = []
    for k in range(frames):
        t = k / fps
        p = xy + v * t
        boxes = np.concatenate([p, p + wh], axis=1).astype(np.float32)
        scores = np.where(rng.random(n) < 0.1, 0.45, 0.85).astype(np.float32)
        out.append((Detections(boxes, scores, np.zeros(n, np.int32), ("person",) * n), t))
    return out


def time_tracker(frames: list[tuple[Detections, float]], match_labels: bool) -> float:
    tracker = Tracker(TrackerParams(high_score=0.6, low_score=0.3, match_labels=match_labels))
    t0 = time.perf_counter()
    for d, t in frames:
        tracker.update(d, t)
    return (time.perf_counter() - t0) / len(frames)


def time_sink(frames: list[tuple[Detections, float]]) -> float:
    """The whole objects output per frame: masks, filters, tracker, two zones, events."""
    zones = (
        ZoneConfig("left", ((0, 0), (0.5, 0), (0.5, 1), (0, 1)), normalized=True),
        ZoneConfig("band", ((0, 0.4), (1, 0.4), (1, 0.6), (0, 0.6)), normalized=True),
    )
    cfg = ObjectsConfig(zones=zones, masks=(MaskConfig(((0, 0), (50, 0), (50, 50))),))
    sink = ObjectsSink([CameraObjects("cam", cfg, 0.3)], {})
    image = np.zeros((720, 1280, 3), np.uint8)
    times = StageTimes(0.0, 0.0, 0.0, 0.0)
    results = [
        Result(Frame(image, "cam", k, t, t), d, times, t, 0) for k, (d, t) in enumerate(frames)
    ]
    t0 = time.perf_counter()
    for r in results:
        sink.handle(r)
    return (time.perf_counter() - t0) / len(results)


def bytes_per_hour(minutes: float = 60.0, fps: float = 15.0) -> tuple[int, int]:
    """Bytes each mode wrote for ``minutes`` of capture time, scaled to an hour (the object
    events of a still scene do not grow with time: run the full hour for a fair figure)."""
    image = np.zeros((720, 1280, 3), np.uint8)
    still = Detections(
        np.array([[800, 500, 1100, 650], [200, 200, 280, 420]], np.float32),
        np.array([0.82, 0.77], np.float32), np.array([2, 0], np.int32), ("car", "person"),
    )  # fmt: skip
    times = StageTimes(0.01, 0.002, 0.05, 0.001)
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        frames_path, objects_path = os.path.join(tmp, "frames.jsonl"), os.path.join(tmp, "o.jsonl")
        per_frame = EventsSink(frames_path)
        writer = JsonLines(EventsSink(objects_path))
        sink = ObjectsSink([CameraObjects("cam", ObjectsConfig(), 0.5)], {"cam": [writer]},
                           owned=[writer])  # fmt: skip
        for k in range(round(minutes * 60 * fps)):
            t = k / fps
            jitter = rng.uniform(-1.5, 1.5, (2, 4)).astype(np.float32)
            scores = (still.scores + rng.uniform(-0.05, 0.05, 2)).astype(np.float32)
            d = Detections(still.boxes_xyxy + jitter, scores, still.class_ids, still.labels)
            r = Result(Frame(image, "cam", k, 100 + t, 1.7e9 + t), d, times, 100 + t + 0.06, 0)
            per_frame.handle(r)
            sink.handle(r)
        per_frame.close()
        sink.close()  # the two objects end here: count their end events too
        scale = 60 / minutes
        return round(os.path.getsize(frames_path) * scale), round(
            os.path.getsize(objects_path) * scale
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=60.0, help="of still scene, capture time")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    frames = scene(args.objects, args.frames, 15.0)
    time_tracker(frames[:200], True)  # warm up
    aware = [time_tracker(frames, True) for _ in range(3)]
    blind = [time_tracker(frames, False) for _ in range(3)]
    print(f"tracker, {args.objects} objects, {args.frames} frames (best of 3):")
    print(f"  label-aware matching  {min(aware) * 1e3:.3f} ms/frame  (target < 0.2 ms)")
    print(f"  label-blind matching  {min(blind) * 1e3:.3f} ms/frame")
    sink = [time_sink(frames) for _ in range(3)]
    print(
        f"  the objects output (tracker, 2 zones, a mask, events)  {min(sink) * 1e3:.3f} ms/frame"
    )
    frames_b, objects_b = bytes_per_hour(args.minutes)
    print("events of a still scene (2 objects, 15 fps), per hour:")
    print(f"  events_mode: frames   {frames_b / 1e6:10.3f} MB")
    ratio = frames_b / max(objects_b, 1)
    print(f"  events_mode: objects  {objects_b / 1e6:10.6f} MB  ({ratio:.0f}x less)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
