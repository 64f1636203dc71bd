"""Every input dtype and output layout, on the colour-blob models made by tests/data/make_models.py.

Each model scores a 4x4 grid of cells: a cell filled with saturated red, green or blue is a
detection of that class with the cell as its box. The frames here are BGR, as from a camera.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_app.detect.boxes import iou_xyxy
from camera_app.detect.detector import DetectorOptions, load_detector
from camera_app.detect.ssd_postprocess import PostProcessLayout
from camera_app.detect.ssd_raw import RawDecoder, RawLayout
from camera_app.errors import (
    EdgeTPUModelError,
    LabelsError,
    ModelError,
    ModelNotFoundError,
    OutputLayoutError,
    UnsupportedInputError,
)
from camera_app.inspect_model import format_report, inspect_model
from camera_app.modes import ColourOrder
from tests.shared import TEST_MODELS

DETECTORS = [
    ("blobs_uint8_postprocess", "uint8", PostProcessLayout),
    ("blobs_int8_postprocess", "int8", PostProcessLayout),
    ("blobs_float_postprocess_tf2", "float32", PostProcessLayout),
    ("blobs_float_raw", "float32", RawLayout),
    ("blobs_int8_raw_sigmoid", "int8", RawLayout),
    ("blobs_float_island", "int8", RawLayout),
    ("blobs_int8_raw_float_out", "int8", RawLayout),
]
CELL = 64  # frames are 256x256: each model cell is 64x64 pixels


def blob_frame(cells: dict[tuple[int, int], tuple[int, int, int]]) -> np.ndarray:
    """A grey 256x256 BGR frame with coloured cells at (row, col)."""
    frame = np.full((4 * CELL, 4 * CELL, 3), 128, np.uint8)
    for (r, c), bgr in cells.items():
        frame[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = bgr
    return frame


RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def cell_box(r: int, c: int) -> list[float]:
    return [c * CELL, r * CELL, (c + 1) * CELL, (r + 1) * CELL]


@pytest.mark.parametrize(("name", "dtype", "layout"), DETECTORS)
def test_detects_coloured_cells(name: str, dtype: str, layout: type) -> None:
    d = load_detector(str(TEST_MODELS / name), DetectorOptions(threshold=0.5))
    assert d.model.input.dtype == dtype
    assert isinstance(d.model.layout, layout)
    det = d.detect(blob_frame({(0, 0): RED, (2, 3): BLUE}))
    assert sorted(det.labels) == ["blue", "red"]
    for label, (r, c) in (("red", (0, 0)), ("blue", (2, 3))):
        i = det.labels.index(label)
        assert det.scores[i] > 0.9
        iou = iou_xyxy(np.array([cell_box(r, c)], np.float32), det.boxes_xyxy[i : i + 1])
        assert iou[0, 0] >= 0.95


@pytest.mark.parametrize(("name", "dtype", "layout"), DETECTORS)
def test_grey_frame_has_no_detections(name: str, dtype: str, layout: type) -> None:
    d = load_detector(str(TEST_MODELS / name), DetectorOptions(threshold=0.5))
    assert len(d.detect(blob_frame({}))) == 0


def test_colour_order_matters() -> None:
    """A model fed BGR when it expects RGB sees red as blue: the option must reach the input."""
    path = str(TEST_MODELS / "blobs_int8_raw_sigmoid")
    frame = blob_frame({(1, 1): RED})
    rgb = load_detector(path, DetectorOptions(colour_order=ColourOrder.RGB)).detect(frame)
    bgr = load_detector(path, DetectorOptions(colour_order=ColourOrder.BGR)).detect(frame)
    assert rgb.labels == ("red",)
    assert bgr.labels == ("blue",)


def test_class_allow_list() -> None:
    d = load_detector(str(TEST_MODELS / "blobs_float_raw"), DetectorOptions(classes=("blue",)))
    det = d.detect(blob_frame({(0, 0): RED, (3, 3): BLUE, (1, 2): GREEN}))
    assert det.labels == ("blue",)


def test_tf2_order_is_mapped_by_the_op_not_by_position() -> None:
    d = load_detector(str(TEST_MODELS / "blobs_float_postprocess_tf2"), DetectorOptions())
    layout = d.model.layout
    assert isinstance(layout, PostProcessLayout)
    # The converter put the outputs in the order scores, boxes, count, classes.
    names = [t.name for t in d.model.graph.outputs]
    assert names.index(layout.boxes.name) != 0
    assert layout.boxes.shape[-1] == 4
    assert layout.count.shape == (1,)


def test_raw_float_logits_get_a_sigmoid() -> None:
    d = load_detector(str(TEST_MODELS / "blobs_float_raw"), DetectorOptions())
    assert isinstance(d.decoder, RawDecoder)
    assert d.decoder.fmt.activation.value == "sigmoid"
    assert "anchors.txt" in d.decoder.anchors_source


def test_float_island_is_reported() -> None:
    report = inspect_model(str(TEST_MODELS / "blobs_float_island"))
    assert report["verdict"]["runs"] is True
    assert len(report["float_islands"]) == 1
    assert "ROUND" in report["float_islands"][0]
    assert "DEQUANTIZE" in report["float_islands"][0]


def test_clean_quantized_model_has_no_float_island() -> None:
    report = inspect_model(str(TEST_MODELS / "blobs_int8_raw_sigmoid"))
    assert report["float_islands"] == []


@pytest.mark.parametrize(
    ("name", "per_byte"),
    [
        # uint8 with scale 2/255, zero point 127: (x - 127.5) / 127.5 -> byte x again, the
        # table is the identity, so there is nothing to compute (the colour swap alone).
        ("blobs_uint8_postprocess", "copy"),
        # int8 with scale 2/255, zero point -1 puts half the bytes a float32 rounding error from
        # a .5 tie (0.49999964 in the float formula): cv2.transform's arithmetic lands on the
        # other side for 128 of 256 bytes, so the load-time check refuses it, and no line
        # rounds to such a table (the fitted line's margin is 0), so it has the table.
        ("blobs_int8_raw_sigmoid", "table"),
        ("blobs_float_raw", "table"),
    ],
)
def test_inspect_says_how_inputs_are_made(name: str, per_byte: str) -> None:
    report = inspect_model(str(TEST_MODELS / name))
    assert report["input_quantization"]["per_byte"] == per_byte
    text = format_report(report)
    line = next(x for x in text.splitlines() if x.startswith("preprocess "))
    assert "(x - 127.5) / 127.5" in line
    assert ("cv2.transform" in line) == (per_byte == "cv2.transform")
    assert ("identity" in line) == (per_byte == "copy")
    assert ("fitted" in line) == (per_byte == "cv2.convertScaleAbs")


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        (
            "int16_input",
            UnsupportedInputError,
            ["int16", "uint8, int8 or float32", "normalized_input_image_tensor"],
        ),
        ("two_inputs", UnsupportedInputError, ["2 inputs", "image_a", "image_b"]),
        ("classifier", OutputLayoutError, ["cannot recognise", "'scores' float32[1, 10]"]),
        ("edgetpu_fake", EdgeTPUModelError, ["edgetpu-custom-op", "Edge TPU delegate"]),
    ],
)
def test_incompatible_models_say_what_and_why(name: str, error: type, words: list[str]) -> None:
    with pytest.raises(error) as info:
        load_detector(str(TEST_MODELS / name))
    message = str(info.value)
    assert "\n" not in message
    assert "model.tflite" in message
    for w in words:
        assert w in message


def test_not_a_flatbuffer(tmp_path: Path) -> None:
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ModelError, match=r"not a TFLite flatbuffer.*TFL3"):
        load_detector(str(bogus))


def test_missing_model_names_the_search_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model of that name is in"):
        load_detector("no_such_model_anywhere")


def test_labels_that_do_not_fit(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("red\ngreen\n")  # the model scores three classes
    with pytest.raises(LabelsError, match=r"name 2 classes.*scores 3"):
        load_detector(str(TEST_MODELS / "blobs_float_raw"), DetectorOptions(labels=labels))


def test_folder_with_two_models(tmp_path: Path) -> None:
    for n in ("a.tflite", "b.tflite"):
        (tmp_path / n).write_bytes((TEST_MODELS / "blobs_float_raw" / "model.tflite").read_bytes())
    with pytest.raises(ModelError, match=r"holds 2 \.tflite files"):
        load_detector(str(tmp_path))


def test_model_found_by_name_in_the_search_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMERA_APP_MODEL_PATH", f"/nonexistent:{TEST_MODELS}")
    d = load_detector("blobs_float_raw")
    assert d.model.path == TEST_MODELS / "blobs_float_raw" / "model.tflite"
