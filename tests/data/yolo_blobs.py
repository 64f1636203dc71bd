"""Small YOLO-style colour blob detectors (imported by make_models.py; needs TensorFlow).

The same idea as the SSD blob detector, shaped like Ultralytics exports:

* input RGB [1, 64, 64, 3], pixel/255 in [0, 1] (int8 models: quantized with the input
  tensor's own scale and zero point);
* anchors: one per cell of the stride 8, 16 and 32 grids (8x8 + 4x4 + 2x2 = 84), in that
  order, row-major; anchor box = its cell (cx, cy, w, h), plus 0.01 * (R + G + B) of the cell
  mean on cx only, so the converter cannot fold the boxes into a constant;
* class c of a stride-8 cell scores sigmoid(8 * (mean_c - mean of the other two) - 4): a
  saturated red cell gives red 0.982; grey, black and white give 0.018. Stride 16 and 32
  anchors score sigmoid(-8 + 0.01 * mean) for every class (never a detection);
* labels red, green, blue.

Models (tests/data/models/NAME/model.tflite):
  yolov8_int8_64         int8 in/out, [1, 7, 84] normalized boxes; labels only in an embedded
                         metadata.json (the newer Ultralytics export style), no labels.txt.
  yolov8_float_transposed      float32, the transposed head [1, 84, 7].
  yolov8_float_pixels    float32, [1, 7, 84] with boxes in input pixels.
  yolov8_fp16            float16 weights (DEQUANTIZE ops), float32 I/O, [1, 7, 84].
  yolov5_float           float32 [1, 252, 8]: 3 anchors per cell, objectness =
                         sigmoid(8 * (max - min of the cell's channels) - 4).
  yolo_e2e_float         float32 [1, 10, 6]: the 10 best stride-8 cells as x1, y1, x2, y2
                         (normalized), score, class id (NMS-free, like YOLOv10/YOLO26).
  yolov8_seg             refused: [1, 39, 84] head + mask prototypes [1, 16, 16, 32].
  yolov8_pose            refused: [1, 56, 84] (box 4 + score 1 + 17 x 3 keypoints).
"""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 64
STRIDES = (8, 16, 32)
LABELS = ["red", "green", "blue"]
C = len(LABELS)
GAIN, BIAS = 8.0, 4.0
E2E_K = 10


def cells() -> np.ndarray:
    """[84, 4] anchor boxes (cx, cy, w, h) in input pixels, stride 8 first."""
    rows = []
    for s in STRIDES:
        n = SIZE // s
        for i in range(n):
            for j in range(n):
                rows.append([(j + 0.5) * s, (i + 0.5) * s, s, s])
    return np.asarray(rows, np.float32)


def _class_kernel() -> tuple[np.ndarray, np.ndarray]:
    k = np.zeros((1, 1, 3, C), np.float32)
    for c in range(C):
        k[0, 0, :, c] = -GAIN / 2
        k[0, 0, c, c] = GAIN
    return k, np.full(C, -BIAS, np.float32)


def _head(tf, x, *, pixels: bool, classes: int = C, extra: int = 0):
    """[1, 84, 4 + classes + extra]: boxes, class scores (sigmoid), extra sigmoid columns."""
    k, b = _class_kernel()
    per_stride = []
    for s in STRIDES:
        pooled = tf.nn.avg_pool2d(x, s, s, "VALID")  # [1, n, n, 3] cell means in [0, 1]
        n = SIZE // s
        flat = tf.reshape(pooled, [1, n * n, 3])
        if s == STRIDES[0]:
            logits = tf.reshape(tf.nn.bias_add(tf.nn.conv2d(pooled, k, 1, "VALID"), b), [1, -1, C])
        else:
            logits = tf.tile(tf.reduce_mean(flat, axis=2, keepdims=True) * 0.01 - 8.0, [1, 1, C])
        if classes != C:  # pad or cut to the wanted class count (pose: 52 columns)
            pad = tf.tile(logits[:, :, :1] * 0.0 - 8.0, [1, 1, classes])
            logits = pad[:, :, :classes]
        if extra:
            logits = tf.concat([logits, tf.tile(logits[:, :, :1] * 0.0 - 2.0, [1, 1, extra])], 2)
        per_stride.append((flat, logits))
    flat = tf.concat([f for f, _ in per_stride], axis=1)  # [1, 84, 3]
    logits = tf.concat([lg for _, lg in per_stride], axis=1)
    base = cells() / (1.0 if pixels else SIZE)
    nudge = tf.reduce_sum(flat, axis=2, keepdims=True) * 0.01 * (SIZE if pixels else 1.0) / SIZE
    boxes = base[None] + tf.concat([nudge, nudge * 0.0, nudge * 0.0, nudge * 0.0], axis=2)
    return tf.concat([boxes, tf.sigmoid(logits)], axis=2), flat, logits


