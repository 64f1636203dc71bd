"""The real `camera-app` command, run as a subprocess, as users and scripts run it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.shared import IMAGES, MODELS, TEST_MODELS, need_shared


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "CAMERA_APP_MODEL_PATH": f"{MODELS}:{TEST_MODELS}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "camera_app", *args],
        capture_output=True, text=True, timeout=120, env=full_env, check=False,
    )  # fmt: skip


@pytest.mark.realmodel
def test_detect_json_one_line_per_image(tmp_path: Path) -> None:
    need_shared()
    out = tmp_path / "annotated"
    r = run(
        "detect", "--model", "ssd_mobilenet_v1_coco_quant", "--json", "--output", str(out),
        str(IMAGES / "pets.jpg"), str(IMAGES / "cat.bmp"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(x["image"]).name for x in lines] == ["pets.jpg", "cat.bmp"]
    dogs = lines[0]["detections"]
    assert [d["label"] for d in dogs] == ["dog", "dog"]
    assert set(dogs[0]) == {"label", "class_id", "score", "box_xyxy"}
    assert dogs[0]["class_id"] == 17
    x1, y1, x2, y2 = dogs[0]["box_xyxy"]
    assert 0 <= x1 < x2 <= 500
    assert 0 <= y1 < y2 <= 375
    annotated = cv2.imread(str(out / "pets.jpg"))
    original = cv2.imread(str(IMAGES / "pets.jpg"))
    assert annotated.shape == original.shape
    assert (annotated != original).any()


def test_detect_default_text_output_on_a_generated_model(tmp_path: Path) -> None:
    frame = tmp_path / "blobs.png"
    img = cv2.imread(str(IMAGES / "cat.bmp")) if IMAGES.is_dir() else None
    canvas = (img[:256, :256] * 0 + 128) if img is not None else None
    import numpy as np

    canvas = np.full((256, 256, 3), 128, np.uint8) if canvas is None else canvas
    canvas[:64, :64] = (0, 0, 255)
    cv2.imwrite(str(frame), canvas)
    r = run("detect", "--model", "blobs_int8_postprocess", str(frame))
    assert r.returncode == 0, r.stderr
    assert "1 detection\n" in r.stdout
    assert "red" in r.stdout


def _blobs(path: Path) -> Path:
    import numpy as np

    canvas = np.full((256, 256, 3), 128, np.uint8)
    canvas[:64, :64] = (0, 0, 255)
    cv2.imwrite(str(path), canvas)
    return path


def test_detect_a_bad_image_among_good_ones_is_said_and_the_rest_go_on(tmp_path: Path) -> None:
    good, also = _blobs(tmp_path / "a.png"), _blobs(tmp_path / "c.png")
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"")
    r = run("detect", "--model", "blobs_int8_postprocess", "--json", str(good), str(bad),
            str(also))  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(x["image"]).name for x in lines] == ["a.png", "b.jpg", "c.png"]
    assert "detections" in lines[2]
    assert str(bad) in lines[1]["error"]
    text = run("detect", "--model", "blobs_int8_postprocess", str(good), str(bad), str(also))
    assert text.returncode == 2
    assert text.stdout.count(": 1 detection\n") == 2
    errors = [ln for ln in text.stderr.splitlines() if ln.startswith("camera-app: error:")]
    assert len(errors) == 1, text.stderr
    assert errors[0].startswith(f"camera-app: error: {bad}: ")


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("out.xyz", ["out.xyz", "OpenCV cannot write this image format"]),
        ("nowhere/out.jpg", ["nowhere", "does not exist"]),
    ],
)
def test_detect_output_is_checked_before_any_work(
    tmp_path: Path, output: str, words: list[str]
) -> None:
    # An unknown extension used to crash with OpenCV's traceback after the detection.
    image = _blobs(tmp_path / "a.png")
    r = run("detect", "--model", "blobs_int8_postprocess", "-o", str(tmp_path / output),
            str(image))  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""  # nothing detected before the refusal
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("camera-app: error:")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in errors[0]


def test_detect_writes_no_output_folder_when_no_image_could_be_read(tmp_path: Path) -> None:
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"not an image")
    r = run("detect", "--model", "blobs_int8_postprocess", "-o", str(tmp_path / "out"),
            str(bad), str(bad))  # fmt: skip
    assert r.returncode == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["detect", "--model", "blobs_float_raw", "/nonexistent/x.jpg"],
            ["/nonexistent/x.jpg", "cannot read the image"],
        ),
        (["detect", "--model", "/etc/hostname", "x.jpg"], ["not a TFLite flatbuffer"]),
        (
            ["detect", "--model", "no_such_model", "x.jpg"],
            ["no_such_model", "not found", "models pull"],
        ),
        (["detect", "--model", "int16_input", "x.jpg"], ["int16", "uint8, int8 or float32"]),
        (["detect", "--model", "two_inputs", "x.jpg"], ["2 inputs"]),
        (["detect", "--model", "classifier", "x.jpg"], ["cannot recognise the outputs"]),
        (["detect", "--model", "edgetpu_fake", "x.jpg"], ["Edge TPU"]),
        (["detect", "--model", "blobs_float_raw", "--classes", "purple", "x.jpg"], ["'purple'"]),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], words: list[str]) -> None:
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("camera-app: error:")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in errors[0]


def test_inspect_json_and_verdicts() -> None:
    ok = run("inspect", "--json", "blobs_float_island")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["verdict"]["runs"] is True
    assert report["inputs"][0]["dtype"] == "int8"
    assert report["layout"]["kind"] == "raw"
    assert report["float_islands"]
    bad = run("inspect", "int16_input")
    assert bad.returncode == 2
    assert "DOES NOT RUN" in bad.stdout
    assert "int16" in bad.stdout


@pytest.mark.realmodel
def test_inspect_flags_the_capped_int8_model() -> None:
    need_shared()
    r = run("inspect", "arm_ssdlite_mobilenet_v3_small_int8_raw")
    assert r.returncode == 0, r.stderr
    assert "[FLAG] score range: scores cannot exceed 0.646" in r.stdout
    assert "LOGISTIC" in r.stdout


@pytest.mark.realmodel
def test_inspect_says_where_the_st_models_scores_are_read() -> None:
    need_shared()
    r = run("inspect", "--json", "st_ssd_mobilenet_v2_fpnlite_256_coco80")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    read_from = report["layout"]["scores_read_from"]
    assert read_from == (
        "int8 tensor before the DEQUANTIZE StatefulPartitionedCall:21 (#466), "
        "threshold in the quantized domain"
    )
    # The report still describes the file: three float outputs, the int8 one is the loader's.
    assert [o["dtype"] for o in report["outputs"]] == ["float32"] * 3
    arm = json.loads(run("inspect", "--json", "arm_ssdlite_mobilenet_v3_small_int8_raw").stdout)
    # Already an int8 output: nothing to add, read as it is.
    assert arm["layout"]["scores_read_from"].startswith("int8 output raw_outputs/class_predictions")
    plain = json.loads(run("inspect", "--json", "blobs_float_raw").stdout)
    assert plain["layout"]["scores_read_from"].endswith("float threshold")


def test_models_list_and_path() -> None:
    r = run("models", "list")
    assert r.returncode == 0
    assert "ssd_mobilenet_v1_coco_quant" in r.stdout
    p = run("models", "path")
    assert str(TEST_MODELS) in p.stdout


def test_bench_runs_every_comparison_and_the_bytes_are_identical() -> None:
    """Not a timing test: the command runs, each path gives the usual path's bytes, and
    each model gets its share line."""
    r = run("bench", "--repeat", "3", "--model", "blobs_int8_raw_float_out",
            "--model", "yolov8_int8_64")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count("identical bytes: True") == 3, out
    assert "identical bytes: False" not in out
    targets = re.findall(r"ours / bare cv2.resize = [\d.]+ \(target <= 1.3: (?:MET|MISSED)\)", out)
    assert len(targets) == 3, out  # issue 18's, one per input dtype
    assert "model blobs_int8_raw_float_out (int8 input, threads=2)" in out
    assert "raw decode + NMS" in out
    ssd, yolo = out.split("model yolov8_int8_64")
    assert "postprocess / invoke =" in ssd
    assert "target" not in ssd.split("model blobs_int8_raw_float_out")[1]  # issue 16's is YOLO's
    assert "yolov8 decode + NMS" in yolo
    assert re.search(r"postprocess / invoke = +[\d.]+% \(target < 3%: (MET|MISSED)\)", yolo), yolo


def test_bench_model_none_runs_the_preprocessing_comparison_alone() -> None:
    r = run("bench", "--repeat", "3", "--model", "none")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("identical bytes: True") == 3, r.stdout
    assert not re.search(r"^model ", r.stdout, re.M)  # no model loaded, and none skipped
    assert "skipped" not in r.stdout
