"""How close preprocessing can get to a bare ``cv2.resize``: the per-byte step's own floor.

For each input of ``camera-app bench`` (issue 18: ours at most 1.3x a bare resize of the same
720p frame), side by side in one run: the bare resize and ours as the bench times them (every
call after the same cache scrub), and the per-byte step alone (the OpenCV/numpy calls after
the resize) on a resized image already in cache, with nothing else around it. ``1 + step /
bare`` is what ours would cost if the step were free of cold caches and Python: a floor above
the target means no arrangement of the same OpenCV calls can meet it.

    python benchmarks/preprocess_floor.py [--repeat 400]
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
from camera_app.bench import PREPROCESS_CASES, CacheScrub, side_by_side, test_frame
from camera_app.detect.preprocess import Preprocessor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=400)
    args = parser.parse_args(argv)
    frame = test_frame(None)
    scrub = CacheScrub()
    others = OtherLoad()
    print(f"frame 1280x720, repeat {args.repeat}, load {loadavg()}; medians in us")
    print(f"{'input':<34} {'bare':>6} {'ours':>6} {'ratio':>6} {'step hot':>9} {'floor':>6}")
    for name, hw, q in PREPROCESS_CASES:
        pre = Preprocessor(hw, q)
        size = (hw[1], hw[0])
        tensor = np.empty(pre.shape, q.dtype.numpy)
        small = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), np.uint8)
        bare = functools.partial(cv2.resize, frame, size, interpolation=cv2.INTER_LINEAR)
        ours = functools.partial(pre.into, frame, tensor)
        step = functools.partial(pre.per_byte, small, tensor[0])
        t_bare, t_ours = side_by_side(bare, ours, repeat=args.repeat, before=scrub)
        (t_step,) = side_by_side(step, repeat=args.repeat)
        b, o, s = (statistics.median(t) * 1e6 for t in (t_bare, t_ours, t_step))
        print(f"{name:<34} {b:6.1f} {o:6.1f} {o / b:6.3f} {s:9.1f} {1 + s / b:6.3f}"
              f"  ({pre.route.value})")  # fmt: skip
    print(others.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
