"""The worker's preprocessing as a share of its model's ``invoke()``, after a real ``invoke()``.

What issue 18's "preprocessing at most 1.3x a bare resize" protects is the pipeline's own
share of a frame: this prints it per model, as the worker runs it (``Detector.prepare``
straight into the input tensor, then ``invoke()``, call after call on one thread, so every
preprocessing starts from the caches an ``invoke()`` left), with the per-byte route and, for
a letterbox, whether the frame took the band of rows or the canvas. A 16:9 720p photo, and
with ``--tall`` a 9:16 crop of it (padded left and right: the canvas path).

    CAMERA_APP_MODEL_PATH=../shared/models python benchmarks/prepare_share.py [MODEL ...]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pipeline import OtherLoad, loadavg
from camera_app.bench import side_by_side, test_frame
from camera_app.detect.detector import DetectorOptions, load_detector
from camera_app.modes import ResizeMode

MODELS = (
    "ultralytics_yolov8n_coco_640_int8",
    "ultralytics_yolov8n_coco_640_float_io",
    "yolov5n_coco_640_uint8",
    "ssd_mobilenet_v1_coco_quant",
    "arm_ssdlite_mobilenet_v3_small_int8_raw",
    "st_ssd_mobilenet_v2_fpnlite_256_coco80",
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeat", type=int, default=150)
    parser.add_argument("--tall", action="store_true", help="a 9:16 frame instead of 16:9")
    args = parser.parse_args(argv)
    frame = test_frame(None)
    if args.tall:
        frame = np.ascontiguousarray(cv2.resize(frame[:, 440:845], (405, 720)))
    others = OtherLoad()
    h, w = frame.shape[:2]
    print(f"frame {w}x{h}, repeat {args.repeat}, load {loadavg()}; medians")
    for name in args.models:
        det = load_detector(name, DetectorOptions(threshold=0.5, threads=2))
        pre = det.preprocessor
        det.prepare(frame)
        how = "stretch"
        if pre.resize is ResizeMode.LETTERBOX and (h, w) != pre.input_hw:
            wide = w * pre.input_hw[0] >= h * pre.input_hw[1]  # padded above and below
            how = "letterbox, band" if wide else "letterbox, canvas"
        t_prep, t_inv = side_by_side(
            functools.partial(det.prepare, frame),
            det.model.interpreter.invoke,
            repeat=args.repeat,
            alternate=False,  # always invoke() before prepare, as in the worker
        )
        p, i = statistics.median(t_prep), statistics.median(t_inv)
        hw = str(pre.input_hw)
        print(f"{name:<40} {hw:<10} {how:<17} {pre.route.value:<20} prepare {p * 1e3:6.3f} ms"
              f"  invoke {i * 1e3:6.2f} ms  share {p / i:6.1%}")  # fmt: skip
    print(others.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
