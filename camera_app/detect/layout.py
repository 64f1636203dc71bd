"""What every output family shares: probe outputs, score activations (numpy only).

The families themselves (``family`` and the modules it lists) map a detector's outputs by
meaning, never by position: op output order, signature and tensor names, shapes, and values
from probe runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from camera_app.detect.graph import GraphInfo, TensorInfo
from camera_app.modes import Activation as Activation  # re-exported: the decoders use it

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
Probe = Mapping[int, npt.NDArray[np.generic]]


def layout_kind(family: str) -> str:
    """The family as ``inspect`` and ``camera_app_model_info{layout}`` name it (the SSD ones
    by their older names, ``postprocess`` and ``raw``)."""
    return {"ssd-postprocess": "postprocess", "ssd-raw": "raw"}.get(family, family)


def detect_activation(
    graph: GraphInfo, scores: TensorInfo, probes: Sequence[Probe]
) -> tuple[Activation, str]:
    """Is a raw score tensor already activated? Returns the activation still to apply, and why."""
    op = graph.find_activation(scores.index)
    if op is not None:
        return Activation.NONE, f"{op.name} op #{op.index} already applied in the graph"
    hint = graph.hint_name(scores).lower()
    if "softmax" in hint or "sigmoid" in hint or "logistic" in hint:
        return Activation.NONE, f"the output name '{graph.hint_name(scores)}' says so"
    rng = scores.real_range()
    if rng is not None and rng[0] >= -1e-6 and rng[1] <= 1 + 1e-6:
        return Activation.NONE, "its quantization range lies within [0, 1]"
    if probes:
        vals = np.concatenate([np.ravel(p[scores.index]).astype(np.float32) for p in probes])
        if scores.quantized:
            vals = (vals - scores.zero_point) * scores.scale
        if vals.min() >= 0 and vals.max() <= 1:
            return Activation.NONE, "its values lie within [0, 1]"
    return Activation.SIGMOID, "values outside [0, 1] are logits (TF SSD convention: sigmoid)"
