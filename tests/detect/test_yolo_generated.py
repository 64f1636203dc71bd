"""The small generated YOLO-style models (tests/data/yolo_blobs.py): every family's path and
every refusal, with boxes computed by hand from the blob detector's definition."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from camera_app.detect.boxes import iou_xyxy
from camera_app.detect.detector import DetectorOptions, load_detector
from camera_app.errors import LabelsError, OutputLayoutError
from camera_app.inspect_model import format_report, inspect_model
from tests.data.yolo_blobs import with_metadata
from tests.shared import REPO, TEST_MODELS

RED, BLUE = (0, 0, 255), (255, 0, 0)  # BGR


def frame(scale: int = 1) -> np.ndarray:
    """Grey 64x64 (x scale) with a red stride-8 cell at (row 0, col 0), blue at (3, 5)."""
    img = np.full((64, 64, 3), 128, np.uint8)
    img[0:8, 0:8] = RED
    img[24:32, 40:48] = BLUE
    return np.repeat(np.repeat(img, scale, 0), scale, 1) if scale > 1 else img


def want(scale: int = 1) -> dict[str, np.ndarray]:
    return {
        "red": np.array([0, 0, 8, 8], np.float32) * scale,
        "blue": np.array([40, 24, 48, 32], np.float32) * scale,
    }


@pytest.mark.parametrize(
    ("name", "family", "units"),
    [
        ("yolov8_int8_64", "yolov8", "normalized"),
        ("yolov8_float_transposed", "yolov8", "normalized"),
        ("yolov8_float_pixels", "yolov8", "input pixels"),
        ("yolov8_fp16", "yolov8", "normalized"),
        ("yolov5_float", "yolov5", "normalized"),
        ("yolo_e2e_float", "yolo-end-to-end", "normalized"),
    ],
)
@pytest.mark.parametrize("scale", [1, 5])
def test_each_family_finds_the_blobs(name: str, family: str, units: str, scale: int) -> None:
    d = load_detector(str(TEST_MODELS / name), DetectorOptions(threshold=0.5))
    assert d.model.layout.family == family
    assert units in d.decoder.details()["box_format"]
    det = d.detect(frame(scale))
    assert sorted(det.labels) == ["blue", "red"]
    for box, label, score in zip(det.boxes_xyxy, det.labels, det.scores, strict=True):
        assert score > 0.9
        iou = iou_xyxy(box[None], want(scale)[label][None])[0, 0]
        assert iou >= 0.9, (label, box)  # int8 boxes: steps of 0.25 px on an 8 px cell


def test_transposed_head_is_told_by_its_anchor_axis() -> None:
    d = load_detector(str(TEST_MODELS / "yolov8_float_transposed"))
    assert d.model.graph.outputs[0].shape == (1, 84, 7)
    assert "transposed" in d.model.layout.describe()
    assert "84 anchors" in d.model.layout.describe()


def test_fp16_weights_run_through_dequantize_ops() -> None:
    d = load_detector(str(TEST_MODELS / "yolov8_fp16"))
    assert d.model.input.dtype == "float32"
    assert any(op.name == "DEQUANTIZE" for op in d.model.graph.ops)


def test_end_to_end_runs_no_second_nms() -> None:
    d = load_detector(str(TEST_MODELS / "yolo_e2e_float"), DetectorOptions(threshold=0.5))
    assert d.decoder.suppress is False
    assert "no" not in d.decoder.details()["nms"].split(":")[0]  # "done in the graph"
    det = d.detect(frame(), d.thresholds)
    assert len(det) == 2


def test_class_filter_on_every_family() -> None:
    for name in ("yolov8_int8_64", "yolov5_float", "yolo_e2e_float"):
        d = load_detector(str(TEST_MODELS / name), DetectorOptions(classes=("blue",)))
        assert d.detect(frame()).labels == ("blue",), name


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("yolov8_seg", ["segmentation export", "[1, 16, 16, 32]"]),
        ("yolov8_pose", ["pose export", "[1, 56, 84]"]),
        ("classifier", ["classifier", "'scores' float32[1, 10]"]),
    ],
)
def test_non_detection_exports_are_refused(name: str, words: list[str]) -> None:
    with pytest.raises(OutputLayoutError) as info:
        load_detector(str(TEST_MODELS / name))
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message


def _copy(tmp_path: Path, name: str, data: bytes | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    src = TEST_MODELS / name / "model.tflite"
    (folder / "model.tflite").write_bytes(data if data is not None else src.read_bytes())
    return folder


def test_labels_come_from_embedded_metadata_json() -> None:
    d = load_detector(str(TEST_MODELS / "yolov8_int8_64"))
    assert "metadata.json" in d.labels.source
    assert [d.labels.name(i) for i in range(3)] == ["red", "green", "blue"]


def test_a_labels_file_beside_the_model_wins(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "yolov8_int8_64")
    (folder / "labels.txt").write_text("rouge\nvert\nbleu\n")
    d = load_detector(str(folder))
    assert d.labels.source.endswith("labels.txt")
    assert sorted(d.detect(frame()).labels) == ["bleu", "rouge"]


def test_metadata_yaml_beside_and_temp_meta_literal(tmp_path: Path) -> None:
    plain = (TEST_MODELS / "yolov8_float_pixels" / "model.tflite").read_bytes()
    folder = _copy(tmp_path, "yolov8_float_pixels")
    (folder / "metadata.yaml").write_text("task: detect\nnames:\n  0: r\n  1: g\n  2: b\n")
    assert load_detector(str(folder)).labels.name(2) == "b"
    meta = {"task": "detect", "names": {0: "x", 1: "y", 2: "z"}}
    (tmp_path / "lit").mkdir()
    lit = _copy(
        tmp_path / "lit", "yolov8_float_pixels", with_metadata(plain, "temp_meta.txt", meta)
    )
    assert load_detector(str(lit)).labels.name(1) == "y"


@pytest.mark.parametrize(
    ("member", "text", "words"),
    [
        ("temp_meta.txt", "__import__('os').system('touch {marker}')", ["not a plain literal"]),
        ("temp_meta.txt", "{'names': {0: 'a', 1: 'b'}}", ["name 2 classes", "scores 3"]),
        ("metadata.json", "{not json", ["not a plain literal", "JSONDecodeError"]),
        ("metadata.json", '{"names": "abc"}', ["'names' is a str"]),
        ("metadata.json", '{"names": {"0": ["x"]}}', ["not a short string"]),
        ("temp_meta.txt", "[" * 5000 + "]" * 5000, ["not a plain literal"]),
    ],
)
def test_malformed_or_hostile_metadata_is_one_line(
    tmp_path: Path, member: str, text: str, words: list[str]
) -> None:
    import zipfile
    from io import BytesIO

    marker = tmp_path / "pwned"
    buf = BytesIO((TEST_MODELS / "yolov8_float_pixels" / "model.tflite").read_bytes())
    buf.seek(0, 2)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr(member, text.replace("{marker}", str(marker)))
    folder = _copy(tmp_path, "yolov8_float_pixels", buf.getvalue())
    with pytest.raises(LabelsError) as info:
        load_detector(str(folder))
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message
    assert not marker.exists()  # data, never code


def test_labels_that_do_not_fit_the_head(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "yolov5_float")
    (folder / "labels.txt").write_text("red\ngreen\n")
    with pytest.raises(LabelsError, match=r"name 2 classes .* scores 3"):
        load_detector(str(folder))


def test_a_model_without_labels_is_said_once_and_class_names_cannot_be_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy(tmp_path, "yolov5_float")  # the model alone, no labels.txt beside it
    with caplog.at_level("WARNING", logger="camera_app.detect.detector"):
        det = load_detector(str(folder))
    warned = [r.getMessage() for r in caplog.records if "no class names" in r.getMessage()]
    assert len(warned) == 1
    assert "set model.labels" in warned[0]
    labels = set(det.detect(frame()).labels)
    assert labels
    assert labels <= {"class_0", "class_1", "class_2"}
    with pytest.raises(LabelsError, match=r"\['red'\] cannot be matched: the model has no labels"):
        det.thresholds_for(classes=("red",))


def test_cli_refusal_is_one_line_exit_2(tmp_path: Path) -> None:
    img = tmp_path / "x.png"
    import cv2

    cv2.imwrite(str(img), frame())
    r = subprocess.run(
        [sys.executable, "-m", "camera_app", "detect", "--model",
         str(TEST_MODELS / "yolov8_pose"), str(img)],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "pose export" in r.stderr
    assert len([x for x in r.stderr.splitlines() if "camera-app: error" in x]) == 1


def test_inspect_names_family_box_format_and_every_familys_answer() -> None:
    report = inspect_model(str(TEST_MODELS / "yolov8_int8_64"))
    assert report["layout"]["family"] == "yolov8"
    answers = {f["family"]: f["verdict"] for f in report["families"]}
    assert answers["yolov8"] == "recognises"
    assert answers["yolov5"] == "no"
    assert answers["ssd-raw"] == "no"
    text = format_report(report)
    assert "box format" in text
    assert "yolov5: no" in text


def test_metadata_task_refuses_a_segmentation_export_without_protos(tmp_path: Path) -> None:
    plain = (TEST_MODELS / "yolov8_float_pixels" / "model.tflite").read_bytes()
    meta = {"task": "segment", "names": {0: "a", 1: "b", 2: "c"}}
    folder = _copy(tmp_path, "yolov8_float_pixels", with_metadata(plain, "metadata.json", meta))
    with pytest.raises(OutputLayoutError, match="segmentation export"):
        load_detector(str(folder))


def test_oversized_metadata_is_refused_unread(tmp_path: Path) -> None:
    import zipfile
    from io import BytesIO

    buf = BytesIO((TEST_MODELS / "yolov8_float_pixels" / "model.tflite").read_bytes())
    buf.seek(0, 2)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", " " * (2 << 20))  # 2 MB that deflate to a few KB
    folder = _copy(tmp_path, "yolov8_float_pixels", buf.getvalue())
    with pytest.raises(LabelsError, match="larger than 1048576 bytes"):
        load_detector(str(folder))


@pytest.mark.parametrize(
    ("name", "layout"),
    [("yolov8_int8_64", "yolov8"), ("yolo_e2e_float", "yolo-end-to-end"),
     ("blobs_int8_raw_sigmoid", "raw"), ("blobs_uint8_postprocess", "postprocess")],
)  # fmt: skip
def test_model_info_metric_names_the_family(name: str, layout: str) -> None:
    """camera_app_model_info{layout=...} (and the status page's model section) per family."""
    from types import SimpleNamespace

    from camera_app.wiring import _model_info

    d = load_detector(str(TEST_MODELS / name))
    assert _model_info(SimpleNamespace(detector=d, interpreters=1)).layout == layout


def test_cli_detect_with_a_yolo_model_prints_its_boxes(tmp_path: Path) -> None:
    import json

    import cv2

    img = tmp_path / "blobs.png"
    cv2.imwrite(str(img), frame(5))
    r = subprocess.run(
        [sys.executable, "-m", "camera_app", "detect", "--json", "--model",
         str(TEST_MODELS / "yolov8_int8_64"), str(img)],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    dets = json.loads(r.stdout.splitlines()[0])["detections"]
    assert sorted(d["label"] for d in dets) == ["blue", "red"]
    for d in dets:
        iou = iou_xyxy(np.array([d["box_xyxy"]], np.float32), want(5)[d["label"]][None])[0, 0]
        assert iou >= 0.9