def _rep(tf):
    rng = np.random.default_rng(7)
    palette = np.asarray([[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255]])

    def gen():
        for _ in range(32):
            img = np.full((SIZE, SIZE, 3), 128, np.uint8)
            for i in range(8):
                for j in range(8):
                    if rng.random() < 0.3:
                        img[i * 8 : i * 8 + 8, j * 8 : j * 8 + 8] = palette[rng.integers(5)]
            yield [(img.astype(np.float32) / 255.0)[None]]

    return gen


def _convert(tf, fn, quant: str | None = None) -> bytes:
    spec = tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32, name="images")
    concrete = tf.function(fn).get_concrete_function(spec)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], tf.function(fn))
    if quant == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _rep(tf)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    elif quant == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


def with_metadata(data: bytes, member: str, meta: dict[str, Any]) -> bytes:
    """The .tflite with a zip archive appended, as Ultralytics embeds its metadata."""
    buf = BytesIO(data)
    buf.seek(0, 2)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        text = json.dumps(meta) if member.endswith(".json") else repr(meta)
        zf.writestr(member, text)
    return buf.getvalue()


def build(tf) -> dict[str, bytes]:
    def v8(x, pixels: bool = False, transpose: bool = True):
        head, _, _ = _head(tf, x, pixels=pixels)
        return tf.transpose(head, [0, 2, 1]) if transpose else head

    def v5(x):
        head, flat, _ = _head(tf, x, pixels=False)
        spread = tf.reduce_max(flat, axis=2, keepdims=True) - tf.reduce_min(
            flat, axis=2, keepdims=True
        )
        obj = tf.sigmoid(spread * GAIN - BIAS)
        rows = tf.concat([head[:, :, :4], obj, head[:, :, 4:]], axis=2)  # [1, 84, 8]
        return tf.reshape(tf.tile(rows[:, :, None, :], [1, 1, 3, 1]), [1, 3 * 84, 5 + C])

    def e2e(x):
        head, _, _ = _head(tf, x, pixels=False)
        first = head[:, :64]  # stride-8 cells
        scores = first[:, :, 4:]
        best = tf.reduce_max(scores, axis=2)
        cls = tf.cast(tf.argmax(scores, axis=2), tf.float32)
        top = tf.math.top_k(best, E2E_K).indices
        b = tf.gather(first[:, :, :4], top, batch_dims=1)
        cx, cy, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        xyxy = tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=2)
        s = tf.gather(best, top, batch_dims=1)[..., None]
        c = tf.gather(cls, top, batch_dims=1)[..., None]
        return tf.concat([xyxy, s, c], axis=2)

    def seg(x):
        head, _, _ = _head(tf, x, pixels=False, extra=32)
        protos = tf.tile(tf.nn.avg_pool2d(x, 4, 4, "VALID")[..., :1], [1, 1, 1, 32])
        return tf.transpose(head, [0, 2, 1]), protos

    def pose(x):
        head, _, _ = _head(tf, x, pixels=False, classes=1, extra=51)
        return tf.transpose(head, [0, 2, 1])

    meta = {"task": "detect", "imgsz": [SIZE, SIZE], "names": dict(enumerate(LABELS))}
    return {
        "yolov8_int8_64": with_metadata(_convert(tf, v8, "int8"), "metadata.json", meta),
        "yolov8_float_transposed": _convert(tf, lambda x: v8(x, transpose=False)),
        "yolov8_float_pixels": _convert(tf, lambda x: v8(x, pixels=True)),
        "yolov8_fp16": _convert(tf, v8, "fp16"),
        "yolov5_float": _convert(tf, v5),
        "yolo_e2e_float": _convert(tf, e2e),
        "yolov8_seg": _convert(tf, seg),
        "yolov8_pose": _convert(tf, pose),
    }


def write(models_dir: Path, built: dict[str, bytes]) -> None:
    for name, data in built.items():
        folder = models_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tflite").write_bytes(data)
        if name != "yolov8_int8_64":  # that one names its classes in its own metadata
            (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
        print(f"  {name:24s} {len(data):7d} bytes")
