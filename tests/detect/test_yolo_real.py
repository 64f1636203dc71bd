"""The shared YOLO exports on real photos, against a reference written here (pycoral's way).

The reference does everything directly, independent of the product's code: its own letterbox
(grey 114, cv2), RGB pixel/255, quantized with the input tensor's scale and zero point, a fresh
interpreter of the same runtime, a plain per-anchor decode, per-class NMS at IoU 0.5, boxes
mapped back to the photo. The product must find every reference detection above 0.5 (same
label, IoU >= 0.8, score within 0.03; below that, small overlapping kites sit at the NMS IoU
boundary, where float32 and float64 boxes may suppress differently) and the objects the
photos are known to hold, above score floors.
"""

from __future__ import annotations

import os
import platform

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from camera_app.detect.detector import Detector, DetectorOptions, load_detector
from tests.shared import MODELS, need_shared, read_image

V8_INT8 = "ultralytics_yolov8n_coco_640_int8"
V8_FLOAT = "ultralytics_yolov8n_coco_640_float_io"
V5_UINT8 = "yolov5n_coco_640_uint8"

_LITERT = os.environ.get("CAMERA_APP_RUNTIME", "litert") == "litert"
_X86 = platform.machine().lower() in ("x86_64", "amd64")

# (model, photo) -> {label: score floors, best first}; from ../shared/models/README.md and runs
# of the reference below (letterboxed, as the exports were trained).
FLOORS: dict[tuple[str, str], dict[str, list[float]]] = {}
for _m in (V8_INT8, V8_FLOAT):
    FLOORS.update({
        (_m, "grace_hopper.bmp"): {"person": [0.85], "tie": [0.5]},
        (_m, "cat.bmp"): {"cat": [0.85]},
        (_m, "kite_and_cold.jpg"): {"kite": [0.75, 0.6], "person": [0.75, 0.7, 0.45]},
        (_m, "pets.jpg"): {"dog": [0.85, 0.85]},
        # x86-64 0.446; arm64 0.251, under the 0.3 threshold: its input resized one apart
        # in a fifth of the bytes (test_real_models.CASES), the same bytes score 0.446 there.
        (_m, "astronaut"): {"person": [0.4]} if _X86 else {},
        # LiteRT scores this cat 0.55; tflite-runtime 2.14's int8 kernels 0.29, under the 0.3
        # threshold (its reference agrees): only the comparison with the reference holds there.
        (_m, "chelsea"): {"cat": [0.5]} if _LITERT else {},
        (_m, "coffee"): {"cup": [0.5]},
        (_m, "motorcycle_left"): {"motorcycle": [0.7]},
    })  # fmt: skip
FLOORS.update({
    (V5_UINT8, "grace_hopper.bmp"): {"person": [0.5], "tie": [0.5]},
    (V5_UINT8, "cat.bmp"): {"cat": [0.45]},
    (V5_UINT8, "kite_and_cold.jpg"): {"kite": [0.75, 0.7], "person": [0.7, 0.65, 0.45]},
    (V5_UINT8, "pets.jpg"): {"dog": [0.85, 0.6]},
    (V5_UINT8, "astronaut"): {},  # a weak model: nothing above 0.3 (the reference agrees)
    (V5_UINT8, "chelsea"): {"cat": [0.3]},
    (V5_UINT8, "motorcycle_left"): {"motorcycle": [0.5]},
})  # fmt: skip


def photo(name: str) -> npt.NDArray[np.uint8]:
    if "." in name:
        return read_image(name)
    data = pytest.importorskip("skimage.data")

    value = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    rgb = np.asarray(value, np.uint8)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=2)
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def reference(model: str, bgr: npt.NDArray[np.uint8], names: list[str], score: float = 0.3):
    """[(label, score, [x1, y1, x2, y2] photo pixels)], best first, the direct way."""
    from camera_app.runtime import load_runtime

    # The runtime the product uses (CAMERA_APP_RUNTIME picks tflite-runtime in its round of
    # scripts/test): their int8 kernels round differently, and this compares decoders.
    path = next((MODELS / model).glob("*.tflite"))
    it = load_runtime().module.Interpreter(model_path=str(path), num_threads=2)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    size_h, size_w = int(inp["shape"][1]), int(inp["shape"][2])
    h, w = bgr.shape[:2]
    r = min(size_w / w, size_h / h)
    nw, nh = round(w * r), round(h * r)
    x0, y0 = (size_w - nw) // 2, (size_h - nh) // 2
    canvas = np.full((size_h, size_w, 3), 114, np.uint8)
    canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    scale, zp = inp["quantization"]
    if inp["dtype"] != np.float32:
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale) + zp, info.min, info.max)
    it.set_tensor(inp["index"], x.astype(inp["dtype"])[None])
    it.invoke()
    y = it.get_tensor(out["index"])[0].astype(np.float32)
    oscale, ozp = out["quantization"]
    if out["dtype"] != np.float32:
        y = (y - ozp) * oscale
    if y.shape[0] < y.shape[1]:  # YOLOv8 [84, 8400] -> rows per anchor
        y = y.T
    v5 = y.shape[1] == 5 + len(names)
    found = []
    for row in y:
        conf = row[5:] * row[4] if v5 else row[4:]
        c = int(np.argmax(conf))
        if conf[c] < score:
            continue
        cx, cy, bw, bh = row[:4] * np.array([size_w, size_h, size_w, size_h])
        box = np.array([cx - bw / 2 - x0, cy - bh / 2 - y0, cx + bw / 2 - x0, cy + bh / 2 - y0]) / r
        box = np.clip(box, 0, [w, h, w, h])
        found.append((c, float(conf[c]), box))
    found.sort(key=lambda d: -d[1])
    kept: list[tuple[int, float, np.ndarray]] = []
    for d in found:
        if all(k[0] != d[0] or _iou(k[2], d[2]) <= 0.5 for k in kept):
            kept.append(d)
    return [(names[c], s, b) for c, s, b in kept]


