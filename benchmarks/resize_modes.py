"""INTER_LINEAR against INTER_LINEAR_EXACT for the resizes the models need, side by side.

    python benchmarks/resize_modes.py [--rounds 400]

OpenCV's INTER_LINEAR (what the preprocessing uses) rounds differently on x86-64 and
aarch64 for upscales and downscales of less than 2x (20-37% of the output bytes one apart;
a 720p frame to 300x300 or to a 640 letterbox is the same bytes on both, docs/PERFORMANCE.md),
so there a model's scores move by a few hundredths between a PC and a Raspberry Pi.
INTER_LINEAR_EXACT is the same bytes everywhere; this prints what it would cost: the median
time of each mode for a 720p photo to each input size, calls alternating in one run, and
how many bytes differ.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "images" / "kite_and_cold.jpg"
SIZES = ((300, 300), (320, 320), (256, 256), (640, 640), (640, 360))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--photo", type=Path, default=PHOTO)
    args = ap.parse_args()
    image = cv2.imread(str(args.photo), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"{args.photo}: cannot read the photo (set --photo)")
    frame = cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA)
    modes = {"LINEAR": cv2.INTER_LINEAR, "LINEAR_EXACT": cv2.INTER_LINEAR_EXACT}
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, 1280x720 ->, "
          f"{args.rounds} calls each, alternating")  # fmt: skip
    for size in SIZES:
        times: dict[str, list[int]] = {name: [] for name in modes}
        order = list(modes)
        for r in range(args.rounds):
            for name in order if r % 2 else reversed(order):
                t0 = time.perf_counter_ns()
                cv2.resize(frame, size, interpolation=modes[name])
                times[name].append(time.perf_counter_ns() - t0)
        a, b = (statistics.median(times[n]) / 1e3 for n in order)
        fast = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        exact = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR_EXACT)
        diff = np.abs(fast.astype(np.int16) - exact)
        print(f"  {size[0]}x{size[1]}: LINEAR {a:7.1f} us   LINEAR_EXACT {b:7.1f} us   "
              f"ratio {b / a:5.2f}   bytes differing {np.count_nonzero(diff) / diff.size:6.1%} "
              f"(max {int(diff.max())})")  # fmt: skip


if __name__ == "__main__":
    main()
