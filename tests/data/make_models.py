#!/usr/bin/env python3
"""Generate the small synthetic TFLite models that camera_app's tests use.

The real detectors (../shared/models) cover the classic uint8 SSD with the in-graph
TFLite_Detection_PostProcess op, a raw float-output SSD and a raw int8 SSD. These models cover
the other code paths: int8/uint8/float PostProcess models, TF1 and TF2 output orders, raw logits,
float islands, and models that must be refused with a clear error. All are a few KB.

The "colour blob detector"
--------------------------
Every detector here is the same hand-weighted network (no training, fixed weights), so a test
can compute its detections by hand:

* input: RGB image [1, 64, 64, 3] NHWC; the float graph works on pixels normalised to [-1, 1]
  ((pixel - 127.5) / 127.5). Quantised models take that normalised value quantised with the
  input tensor's scale and zero point (about 2/255 and 0 for int8, 128 for uint8).
* a 16x16 average pool gives the mean R, G, B of each cell of a 4x4 grid; anchor i*4+j is cell
  (row i, column j): ycenter=(i+0.5)/4, xcenter=(j+0.5)/4, h=w=0.25 (anchors.txt, 4 lines:
  ycenter, xcenter, h, w, like ../shared/models/anchors_reference_ssd300_1917_box_priors.txt).
* class logits, 4 columns = background, red, green, blue (1x1 conv on the cell means):
  background = -6; red = 4*(R - (G+B)/2) - 4, and the same for green and blue. A saturated red
  cell gives red logit 4 (sigmoid 0.982) and -8 for the others; grey, black and white cells
  give -4 (sigmoid 0.018) for every class.
* box encodings (ty, tx, th, tw; TF1 box coder, scales 10, 10, 5, 5): 0.01*(R+G+B) for all four,
  so at most 0.03: input-dependent (the converter cannot fold them into a constant) yet so
  small that a decoded box is its anchor cell to within 0.001.
* labels.txt is "red, green, blue": PostProcess class id 0 = red; in raw outputs column 0 is
  background and column c (1..3) is labels[c - 1].

Models (tests/data/models/NAME/model.tflite, labels.txt, anchors.txt for raw layouts)
-------------------------------------------------------------------------------------
 1 blobs_int8_postprocess       int8 input, in-graph TFLite_Detection_PostProcess, TF1 order
                                (boxes, classes, scores, count) and TF1 names.
 2 blobs_uint8_postprocess      the same with a uint8 input.
 3 blobs_float_postprocess_tf2  float32 input in [-1, 1]; PostProcess with the TF2 Object
                                Detection API export's order and names (StatefulPartitionedCall:N).
 4 blobs_float_raw              float32 input; raw float outputs, class LOGITS (no sigmoid).
 5 blobs_int8_raw_sigmoid       int8 input, int8 raw outputs, sigmoid in the graph (like the Arm
                                model): class_predictions first, then box_encodings.
 6 blobs_float_island           like 5, but a ROUND op (no int8 kernel) stays float:
                                DEQUANTIZE -> ROUND -> QUANTIZE in the middle of the graph.
11 blobs_int8_raw_float_out     like 5, but float32 outputs: the converter ends the int8 graph
                                with DEQUANTIZE ops (like the ST model), so the loader can read
                                the int8 scores before them.
 7 int16_input                  16x8 quantisation with an INT16 input (unsupported input dtype).
 8 two_inputs                   two image inputs (the "more than one image input" error).
 9 classifier                   one image input, one [1, 10] softmax output (not an SSD).
10 edgetpu_fake                 the uint8 PostProcess model with its network replaced by one
                                custom op named "edgetpu-custom-op" (runs only with the Edge
                                TPU delegate, so a CPU interpreter must refuse it).

How they are made
-----------------
* TF1 layouts (1, 2, 4-9) come from a TF1-style frozen GraphDef converted with
  tf.compat.v1.lite.TFLiteConverter.from_frozen_graph, exactly as the TF1 Object Detection API's
  export_tflite_ssd_graph + tflite_convert did: the PostProcess op is a NodeDef of op type
  "TFLite_Detection_PostProcess" appended to the graph, so the outputs keep the TF1 names
  TFLite_Detection_PostProcess, :1, :2, :3 in that order and the file has no signature.
* The TF2 layout (3) follows export_tflite_graph_lib_tf2.py: a tf.Module whose weights are
  tf.Variables, a tf.function with experimental_implements = the PostProcess signature string,
  its results reversed ([::-1]), saved as a SavedModel and converted with from_saved_model.
  (The converter keeps only the attributes it knows: detections_per_class is dropped from this
  model's op options, so the op's default applies; it only matters with regular NMS.)
* Quantised models use post-training full-integer quantisation with a fixed representative
  data set (seeded numpy, see representative_images()).
* edgetpu_fake: the converter cannot emit a custom op with a hyphenated name, so the uint8
  PostProcess model is rewritten with tensorflow.lite.tools.flatbuffer_utils (the TFLite schema's
  object API): a new operator code {CUSTOM, custom_code "edgetpu-custom-op"} is appended and the
  network's ops (pool, convs, logistic, reshapes) are replaced by one such op taking the input
  tensor and producing the two quantised tensors that feed the DEQUANTIZE ops before PostProcess,
  like a real *_edgetpu.tflite (custom op -> PostProcess). Its custom options are a short ASCII
  placeholder, not an Edge TPU program.

Regenerate (TensorFlow lives in its own venv; LiteRT checks run with the project's runtime):
    python3 -m venv /opt/venv-tf && /opt/venv-tf/bin/pip install tensorflow-cpu   # 2.21.0 used
    /opt/venv-tf/bin/python tests/data/make_models.py --verify-with /opt/venv-main/bin/python
    /opt/venv-main/bin/python tests/data/make_models.py --verify-only   # LiteRT only, no TF
    /opt/venv-tf/bin/python tests/data/make_models.py --yolo   # the YOLO-style models only
The YOLO-style models (another input size, both head orientations, pixel boxes, end-to-end,
float16 weights, refused segmentation/pose heads) are described in yolo_blobs.py; the tests
in tests/detect/test_yolo_generated.py check them against a reference decode of their own.
The manifest (models/manifest.json) is written at generation time from the flatbuffers
themselves; --verify-only also checks that LiteRT reports exactly the tensors it lists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS_DIR = HERE / "models"

IMAGE_SIZE = 64
GRID = 4
CELL = IMAGE_SIZE // GRID
NUM_ANCHORS = GRID * GRID
LABELS = ["red", "green", "blue"]
NUM_CLASSES = len(LABELS)  # without background
GAIN = 4.0  # logit = GAIN * (C - mean(other two)) - BIAS
BIAS = 4.0
BACKGROUND_LOGIT = -6.0
BOX_WEIGHT = 0.01
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # y, x, h, w (TF1 faster_rcnn box coder)
MAX_DETECTIONS = 10
SCORE_THRESHOLD = 0.3
IOU_THRESHOLD = 0.5
SEED = 1234
REP_IMAGES = 48
GREY = 128
INPUT_NAME = "normalized_input_image_tensor"
PP_NAME = "TFLite_Detection_PostProcess"
EDGETPU_CODE = "edgetpu-custom-op"

# --------------------------------------------------------------------------------------------
# Pure numpy: weights, anchors, images, expectations (shared by generation and verification)
# --------------------------------------------------------------------------------------------


def anchors() -> np.ndarray:
    """[16, 4] (ycenter, xcenter, h, w), anchor index = row * 4 + col."""
    rows = []
    for i in range(GRID):
        for j in range(GRID):
            rows.append([(i + 0.5) / GRID, (j + 0.5) / GRID, 1.0 / GRID, 1.0 / GRID])
    return np.asarray(rows, dtype=np.float32)


def class_weights() -> tuple[np.ndarray, np.ndarray]:
    """1x1 conv kernel [1, 1, 3, 4] and bias [4]: columns background, red, green, blue."""
    kernel = np.zeros((1, 1, 3, 1 + NUM_CLASSES), dtype=np.float32)
    bias = np.full(1 + NUM_CLASSES, -BIAS, dtype=np.float32)
    bias[0] = BACKGROUND_LOGIT
    for c in range(NUM_CLASSES):
        w = np.full(3, -GAIN / 2, dtype=np.float32)
        w[c] = GAIN
        kernel[0, 0, :, c + 1] = w
    return kernel, bias


def box_weights() -> tuple[np.ndarray, np.ndarray]:
    return np.full((1, 1, 3, 4), BOX_WEIGHT, dtype=np.float32), np.zeros(4, dtype=np.float32)


def cell_box(row: int, col: int) -> list[float]:
    """Normalized [ymin, xmin, ymax, xmax] of a grid cell."""
    return [row / GRID, col / GRID, (row + 1) / GRID, (col + 1) / GRID]


def paint(cells: dict[tuple[int, int], tuple[int, int, int]]) -> np.ndarray:
    img = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), GREY, dtype=np.uint8)
    for (r, c), rgb in cells.items():
        img[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = rgb
    return img


RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)

# name -> (cells painted on grey 128, expected detections as (label, row, col))
TEST_IMAGES: dict[str, tuple[dict[tuple[int, int], tuple[int, int, int]], list]] = {
    "red_r0c0_blue_r2c3": ({(0, 0): RED, (2, 3): BLUE}, [("red", 0, 0), ("blue", 2, 3)]),
    "green_r1c2_white_r3c0_black_r0c3": (
        {(1, 2): GREEN, (3, 0): (255, 255, 255), (0, 3): (0, 0, 0)},
        [("green", 1, 2)],
    ),
    "all_grey": ({}, []),
}


def test_image(name: str) -> np.ndarray:
    return paint(TEST_IMAGES[name][0])


def normalize(img_uint8: np.ndarray) -> np.ndarray:
    return ((img_uint8.astype(np.float32) - 127.5) / 127.5)[None]


def representative_images() -> list[np.ndarray]:
    """Fixed calibration set: cells of saturated colours, greys, black, white and noise."""
    rng = np.random.default_rng(SEED)
    palette = [RED, GREEN, BLUE, (0, 0, 0), (255, 255, 255), (255, 255, 0), (0, 255, 255)]
    out = [normalize(test_image(name)) for name in TEST_IMAGES]
    for _ in range(REP_IMAGES - len(out)):
        img = rng.integers(0, 256, size=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        for r in range(GRID):
            for c in range(GRID):
                pick = rng.integers(0, len(palette) + 2)
                if pick < len(palette):
                    img[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = palette[pick]
                elif pick == len(palette):
                    img[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = rng.integers(0, 256)
        out.append(normalize(img))
    return out


def expected_for(name: str) -> list[dict[str, Any]]:
    return [
        {"label": lab, "class_id": LABELS.index(lab), "anchor": r * GRID + c, "box": cell_box(r, c)}
        for lab, r, c in TEST_IMAGES[name][1]
    ]


# --------------------------------------------------------------------------------------------
# Generation (needs TensorFlow)
# --------------------------------------------------------------------------------------------


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.random.set_seed(SEED)
    return tf


def _blob_head(tf, x, island: bool = False):
    """Pool + class/box 1x1 convs -> (box_encodings [1,16,4], class logits [1,16,4])."""
    ck, cb = class_weights()
    bk, bb = box_weights()
    pooled = tf.nn.avg_pool2d(x, CELL, CELL, "VALID")
    logits = tf.nn.bias_add(tf.nn.conv2d(pooled, ck, 1, "VALID"), cb)
    if island:
        # ROUND has no int8 kernel: the quantizer leaves it float (DEQUANTIZE/ROUND/QUANTIZE).
        # Rounding logits to 1/16 changes no score by more than 0.008.
        logits = tf.math.round(logits * 16.0) / 16.0
    enc = tf.nn.bias_add(tf.nn.conv2d(pooled, bk, 1, "VALID"), bb)
    return tf.reshape(enc, [1, NUM_ANCHORS, 4]), tf.reshape(logits, [1, NUM_ANCHORS, 4])


def _pp_attrs() -> dict[str, Any]:
    return {
        "max_detections": MAX_DETECTIONS,
        "max_classes_per_detection": 1,
        "detections_per_class": 100,
        "use_regular_nms": False,
        "nms_score_threshold": SCORE_THRESHOLD,
        "nms_iou_threshold": IOU_THRESHOLD,
        "y_scale": BOX_SCALES[0],
        "x_scale": BOX_SCALES[1],
        "h_scale": BOX_SCALES[2],
        "w_scale": BOX_SCALES[3],
        "num_classes": NUM_CLASSES,
    }


def _frozen_graph(tf, kind: str) -> tuple[bytes, list[str], list[str]]:
    """A TF1 frozen GraphDef. kind: postprocess | raw_logits | raw_sigmoid | island | two_inputs
    | classifier. Returns (serialized graph, input names, output names in the wanted order)."""
    from tensorflow.core.framework import attr_value_pb2, types_pb2

    g = tf.Graph()
    with g.as_default():
        shape = [1, IMAGE_SIZE, IMAGE_SIZE, 3]
        if kind == "two_inputs":
            a = tf.compat.v1.placeholder(tf.float32, shape, name="image_a")
            b = tf.compat.v1.placeholder(tf.float32, shape, name="image_b")
            inputs = ["image_a", "image_b"]
            x = (a + b) * 0.5
        else:
            x = tf.compat.v1.placeholder(tf.float32, shape, name=INPUT_NAME)
            inputs = [INPUT_NAME]
        if kind == "classifier":
            pooled = tf.reshape(tf.reduce_mean(x, axis=[1, 2]), [1, 3])
            w = np.linspace(-1.0, 1.0, 30, dtype=np.float32).reshape(3, 10)
            tf.nn.softmax(tf.matmul(pooled, w) + 0.1, name="scores")
            return g.as_graph_def().SerializeToString(), inputs, ["scores"]
        enc, logits = _blob_head(tf, x, island=(kind == "island"))
        scores = logits if kind == "raw_logits" else tf.sigmoid(logits)
        with tf.name_scope("raw_outputs"):
            tf.identity(enc, name="box_encodings")
            tf.identity(scores, name="class_predictions")
        tf.constant(anchors(), name="anchors")
    gd = g.as_graph_def()
    if kind != "postprocess":
        if kind in ("raw_sigmoid", "island"):
            outs = ["raw_outputs/class_predictions", "raw_outputs/box_encodings"]  # Arm model's
        else:
            outs = ["raw_outputs/box_encodings", "raw_outputs/class_predictions"]
        return gd.SerializeToString(), inputs, outs
    # The TF1 Object Detection API appends the op as a NodeDef (export_tflite_ssd_graph_lib).
    node = gd.node.add()
    node.op = PP_NAME
    node.name = PP_NAME
    av = attr_value_pb2.AttrValue
    node.attr["_output_quantized"].CopyFrom(av(b=True))
    node.attr["_output_types"].list.type.extend([types_pb2.DT_FLOAT] * 4)
    node.attr["_support_output_type_float_in_quantized_op"].CopyFrom(av(b=True))
    for key, value in _pp_attrs().items():
        if isinstance(value, bool):
            node.attr[key].CopyFrom(av(b=value))
        elif isinstance(value, int):
            node.attr[key].CopyFrom(av(i=value))
        else:
            node.attr[key].CopyFrom(av(f=value))
    node.input.extend(["raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"])
    outs = [PP_NAME, f"{PP_NAME}:1", f"{PP_NAME}:2", f"{PP_NAME}:3"]
    return gd.SerializeToString(), inputs, outs


def _rep_dataset(n_inputs: int = 1):
    images = representative_images()

    def gen():
        for img in images:
            yield [img] * n_inputs

    return gen


def _convert_frozen(tf, kind: str, quant: str | None, workdir: Path) -> bytes:
    """quant: None (float), 'int8', 'uint8' (int8 body, uint8 input), 'int16' (16x8),
    'int8_float_out' (int8 body and input, float32 outputs)."""
    graph, inputs, outputs = _frozen_graph(tf, kind)
    path = workdir / f"{kind}.pb"
    path.write_bytes(graph)
    shapes = {name: [1, IMAGE_SIZE, IMAGE_SIZE, 3] for name in inputs}
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(path), inputs, outputs, shapes)
    conv.allow_custom_ops = kind == "postprocess"
    if quant is not None:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _rep_dataset(len(inputs))
        if quant == "int16":
            ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            conv.target_spec.supported_ops = [ops]
            conv.inference_input_type = tf.int16
            conv.inference_output_type = tf.int16
        else:
            # TFLITE_BUILTINS as fallback: what lets the island's ROUND stay float.
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
            conv.inference_input_type = tf.uint8 if quant == "uint8" else tf.int8
            # PostProcess outputs stay float32; "int8_float_out" keeps float32 outputs too,
            # which the converter makes by appending DEQUANTIZE ops to the int8 graph.
            if kind != "postprocess" and quant != "int8_float_out":
                conv.inference_output_type = tf.int8
    return conv.convert()


def _convert_tf2_postprocess(tf, workdir: Path) -> bytes:
    """TF2 Object Detection API style (export_tflite_graph_lib_tf2.SSDModule)."""
    ck, cb = class_weights()
    bk, bb = box_weights()
    attrs = _pp_attrs()
    sig = [f'name: "{PP_NAME}"']
    for key, value in attrs.items():
        if isinstance(value, bool):
            sig.append(f'attr {{ key: "{key}" value {{ b: {str(value).lower()} }} }}')
        elif isinstance(value, int):
            sig.append(f'attr {{ key: "{key}" value {{ i: {value} }} }}')
        else:
            sig.append(f'attr {{ key: "{key}" value {{ f: {value:f} }} }}')
    implements = " ".join(sig)

    class SSDModule(tf.Module):
        def __init__(self):
            super().__init__()
            self.ck = tf.Variable(ck, name="class_kernel")
            self.cb = tf.Variable(cb, name="class_bias")
            self.bk = tf.Variable(bk, name="box_kernel")
            self.bb = tf.Variable(bb, name="box_bias")

        def _postprocess(self):
            # No TF equivalent: an empty composite function that the converter legalizes
            # to the custom op (the same trick as the Object Detection API).
            @tf.function(experimental_implements=implements)
            def dummy_post_processing(box_encodings, class_predictions, anchors):
                del box_encodings, class_predictions, anchors
                return (
                    tf.constant(0.0, name="boxes"),
                    tf.constant(0.0, name="scores"),
                    tf.constant(0.0, name="classes"),
                    tf.constant(0.0, name="num_detections"),
                )

            return dummy_post_processing

        @tf.function(
            input_signature=[
                tf.TensorSpec([1, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="input")
            ]
        )
        def inference_fn(self, image):
            pooled = tf.nn.avg_pool2d(image, CELL, CELL, "VALID")
            logits = tf.nn.bias_add(tf.nn.conv2d(pooled, self.ck, 1, "VALID"), self.cb)
            enc = tf.nn.bias_add(tf.nn.conv2d(pooled, self.bk, 1, "VALID"), self.bb)
            with tf.name_scope("raw_outputs"):
                box_encodings = tf.identity(
                    tf.reshape(enc, [1, NUM_ANCHORS, 4]), name="box_encodings"
                )
                class_predictions = tf.identity(
                    tf.sigmoid(tf.reshape(logits, [1, NUM_ANCHORS, 4])), name="class_predictions"
                )
            anchor_const = tf.identity(tf.constant(anchors()), name="anchors")
            return self._postprocess()(box_encodings, class_predictions, anchor_const)[::-1]

    module = SSDModule()
    saved = workdir / "tf2_saved_model"
    tf.saved_model.save(module, str(saved), signatures=module.inference_fn.get_concrete_function())
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    conv.allow_custom_ops = True
    return conv.convert()


def _make_edgetpu_fake(source: bytes) -> bytes:
    """Replace the network of a PostProcess model by one 'edgetpu-custom-op' (see docstring)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(source))
    sg = model.subgraphs[0]

    def code_of(op) -> bytes:
        code = model.operatorCodes[op.opcodeIndex].customCode
        if code is None:
            return b""
        return code if isinstance(code, bytes) else code.encode()

    pp = next(op for op in sg.operators if code_of(op) == PP_NAME.encode())
    producers = {int(t): op for op in sg.operators for t in op.outputs}
    dequants = [producers[int(t)] for t in pp.inputs[:2]]
    custom_code = schema.OperatorCodeT()
    custom_code.builtinCode = schema.BuiltinOperator.CUSTOM
    custom_code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    custom_code.customCode = EDGETPU_CODE
    custom_code.version = 1
    model.operatorCodes.append(custom_code)
    edgetpu = schema.OperatorT()
    edgetpu.opcodeIndex = len(model.operatorCodes) - 1
    edgetpu.inputs = np.asarray([sg.inputs[0]], dtype=np.int32)
    edgetpu.outputs = np.asarray([int(d.inputs[0]) for d in dequants], dtype=np.int32)
    edgetpu.customOptions = np.frombuffer(
        b"camera_app test placeholder: not an Edge TPU program", dtype=np.uint8
    )
    edgetpu.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
    sg.operators = [edgetpu, *dequants, pp]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# --------------------------------------------------------------------------------------------
