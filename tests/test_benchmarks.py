"""The benchmark scripts run (not timed: what they measure is only read, never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import MODELS, need_shared

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.realmodel
def test_pipeline_tail_times_invoke_beside_fixed_work() -> None:
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline.py"), "tail", "--seconds", "1"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = {}
    for name in ("invoke(), 1 thread", "fixed numpy work, 1 thread"):
        line = next(x for x in r.stdout.splitlines() if x.strip().startswith(name))
        m = re.search(r"n +(\d+) +p50 +([\d.]+) .* p99 +([\d.]+) .*% of calls alone exceed", line)
        assert m, line
        rows[name] = int(m[1]), float(m[2]), float(m[3])
    for n, p50, p99 in rows.values():
        assert n >= 2
        assert 0 < p50 <= p99
    # Both calls alternate on one thread, so each was timed as often as the other.
    assert rows["invoke(), 1 thread"][0] == rows["fixed numpy work, 1 thread"][0]
    assert re.search(r"bound 2 x invoke p50 \+ 1/60 s = +[\d.]+ ms", r.stdout), r.stdout


@pytest.mark.slow
@pytest.mark.realmodel
def test_pipeline_throughput_prints_every_contender_and_target() -> None:
    """Two short rounds with every optional contender: each row has a rate, the loop with the
    capture thread shows that thread's CPU (the plain loop has none), and each target line
    has its rounds and its interval."""
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline.py"), "throughput", "--seconds",
         "2", "--rounds", "2", "--no-video", "--setups", "1x1", "--with-reader",
         "--source-times", "2"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr  # 1: a target missed (read below, not asserted)
    rounds = re.findall(r"^   round (\d+): (.+) \|", r.stdout, re.M)
    assert [n for n, _ in rounds] == ["1", "2"], r.stdout
    for _, line in rounds:
        keys = re.findall(r"([\w-]+) +[\d.]+/s", line)
        assert keys == ["bare", "serial", "memory", "memory-x", "serial-reader"], line
    row = r"^   \*?((?:bare|serial|App)[^\n]*?) {2,}([\d.]+) +[\d.]+ +\d+ "
    rates = dict(re.findall(row, r.stdout, re.M))
    assert len(rates) == 5, r.stdout
    assert all(float(v) > 0 for v in rates.values()), r.stdout
    cpu = dict(re.findall(r"^   (serial[^\n]*?) {2,}[\d.]+ +([\d.]+) +[\d.]+$", r.stdout, re.M))
    plain = cpu["serial pre+invoke+post loop, no threads"]
    reader = cpu["serial loop + capture thread @ 300/s"]
    assert float(reader) > float(plain), r.stdout  # the capture thread's CPU is counted
    targets = re.findall(r"^   target: (.+?) >= ([\d.]+) x (.+?): ([\d.]+) -> (MET|MISSED) +"
                         r"\(rounds: ([\d. ]+); 90% interval over rounds ([\d.]+)-([\d.]+)",
                         r.stdout, re.M)  # fmt: skip
    assert [t[2] for t in targets] == [
        "bare invoke() loop",
        "serial pre+invoke+post loop, no threads",
        "serial pre+invoke+post loop, no threads",
        "serial loop + capture thread @ 300/s",
    ], r.stdout
    for _, goal, _, ratio, verdict, per_round, low, high in targets:
        assert len(per_round.split()) == 2
        assert float(low) <= float(high)
        assert verdict == ("MET" if float(ratio) >= float(goal) else "MISSED")
    assert r.returncode == (0 if all(t[4] == "MET" for t in targets) else 1)


@pytest.mark.realmodel
def test_yolo_resize_compares_both_modes_for_each_yolo_model() -> None:
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "yolo_resize.py")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = re.findall(
        r"^(\S+) +(letterbox|stretch) +found +(\d+)/(\d+) +mean ([\d.]+)", r.stdout, re.M
    )
    assert {(m, mode) for m, mode, *_ in rows} == {
        (m, mode)
        for m in ("ultralytics_yolov8n_coco_640_int8", "ultralytics_yolov8n_coco_640_float_io",
                  "yolov5n_coco_640_uint8")
        for mode in ("letterbox", "stretch")
    }  # fmt: skip
    for _, _, found, known, mean in rows:
        assert 0 <= int(found) <= int(known) == 14
        assert 0 <= float(mean) <= 1


def test_objects_benchmark_prints_its_figures() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "objects.py"), "--frames", "50",
         "--minutes", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    aware = re.search(r"label-aware matching +([\d.]+) ms/frame", r.stdout)
    frames = re.search(r"events_mode: frames +([\d.]+) MB", r.stdout)
    objects = re.search(r"events_mode: objects +([\d.]+) MB", r.stdout)
    assert aware, r.stdout
    assert frames, r.stdout
    assert objects, r.stdout
    assert float(aware[1]) > 0
    # a still scene: two starts and two ends, against a line per frame
    assert 0 < float(objects[1]) < float(frames[1])


def test_motion_detector_benchmark_times_still_and_moving_frames() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "motion_gate.py"), "detector", "--frames", "20"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stdout  # every frame with the person walking showed motion
    for name in ("still", "moving", "cv2.resize to 300x300"):
        lines = [x for x in r.stdout.splitlines() if x.strip().startswith(f"{name}:")]
        assert len(lines) == 2, r.stdout  # with OpenCV's threads and with one
        for line in lines:
            m = re.search(r"p50 ([\d.]+) +p99 ([\d.]+) +mean ([\d.]+)", line)
            assert m, line
            assert 0 < float(m[1]) <= float(m[2])


@pytest.mark.slow
@pytest.mark.realmodel
def test_mqtt_outage_benchmark_runs_on_the_app_as_built() -> None:
    """The benchmark builds the real App with its services: it must follow the App's API."""
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "mqtt_outage.py"), "--window-s", "1"],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rates = re.findall(r"broker (up|killed|back) +([\d.]+) results/s", r.stdout)
    assert [step for step, _ in rates] == ["up", "killed", "back"], r.stdout
    assert all(float(rate) > 0 for _, rate in rates), r.stdout
    m = re.search(r"objects started (\d+); distinct event ids at the subscriber (\d+)", r.stdout)
    assert m, r.stdout
    assert int(m[2]) <= int(m[1])


