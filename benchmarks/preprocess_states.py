"""The usual float path's cost depends on the allocator's state; ours does not. Side by side.

`camera-app bench` times the usual path and ours alternately in one process whose heap is
already grown (the results of the identity check stay alive), where the usual path's ~1 MB
float temporaries reuse freed heap memory. A plain loop that keeps nothing alive, as a
program's frame loop does, lets glibc return that memory after each frame and fault it in
again on the next: the usual path then costs 2-3x more. This prints both, three repeats each.

    python benchmarks/preprocess_states.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys

from camera_app.bench import _U8, side_by_side, test_frame
from camera_app.detect.preprocess import Preprocessor, usual_float_path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    frame = test_frame(None)
    hw = (300, 300)
    pre = Preprocessor(hw, _U8)
    usual = functools.partial(usual_float_path, frame, hw, _U8)
    ours = functools.partial(pre, frame)
    print("uint8 300x300 from a 1280x720 frame; medians in ms")
    print("state                                usual    ours   ratio")
    for state in ("plain loop, nothing kept alive", "heap grown, results kept alive"):
        kept = (usual(), ours()) if state.startswith("heap") else None
        for _ in range(3):
            t_usual, t_ours = side_by_side(usual, ours, repeat=args.repeat)
            mu, mo = statistics.median(t_usual) * 1e3, statistics.median(t_ours) * 1e3
            print(f"{state:<34} {mu:7.3f} {mo:7.3f} {mu / mo:6.1f}x")
        del kept
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