# Reading tensor details straight from a flatbuffer (manifest at generation time)
# --------------------------------------------------------------------------------------------

_TFL_TYPES = {0: "float32", 2: "int32", 3: "uint8", 7: "int16", 9: "int8"}


def flatbuffer_io(data: bytes) -> dict[str, Any]:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    sg = model.subgraphs[0]

    def describe(idx: int) -> dict[str, Any]:
        t = sg.tensors[idx]
        q = t.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None else 0.0
        zp = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None else 0
        name = t.name.decode() if isinstance(t.name, bytes) else t.name
        return {
            "name": name,
            "dtype": _TFL_TYPES.get(int(t.type), f"tflite_type_{int(t.type)}"),
            "shape": [int(s) for s in t.shape],
            "quantization": {"scale": scale, "zero_point": zp},
        }

    codes = []
    for op in sg.operators:
        oc = model.operatorCodes[op.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if oc.customCode:
            c = oc.customCode
            codes.append(c.decode() if isinstance(c, bytes) else c)
        else:
            codes.append(_builtin_name(code))
    sigs = [
        (s.signatureKey.decode() if isinstance(s.signatureKey, bytes) else s.signatureKey)
        for s in (model.signatureDefs or [])
    ]
    return {
        "inputs": [describe(int(i)) for i in sg.inputs],
        "outputs": [describe(int(i)) for i in sg.outputs],
        "ops": codes,
        "signatures": sigs,
    }


def runtime_shapes(tf, data: bytes) -> dict[str, list[list[int]]] | None:
    """Input/output shapes after allocate_tensors (PostProcess outputs have no shape in the
    file), from TensorFlow's own TFLite interpreter; None if the model cannot be allocated."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            interp = tf.lite.Interpreter(model_content=data)
            interp.allocate_tensors()
        except (RuntimeError, ValueError):
            return None
    return {
        "inputs": [d["shape"].tolist() for d in interp.get_input_details()],
        "outputs": [d["shape"].tolist() for d in interp.get_output_details()],
    }


def _builtin_name(code: int) -> str:
    from tensorflow.lite.python import schema_py_generated as schema

    for key, value in vars(schema.BuiltinOperator).items():
        if value == code and not key.startswith("_"):
            return key
    return str(code)


# --------------------------------------------------------------------------------------------
# Model table: what each model is, and what a test should expect
# --------------------------------------------------------------------------------------------

RAW_ANCHORS = "anchors.txt"
NORMALIZED = "RGB pixels normalized to [-1, 1] as (pixel - 127.5) / 127.5"


def _quant_note(dtype: str) -> str:
    return (
        f"{NORMALIZED}, then quantized with the input tensor's scale and zero point: "
        f"q = clip(round(x / scale) + zero_point) as {dtype}"
    )


MODELS: dict[str, dict[str, Any]] = {
    "blobs_int8_postprocess": {
        "purpose": "int8 input tensor + in-graph TFLite_Detection_PostProcess, TF1 output order",
        "layout": "postprocess_tf1",
        "input_expects": _quant_note("int8"),
        "score_activation": "sigmoid applied in-graph before PostProcess; output scores are "
        "probabilities",
    },
    "blobs_uint8_postprocess": {
        "purpose": "uint8 input tensor + in-graph PostProcess, TF1 output order",
        "layout": "postprocess_tf1",
        "input_expects": _quant_note("uint8"),
        "score_activation": "sigmoid applied in-graph before PostProcess; output scores are "
        "probabilities",
    },
    "blobs_float_postprocess_tf2": {
        "purpose": "float32 input + PostProcess with TF2 Object Detection API output order and "
        "names (StatefulPartitionedCall:0..3 = count, scores, classes, boxes)",
        "layout": "postprocess_tf2",
        "input_expects": f"float32, {NORMALIZED}",
        "score_activation": "sigmoid applied in-graph before PostProcess; output scores are "
        "probabilities",
    },
    "blobs_float_raw": {
        "purpose": "float32 input, raw float outputs, class LOGITS (no sigmoid), no NMS",
        "layout": "raw",
        "input_expects": f"float32, {NORMALIZED}",
        "score_activation": "none: class_predictions are logits, apply sigmoid",
    },
    "blobs_int8_raw_sigmoid": {
        "purpose": "int8 input, int8 raw outputs with sigmoid in-graph (like the Arm model)",
        "layout": "raw",
        "input_expects": _quant_note("int8"),
        "score_activation": "sigmoid applied in-graph: dequantized class_predictions are "
        "probabilities",
    },
    "blobs_float_island": {
        "purpose": "int8 model with a float island (DEQUANTIZE -> ROUND -> QUANTIZE): ROUND has "
        "no int8 kernel and stays float; raw int8 outputs, sigmoid in-graph",
        "layout": "raw",
        "input_expects": _quant_note("int8"),
        "score_activation": "sigmoid applied in-graph: dequantized class_predictions are "
        "probabilities",
    },
    "blobs_int8_raw_float_out": {
        "purpose": "int8 input and body, raw outputs widened to float32 by trailing DEQUANTIZE "
        "ops (like the ST model), sigmoid in-graph: the loader reads the int8 scores",
        "layout": "raw",
        "input_expects": _quant_note("int8"),
        "score_activation": "sigmoid applied in-graph: class_predictions are probabilities",
    },
    "int16_input": {
        "purpose": "16x8 quantization (int16 activations, int8 weights) with an INT16 input "
        "tensor: for the unsupported-input-dtype error. Internally the same blob detector "
        "(raw layout, int16 outputs, sigmoid in-graph)",
        "layout": "raw",
        "input_expects": _quant_note("int16"),
        "score_activation": "sigmoid applied in-graph",
        "expect_error": "unsupported input dtype int16",
    },
    "two_inputs": {
        "purpose": "two float32 image inputs (image_a, image_b): for the 'more than one image "
        "input' error. The network runs the blob detector on (image_a + image_b) / 2",
        "layout": "raw",
        "input_expects": f"float32, {NORMALIZED}, both inputs",
        "score_activation": "sigmoid applied in-graph",
        "expect_error": "more than one image input",
    },
    "classifier": {
        "purpose": "one float32 image input, one [1, 10] softmax output: not an SSD layout",
        "layout": "classifier",
        "input_expects": f"float32, {NORMALIZED}",
        "score_activation": "softmax over 10 classes",
        "expect_error": "output layout not recognised as SSD",
    },
    "edgetpu_fake": {
        "purpose": "contains custom op 'edgetpu-custom-op' (as Edge TPU compiled models do) "
        "feeding TFLite_Detection_PostProcess; must be refused on CPU with a clear error",
        "layout": "postprocess_tf1",
        "input_expects": _quant_note("uint8"),
        "score_activation": "n/a: cannot run without the Edge TPU delegate",
        "expect_error": "Edge TPU model (edgetpu-custom-op) needs the Edge TPU delegate",
        "litert_2_3_0_behaviour": "Interpreter(model_path=...) constructs; allocate_tensors() "
        "raises RuntimeError('Encountered unresolved custom op: edgetpu-custom-op.\\nSee "
        "instructions: https://www.tensorflow.org/lite/guide/ops_custom Node number 0 "
        "(edgetpu-custom-op) failed to prepare.')",
        "note": "made by rewriting blobs_uint8_postprocess: ops = edgetpu-custom-op (input -> "
        "the two int8 tensors) -> DEQUANTIZE x2 -> TFLite_Detection_PostProcess; the removed "
        "ops' tensors and weight buffers are left in the file unused",
    },
}


def generate(verify_with: str | None) -> None:
    tf = _tf()
    print(f"TensorFlow {tf.__version__}")
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    built: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="camera_app_models_") as tmp:
        work = Path(tmp)
        built["blobs_int8_postprocess"] = _convert_frozen(tf, "postprocess", "int8", work)
        built["blobs_uint8_postprocess"] = _convert_frozen(tf, "postprocess", "uint8", work)
        built["blobs_float_postprocess_tf2"] = _convert_tf2_postprocess(tf, work)
        built["blobs_float_raw"] = _convert_frozen(tf, "raw_logits", None, work)
        built["blobs_int8_raw_sigmoid"] = _convert_frozen(tf, "raw_sigmoid", "int8", work)
        built["blobs_float_island"] = _convert_frozen(tf, "island", "int8", work)
        built["blobs_int8_raw_float_out"] = _convert_frozen(
            tf, "raw_sigmoid", "int8_float_out", work
        )
        built["int16_input"] = _convert_frozen(tf, "raw_sigmoid", "int16", work)
        built["two_inputs"] = _convert_frozen(tf, "two_inputs", None, work)
        built["classifier"] = _convert_frozen(tf, "classifier", None, work)
        built["edgetpu_fake"] = _make_edgetpu_fake(built["blobs_uint8_postprocess"])

    anchor_text = "\n".join(" ".join(f"{v:.8g}" for v in anchors()[:, k]) for k in range(4)) + "\n"
    manifest_models: dict[str, Any] = {}
    for name, data in built.items():
        folder = MODELS_DIR / name
        folder.mkdir(exist_ok=True)
        (folder / "model.tflite").write_bytes(data)
        spec = MODELS[name]
        labels = [f"class_{i}" for i in range(10)] if name == "classifier" else LABELS
        (folder / "labels.txt").write_text("\n".join(labels) + "\n")
        raw = spec["layout"] == "raw"
        if raw:
            (folder / RAW_ANCHORS).write_text(anchor_text)
        elif (folder / RAW_ANCHORS).exists():
            (folder / RAW_ANCHORS).unlink()
        io = flatbuffer_io(data)
        shapes = runtime_shapes(tf, data)
        for kind in ("inputs", "outputs"):
            for i, detail in enumerate(io[kind]):
                file_shape = detail["shape"]
                if shapes is not None:
                    detail["shape"] = shapes[kind][i]
                if detail["shape"] != file_shape:
                    detail["shape_in_file"] = file_shape
                if shapes is None and not file_shape:
                    detail["shape_note"] = "not in the file; set when the op is prepared"
        entry: dict[str, Any] = {
            "model": f"{name}/model.tflite",
            "labels": f"{name}/labels.txt",
            "anchors": f"{name}/{RAW_ANCHORS}" if raw else None,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            **spec,
            "inputs": io["inputs"],
            "outputs": io["outputs"],
            "ops": io["ops"],
            "signatures": io["signatures"],
        }
        entry["outputs_meaning"] = _output_meaning(name, io["outputs"])
        if spec["layout"] in ("postprocess_tf1", "postprocess_tf2"):
            entry["background_column"] = 0
            entry["background_note"] = (
                "column 0 of the scores fed to PostProcess inside the graph; the op skips it "
                "(num_classes = 3), so output class ids index labels.txt directly (0 = red)"
            )
            entry["postprocess"] = {**_pp_attrs(), "box_order": "ymin, xmin, ymax, xmax"}
        elif raw:
            entry["background_column"] = 0
            entry["class_column_to_label"] = "labels[column - 1]"
            entry["box_coder"] = {
                "encoding": "ty, tx, th, tw",
                "scales": {
                    "y": BOX_SCALES[0],
                    "x": BOX_SCALES[1],
                    "h": BOX_SCALES[2],
                    "w": BOX_SCALES[3],
                },
                "anchors_format": "anchors.txt: 4 lines (ycenter, xcenter, h, w), 16 values "
                "each, anchor index = row * 4 + col",
            }
        else:
            entry["background_column"] = None
        manifest_models[name] = entry

    manifest = {
        "generated_by": "tests/data/make_models.py",
        "tensorflow": tf.__version__,
        "description": "Colour blob detector: 64x64 RGB input, 4x4 grid of 16x16 cells, one "
        "anchor per cell (index = row*4 + col, box = the cell). A cell filled with saturated "
        "red/green/blue scores > 0.9 for that class; grey/black/white cells score < 0.1.",
        "labels": LABELS,
        "anchors": {
            "ycenter": anchors()[:, 0].tolist(),
            "xcenter": anchors()[:, 1].tolist(),
            "h": anchors()[:, 2].tolist(),
            "w": anchors()[:, 3].tolist(),
        },
        "weights": {
            "class_logit": f"background = {BACKGROUND_LOGIT}; class C = {GAIN} * (C - mean of the "
            f"other two channels) - {BIAS}, channels = cell means of the normalized input",
            "box_encoding": f"{BOX_WEIGHT} * (R + G + B) of the cell means, for ty, tx, th, tw",
        },
        "test_images": {
            name: {
                "build": f"64x64x3 uint8 filled with {GREY}; cells (row, col) painted: "
                + (", ".join(f"({r},{c})={list(rgb)}" for (r, c), rgb in cells.items()) or "none"),
                "cells": [{"row": r, "col": c, "rgb": list(rgb)} for (r, c), rgb in cells.items()],
                "expected_detections": expected_for(name),
            }
            for name, (cells, _) in TEST_IMAGES.items()
        },
        "expectation_rules": {
            "detectors": "on each test image exactly the expected detections with score > 0.8 "
            "and box within 0.01 of the cell box; every other anchor/class scores < 0.1 "
            "(raw layouts; after sigmoid for logits, after dequantization for int outputs)",
            "postprocess_count": "count output equals the number of expected detections; "
            "only the first `count` entries of boxes/classes/scores are meaningful: the op "
            "does not clear the rest (seen with LiteRT 2.3.0: stale values from the previous "
            "invoke, and uninitialised memory such as 2.8e29 on the first invoke)",
        },
        "models": manifest_models,
    }
    (MODELS_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(built)} models and manifest.json to {MODELS_DIR}")
    for name, data in built.items():
        print(f"  {name:30s} {len(data):7d} bytes  ops: {' '.join(flatbuffer_io(data)['ops'])}")
    if verify_with:
        print(f"verifying with {verify_with}")
        subprocess.run([verify_with, str(Path(__file__).resolve()), "--verify-only"], check=True)


def _output_meaning(name: str, outputs: list[dict[str, Any]]) -> list[str]:
    """What each output is, in output order (by name: TF1 and TF2 PostProcess names differ)."""
    tf1 = {
        PP_NAME: "boxes",
        f"{PP_NAME}:1": "classes",
        f"{PP_NAME}:2": "scores",
        f"{PP_NAME}:3": "count",
    }
    tf2 = {":0": "count", ":1": "scores", ":2": "classes", ":3": "boxes"}
    pp_role = {
        "boxes": "boxes [1,10,4] ymin,xmin,ymax,xmax normalized",
        "classes": "classes [1,10] (float class ids, 0 = red)",
        "scores": "scores [1,10]",
        "count": "count [1] (float)",
    }
    meaning = []
    for out in outputs:
        n = out["name"]
        if "box_encodings" in n:
            meaning.append("box_encodings [1,16,4] ty,tx,th,tw")
        elif "class_predictions" in n:
            meaning.append("class_predictions [1,16,4] columns background,red,green,blue")
        elif name == "classifier":
            meaning.append("softmax [1,10]")
        elif n in tf1:
            meaning.append(pp_role[tf1[n]])
        elif n.startswith("StatefulPartitionedCall") and n[-2:] in tf2:
            meaning.append(pp_role[tf2[n[-2:]]])
        else:
            meaning.append("unknown")
    return meaning


# --------------------------------------------------------------------------------------------
# Verification (LiteRT only, no TensorFlow)
# --------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _quantize_input(img: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    x = normalize(img)
    dtype = detail["dtype"]
    if dtype == np.float32:
        return x
    scale, zp = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def _dequant(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zp = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return value.astype(np.float32)
    return (value.astype(np.float32) - zp) * scale


def _decode(enc: np.ndarray, anc: np.ndarray) -> np.ndarray:
    ty, tx, th, tw = (enc[:, k] / s for k, s in enumerate(BOX_SCALES))
    yc = ty * anc[:, 2] + anc[:, 0]
    xc = tx * anc[:, 3] + anc[:, 1]
    h = np.exp(th) * anc[:, 2]
    w = np.exp(tw) * anc[:, 3]
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)


def _load_anchors(path: Path) -> np.ndarray:
    lines = path.read_text().split("\n")
    return np.stack([np.array(lines[k].split(), dtype=np.float32) for k in range(4)], axis=1)


def _detections(name: str, layout: str, outs: dict[str, np.ndarray], folder: Path):
    """-> (list of (label, score, box)), max score of anything that is not a detection."""
    if layout.startswith("postprocess"):
        boxes = classes = scores = count = None
        for key, v in outs.items():
            if v.shape == (1, MAX_DETECTIONS, 4):
                boxes = v[0]
            elif v.shape == (1,):
                count = int(v[0])
            elif layout == "postprocess_tf1":
                if key == f"{PP_NAME}:1":
                    classes = v[0]
                elif key == f"{PP_NAME}:2":
                    scores = v[0]
            elif key.endswith(":2"):
                classes = v[0]
            elif key.endswith(":1"):
                scores = v[0]
        assert boxes is not None
        assert classes is not None
        assert scores is not None
        assert count is not None
        dets = [(LABELS[int(classes[i])], float(scores[i]), boxes[i]) for i in range(count)]
        # Slots past `count` are not cleared by the op (stale values from the previous invoke,
        # uninitialised memory on the first one), so only the first `count` are meaningful.
        return dets, None
    enc = next(v for k, v in outs.items() if "box_encodings" in k)[0]
    cls = next(v for k, v in outs.items() if "class_predictions" in k)[0]
    if name == "blobs_float_raw":
        cls = _sigmoid(cls)
    boxes = _decode(enc, _load_anchors(folder / RAW_ANCHORS))
    dets = []
    rest = 0.0
    for a in range(NUM_ANCHORS):
        for c in range(1, 1 + NUM_CLASSES):
            if cls[a, c] > SCORE_THRESHOLD:
                dets.append((LABELS[c - 1], float(cls[a, c]), boxes[a]))
            else:
                rest = max(rest, float(cls[a, c]))
    dets.sort(key=lambda d: -d[1])
    return dets, rest


def verify() -> int:
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((MODELS_DIR / "manifest.json").read_text())
    failures = 0
    print(f"{'model':30s} {'image':34s} {'result':6s} detections (label score box) | max other")
    for name, entry in manifest["models"].items():
        folder = MODELS_DIR / name
        path = folder / "model.tflite"
        try:
            interp = Interpreter(model_path=str(path), num_threads=1)
            interp.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            ok = name == "edgetpu_fake" and EDGETPU_CODE in str(exc)
            failures += not ok
            print(f"{name:30s} {'(load)':34s} {'ok' if ok else 'FAIL':6s} refused: {msg}")
            continue
        if name == "edgetpu_fake":
            failures += 1
            print(f"{name:30s} {'(load)':34s} FAIL   loaded although it should be refused")
            continue
        ins, outs = interp.get_input_details(), interp.get_output_details()
        # The manifest must describe exactly what LiteRT reports.
        for kind, details in (("inputs", ins), ("outputs", outs)):
            for want, got in zip(entry[kind], details, strict=True):
                same = (
                    want["name"] == got["name"]
                    and want["dtype"] == np.dtype(got["dtype"]).name
                    and want["shape"] == got["shape"].tolist()
                    and np.isclose(want["quantization"]["scale"], got["quantization"][0])
                    and want["quantization"]["zero_point"] == got["quantization"][1]
                )
                if not same:
                    failures += 1
                    print(f"{name}: manifest {kind} {want} != LiteRT {got}")
        for name_img in manifest["test_images"]:
            img = test_image(name_img)
            for d in ins:
                interp.set_tensor(d["index"], _quantize_input(img, d))
            interp.invoke()
            values = {d["name"]: _dequant(interp.get_tensor(d["index"]), d) for d in outs}
            layout = entry["layout"]
            if layout == "classifier":
                probs = next(iter(values.values()))[0]
                ok = probs.shape == (10,) and abs(float(probs.sum()) - 1.0) < 0.02
                failures += not ok
                print(
                    f"{name:30s} {name_img:34s} {'ok' if ok else 'FAIL':6s} "
                    f"softmax[10] sum={probs.sum():.3f} argmax={int(probs.argmax())}"
                )
                continue
            dets, rest = _detections(name, layout, values, folder)
            want = expected_for(name_img)
            ok = len(dets) == len(want) and (rest is None or rest < 0.1)
            for w in want:
                match = [
                    d
                    for d in dets
                    if d[0] == w["label"] and d[1] > 0.8 and np.allclose(d[2], w["box"], atol=0.01)
                ]
                ok = ok and len(match) == 1
            failures += not ok
            shown = (
                "; ".join(
                    f"{lab} {s:.3f} [{', '.join(f'{v:.3f}' for v in box)}]" for lab, s, box in dets
                )
                or "none"
            )
            other = "n/a" if rest is None else f"{rest:.3f}"
            print(f"{name:30s} {name_img:34s} {'ok' if ok else 'FAIL':6s} {shown} | {other}")
    print("verification:", "all ok" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="only check the committed models with LiteRT (no TensorFlow)",
    )
    parser.add_argument(
        "--verify-with",
        metavar="PYTHON",
        help="after generating, run --verify-only with this interpreter "
        "(one that has ai-edge-litert)",
    )
    parser.add_argument(
        "--yolo",
        action="store_true",
        help="only (re)generate the YOLO-style models of yolo_blobs.py (their checks are tests)",
    )
    args = parser.parse_args()
    if args.verify_only:
        return verify()
    if args.yolo:
        sys.path.insert(0, str(HERE))
        import yolo_blobs

        yolo_blobs.write(MODELS_DIR, yolo_blobs.build(_tf()))
        return 0
    generate(args.verify_with)
    return 0


if __name__ == "__main__":
    sys.exit(main())
