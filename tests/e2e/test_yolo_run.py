"""`camera-app run` with a YOLO export on the demo source: detections end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_run import FREE_PORTS, run_app
from tests.shared import need_shared


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "family"),
    [("ultralytics_yolov8n_coco_640_int8", "yolov8"), ("yolov5n_coco_640_uint8", "yolov5")],
)
def test_run_with_a_yolo_model_detects_the_astronaut(
    tmp_path: Path, model: str, family: str
) -> None:
    need_shared()
    events = tmp_path / "events.jsonl"
    r = run_app(
        ["run", "--model", model, "--max-frames", "4", "--events", str(events), *FREE_PORTS]
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"family={family}" in r.stderr
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert len(lines) >= 4
    # The demo starts on scikit-image's astronaut photo.
    people = [d for line in lines for d in line["detections"] if d["label"] == "person"]
    assert people, lines[0]
    for d in people:
        x1, y1, x2, y2 = d["box_xyxy"]
        assert 0 <= x1 < x2
        assert 0 <= y1 < y2
        assert d["score"] >= 0.5
