"""Letterbox against stretch for the YOLO models, on real photos with known objects.

    CAMERA_APP_MODEL_PATH=../shared/models python benchmarks/yolo_resize.py

For each shared YOLO model and each resize mode, every photo is detected at threshold 0.3 and
its known objects (from ../shared/models/README.md and what the photos show) are matched by
label, best score first: the table gives how many of them were found and their mean score
(a missed object counts 0), and the detections of other labels. The decode itself is checked
against a reference decode in tests/detect/test_yolo_real.py; this compares the inputs only.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from camera_app.detect.detector import DetectorOptions, load_detector
from camera_app.modes import ResizeMode

MODELS = (
    "ultralytics_yolov8n_coco_640_int8",
    "ultralytics_yolov8n_coco_640_float_io",
    "yolov5n_coco_640_uint8",
)
# photo -> {label: how many are clearly in it}
KNOWN = {
    "grace_hopper.bmp": {"person": 1, "tie": 1},
    "cat.bmp": {"cat": 1},
    "kite_and_cold.jpg": {"kite": 2, "person": 3},
    "pets.jpg": {"dog": 2},
    "astronaut": {"person": 1},
    "chelsea": {"cat": 1},
    "coffee": {"cup": 1},
    "motorcycle_left": {"motorcycle": 1},
}


def photos() -> dict[str, np.ndarray]:
    shared = Path(
        os.environ.get("CAMERA_APP_SHARED", Path(__file__).resolve().parents[2] / "shared")
    )
    out: dict[str, np.ndarray] = {}
    for name in KNOWN:
        if "." in name:
            img = cv2.imread(str(shared / "images" / name))
            if img is not None:
                out[name] = img
        else:
            import skimage.data

            photo = getattr(
                skimage.data, name if name != "motorcycle_left" else "stereo_motorcycle"
            )()
            rgb = photo[0] if isinstance(photo, tuple) else photo
            out[name] = np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return out


def score(
    model: str, mode: ResizeMode, images: dict[str, np.ndarray]
) -> tuple[int, int, float, int]:
    det = load_detector(model, DetectorOptions(threshold=0.3, resize=mode, max_detections=50))
    found = total = other = 0
    scores: list[float] = []
    for name, img in images.items():
        d = det.detect(img)
        for label, n in KNOWN[name].items():
            mine = sorted(
                (float(s) for s, lb in zip(d.scores, d.labels, strict=True) if lb == label),
                reverse=True,
            )
            got = mine[:n] + [0.0] * max(0, n - len(mine))
            scores += got
            found += sum(1 for s in got if s > 0)
            total += n
        other += sum(1 for lb in d.labels if lb not in KNOWN[name])
    return found, total, float(np.mean(scores)), other


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    images = photos()
    print(
        f"{len(images)} photos; threshold 0.3; found/known, "
        "mean score of the known objects, other labels"
    )
    for model in MODELS:
        for mode in (ResizeMode.LETTERBOX, ResizeMode.STRETCH):
            found, total, mean, other = score(model, mode, images)
            print(
                f"{model:40s} {mode.value:9s} found {found:2d}/{total}  "
                f"mean {mean:.3f}  other {other}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
