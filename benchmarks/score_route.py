"""The ST model's postprocessing with float scores against int8 scores, side by side in one run.

    CAMERA_APP_MODEL_PATH=../shared/models python benchmarks/score_route.py [--repeat 300]

The ST model's float32 scores are the DEQUANTIZE of an int8 tensor; the loader normally reads
that tensor instead (``model.expose_quantized_scores``). Here two detectors are loaded in one
process, one each way, and called in turn, round after round: each one's ``invoke()``, then its
postprocessing on the interpreter's own buffers (as the inference worker runs it). Separate
processes differ from each other by more than the two routes do, so this is the A/B to read.
Both orders are run, in case the one that goes first in a round is favoured.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

from camera_app.bench import side_by_side, test_frame
from camera_app.detect.detector import Detector, DetectorOptions
from camera_app.detect.model import load_model

MODEL = "st_ssd_mobilenet_v2_fpnlite_256_coco80"


def _calls(d: Detector) -> list[Callable[[], object]]:
    x, placement = d.preprocess(test_frame(None))
    d.infer(x)

    def postprocess() -> None:
        with d.model.output_views(d.reads) as outputs:
            d.postprocess(outputs, placement)

    return [d.model.interpreter.invoke, postprocess]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--model", default=MODEL)
    args = parser.parse_args()
    routes = {
        "float": Detector(load_model(args.model, quantized_scores=False), DetectorOptions()),
        "int8": Detector(load_model(args.model), DetectorOptions()),
    }
    if routes["int8"].model.extra_outputs == ():
        print(f"{args.model}: no int8 source for its scores; nothing to compare")
        return 1
    print(f"{args.model}, threshold 0.5, repeat {args.repeat} (medians, ms)")
    for order in (("float", "int8"), ("int8", "float")):
        calls = [c for name in order for c in _calls(routes[name])]
        times = side_by_side(*calls, repeat=args.repeat)
        med = {
            name: (statistics.median(times[2 * i]) * 1e3, statistics.median(times[2 * i + 1]) * 1e3)
            for i, name in enumerate(order)
        }
        line = " | ".join(
            f"{name}: invoke {inv:6.3f} post {post:6.3f} ({post / inv * 100:4.1f}%)"
            for name, (inv, post) in med.items()
        )
        print(
            f"  {order[0]} first: {line} | int8/float post {med['int8'][1] / med['float'][1]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
