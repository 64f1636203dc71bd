"""The raw-output decoder against the model's own TFLite_Detection_PostProcess op.

ssd_mobilenet_v1_coco_quant computes its box encodings [1,1917,4] and its class scores
[1,1917,91] (after LOGISTIC) inside the graph and hands them to the PostProcess op. With
``experimental_preserve_all_tensors`` we read those raw tensors, decode them with our anchor
TF1 box coder and NMS (IoU 0.6, the op's setting), and compare with the op's output. The op
decodes against its own anchors, stored as a uint8 constant; we use those (dequantized) and
check separately that our anchor generator reproduces them within half a quantization step.
"""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.detect.anchors import AnchorConfig, generate_anchors
from camera_app.detect.boxes import CenterSizeCoder, iou_xyxy
from camera_app.detect.decode import (
    ScoreFormat,
    Thresholds,
    decode_postprocess,
    raw_candidates,
    suppress,
)
from camera_app.detect.layout import Activation
from camera_app.detect.model import load_model, new_interpreter, read_graph, run_interpreter
from camera_app.detect.preprocess import Preprocessor
from camera_app.detect.quantization import InputDType, InputQuantization, dequantize
from camera_app.detect.ssd_postprocess import PostProcessLayout
from tests.shared import V1, need_shared, read_image


@pytest.mark.realmodel
@pytest.mark.parametrize("image", ["grace_hopper.bmp", "cat.bmp", "kite_and_cold.jpg", "pets.jpg"])
def test_raw_decoder_reproduces_the_postprocess_op(image: str) -> None:
    need_shared()
    model = load_model(str(V1))
    interp, ops = new_interpreter(
        model.content, model.runtime, 2, str(V1), preserve_all_tensors=True
    )
    graph = read_graph(interp, ops)
    layout = model.layout
    assert isinstance(layout, PostProcessLayout)
    op = next(o for o in graph.ops if o.name == "TFLite_Detection_PostProcess")
    enc_t, score_t, anchor_t = (graph.tensors[i] for i in op.inputs)
    assert enc_t.shape == (1, 1917, 4)
    assert score_t.shape == (1, 1917, 91)
    op_anchors = dequantize(interp.get_tensor(anchor_t.index), anchor_t.scale, anchor_t.zero_point)
    generated = generate_anchors(AnchorConfig(), (300, 300))
    assert np.abs(generated - op_anchors).max() <= anchor_t.scale / 2 + 1e-6

    inp = model.input
    pre = Preprocessor(
        model.input_hw,
        InputQuantization(InputDType.UINT8, scale=inp.scale, zero_point=inp.zero_point),
    )
    x, _ = pre(read_image(image))
    outs = run_interpreter(interp, graph, x)
    th = Thresholds(score=0.3, iou=0.6, max_detections=10)
    raw = raw_candidates(
        interp.get_tensor(enc_t.index)[0],
        (enc_t.scale, enc_t.zero_point),
        interp.get_tensor(score_t.index)[0],
        ScoreFormat(Activation.NONE, True, score_t.scale, score_t.zero_point),
        op_anchors,
        CenterSizeCoder(),
        th,
    )
    ours = suppress(raw, th)
    theirs = decode_postprocess(
        outs[layout.boxes.index][0], outs[layout.classes.index][0],
        outs[layout.scores.index][0], float(outs[layout.count.index][0]), th,
    )  # fmt: skip
    # The op keeps one class per box and suppresses across classes; ours is class-aware, so
    # it may keep extra lower-scoring boxes. Every detection of the op must be among ours.
    assert len(theirs.scores) >= 1
    for i in range(len(theirs.scores)):
        same = np.nonzero(ours.class_ids == theirs.class_ids[i])[0]
        assert same.size, f"class {theirs.class_ids[i]} missing from ours"
        ious = iou_xyxy(theirs.boxes_yxyx[i : i + 1], ours.boxes_yxyx[same])[0]
        j = same[int(np.argmax(ious))]
        assert ious.max() >= 0.99
        # Both read the same uint8 scores.
        assert float(ours.scores[j]) == pytest.approx(float(theirs.scores[i]), abs=1e-6)
    # The strongest detection is the same.
    assert (ours.class_ids[0], ours.scores[0]) == (theirs.class_ids[0], theirs.scores[0])