@pytest.mark.slow
@pytest.mark.realmodel
def test_motion_scale_benchmark_runs_the_app_on_live_streams(tmp_path: Path) -> None:
    """One camera for a second: the clip encoded, served by the real RTSP server as it is,
    read by the App; every line the benchmark's figures are read from is there."""
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "motion_scale.py"), "--sizes", "1",
         "--seconds", "1", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "CAMERA_APP_MODEL_PATH": str(MODELS)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "scale_cam0.mp4").exists()
    m = re.search(r"cam0: processed +(\d+) .* captured +(\d+)", r.stdout)
    assert m, r.stdout
    assert 0 < int(m[1]) <= int(m[2])  # results from the stream, at most one per frame
    assert re.search(r"fairness .*: [\d.]+ ", r.stdout), r.stdout
    assert re.search(r"pipeline share .* p99 [\d.]+ ms", r.stdout), r.stdout


def test_preprocess_floor_prints_each_inputs_ratio_and_floor() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "preprocess_floor.py"), "--repeat", "5"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = re.findall(
        r"^(uint8|int8|float32) .+? +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)  \((.+)\)$",
        r.stdout, re.M,
    )  # fmt: skip
    assert [row[0] for row in rows] == ["uint8", "int8", "float32"]
    for _, bare, ours, ratio, step, floor, route in rows:
        assert min(float(bare), float(ours), float(step)) > 0
        assert float(ratio) == pytest.approx(float(ours) / float(bare), abs=2e-3)
        assert float(floor) == pytest.approx(1 + float(step) / float(bare), abs=2e-3)
        assert route in ("copy", "cv2.transform", "cv2.convertScaleAbs", "table")
    assert re.search(r"other processes [\d.]+ cores", r.stdout)


@pytest.mark.parametrize("tall", [False, True], ids=["16:9", "9:16"])
def test_prepare_share_prints_each_models_share(tall: bool) -> None:
    args = ["yolov8_int8_64", "blobs_int8_raw_float_out", "--repeat", "3"] + (
        ["--tall"] if tall else []
    )
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "prepare_share.py"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = re.findall(
        r"^(\S+) +\(\d+, \d+\) +(stretch|letterbox, band|letterbox, canvas) +(\S+)"
        r" +prepare +([\d.]+) ms +invoke +([\d.]+) ms +share +([\d.]+)%$",
        r.stdout, re.M,
    )  # fmt: skip
    assert [row[0] for row in rows] == ["yolov8_int8_64", "blobs_int8_raw_float_out"], r.stdout
    assert rows[0][1] == ("letterbox, canvas" if tall else "letterbox, band")
    assert rows[1][1] == "stretch"
    for *_, prep, inv, share in rows:
        assert float(prep) > 0
        assert float(inv) > 0
        assert float(share) > 0  # (prepare / invoke before rounding: tiny models print 0.011 ms)


def test_resize_modes_prints_both_modes_for_each_size() -> None:
    need_shared()
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "resize_modes.py"), "--rounds", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = re.findall(r"(\d+x\d+): LINEAR +[\d.]+ us +LINEAR_EXACT +[\d.]+ us +ratio +[\d.]+ +"
                      r"bytes differing +([\d.]+)% \(max (\d+)\)", r.stdout)  # fmt: skip
    assert [size for size, _, _ in rows] == ["300x300", "320x320", "256x256", "640x640", "640x360"]
    # Exactly half the width and height: both modes give the same bytes.
    assert rows[-1][1:] == ("0.0", "0")