_detectors: dict[str, Detector] = {}


def detector(model: str) -> Detector:
    if model not in _detectors:
        need_shared()
        opts = DetectorOptions(threshold=0.3, max_detections=100)
        _detectors[model] = load_detector(str(MODELS / model), opts)
    return _detectors[model]


@pytest.mark.parametrize(("model", "name"), sorted(FLOORS))
def test_yolo_finds_what_the_reference_finds(model: str, name: str) -> None:
    det = detector(model)
    names = [det.labels.name(i) for i in range(det.labels.count)]
    assert len(names) == 80
    bgr = photo(name)
    ours = det.detect(bgr)
    ref = reference(model, bgr, names)
    for label, score, box in ref:
        if score < 0.5:
            continue
        match = [
            (float(s), _iou(np.asarray(b), box))
            for b, s, lb in zip(ours.boxes_xyxy, ours.scores, ours.labels, strict=True)
            if lb == label and abs(float(s) - score) <= 0.03
        ]
        best = max((iou for _, iou in match), default=0.0)
        assert best >= 0.8, f"{name}: reference {label} {score:.2f} {box.round()} not found"
    for label, floors in FLOORS[(model, name)].items():
        mine = sorted((float(s) for s, lb in zip(ours.scores, ours.labels, strict=True)
                       if lb == label), reverse=True)  # fmt: skip
        assert len(mine) >= len(floors), f"{name}: {label} {mine} (want {floors})"
        for got, floor in zip(mine, floors, strict=False):
            assert got >= floor, f"{name}: {label} {mine} (want {floors})"


def test_labels_come_from_each_export() -> None:
    assert "temp_meta.txt" in detector(V8_INT8).labels.source
    assert detector(V5_UINT8).labels.source.endswith("coco80_labels.txt")
    assert detector(V8_INT8).labels.name(0) == "person"
    assert detector(V5_UINT8).labels.name(79) == "toothbrush"


def test_yolo_defaults_to_letterbox_and_unit_pixels() -> None:
    d = detector(V8_INT8)
    assert d.resize.value == "letterbox"
    assert (d.input_quant.mean, d.input_quant.std) == (0.0, 255.0)
    assert d.preprocessor.pad == 114


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_boxes_map_back_to_the_frame_either_way(resize: str) -> None:
    """The same dog in a photo and in the photo padded on the right: the same box."""
    need_shared()
    from camera_app.modes import ResizeMode

    d = load_detector(
        str(MODELS / V8_FLOAT), DetectorOptions(threshold=0.5, resize=ResizeMode(resize))
    )
    bgr = read_image("pets.jpg")
    a = d.detect(bgr)
    if resize == "stretch":
        return_box = a.boxes_xyxy[0]
        assert 0 <= return_box[0] < return_box[2] <= bgr.shape[1]
        assert 0 <= return_box[1] < return_box[3] <= bgr.shape[0]
        return
    h, w = bgr.shape[:2]
    wide = np.full((h, w * 2, 3), 114, np.uint8)
    wide[:, :w] = bgr
    b = d.detect(wide)
    dogs_a = [bx for bx, lb in zip(a.boxes_xyxy, a.labels, strict=True) if lb == "dog"]
    dogs_b = [bx for bx, lb in zip(b.boxes_xyxy, b.labels, strict=True) if lb == "dog"]
    assert dogs_a
    assert dogs_b
    assert max(_iou(dogs_a[0], x) for x in dogs_b) >= 0.8


def test_float_io_head_is_read_from_its_int8_source_with_the_same_detections() -> None:
    """The float-I/O export ends in DEQUANTIZE: the loader reads the int8 head before it."""
    need_shared()
    from camera_app.detect.model import load_model
    from camera_app.runtime import load_runtime

    fast = detector(V8_FLOAT)
    assert fast.model.extra_outputs
    assert fast.decoder.reads == {fast.model.extra_outputs[0].index}
    plain_model = load_model(str(MODELS / V8_FLOAT), runtime=load_runtime(), quantized_scores=False)
    plain = Detector(plain_model, fast.opts)
    assert plain.decoder.reads == {plain_model.graph.outputs[0].index}
    for name in ("kite_and_cold.jpg", "pets.jpg"):
        a, b = fast.detect(photo(name)), plain.detect(photo(name))
        assert a.labels == b.labels
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy, atol=1e-3)


def test_inspect_says_the_v8_int8_input_wastes_its_levels() -> None:
    need_shared()
    from camera_app.inspect_model import format_report, inspect_model

    r = inspect_model(str(MODELS / V8_INT8))
    assert r["layout"]["family"] == "yolov8"
    assert r["input_levels"]["used"] == 55  # pixel/255 quantized by scale 0.018658, zp -14
    assert r["input_levels"]["ok"] is False
    assert "re-export with a proper calibration set" in r["input_levels"]["detail"]
    assert r["output_quantization"]["ok"] is True
    text = format_report(r)
    assert "[FLAG] input levels" in text
    assert "55 of 256 levels, about 5.8 of 8 bits" in text
    v5 = inspect_model(str(MODELS / V5_UINT8))
    assert v5["input_levels"]["used"] == 256  # scale 1/255, zero point 0: every level
    assert v5["input_levels"]["ok"] is True
