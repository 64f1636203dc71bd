"""Live tracks keep a gated camera's inference running (issue 18): the objects sink as the
board's ``KeepActive``, with a fake clock and a motion check that never sees motion, so every
run at the camera's rate is the tracks' doing. Nothing here waits for the clock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_app.app import App
from camera_app.config import parse_config
from camera_app.detect.detections import Detections
from camera_app.errors import ConfigError
from camera_app.objects.config import ObjectsConfig
from camera_app.objects.sink import CameraObjects, ObjectsSink
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.gate import GatePolicy
from camera_app.sources.base import Frame
from camera_app.wiring import services
from tests.objects.builders import dets
from tests.objects.test_wiring import HEAD, close
from tests.outputs.builders import make_result
from tests.pipeline.test_gate import Clock

FPS = 16  # frame times n / 16 and the rate's 0.25 s are exact in binary
IMAGE = np.zeros((48, 64, 3), np.uint8)
BOX = [[10.0, 10.0, 30.0, 40.0]]


def still(image: object) -> bool:
    return False


def run(seen: tuple[float, float], seconds: float = 12.0) -> list[float]:
    """A still camera (detect_fps 4, keep-alive 2 s, tracks end 1 s after the last match) whose
    object is detected whenever a run falls in ``seen`` [from, to); the times of the runs."""
    clock = Clock(0.0)
    sink = ObjectsSink([CameraObjects("a", ObjectsConfig(end_after_s=1.0), low_score=0.3)], {})
    policy = GatePolicy(detect_fps=4, gated=True, keepalive_s=2.0)
    board = FrameBoard(["a"], policies={"a": policy}, motion={"a": still}, clock=clock)
    board.set_keep_active("a", sink)
    ran = []
    for n in range(round(seconds * FPS)):
        clock.now_s = t = n / FPS
        board.slots["a"].put(Frame(IMAGE, "a", n, t, t))
        got = board.take(0.0)
        if got is None:
            continue
        ran.append(t)
        d = dets(BOX) if seen[0] <= t < seen[1] else Detections.empty()
        sink.handle(make_result("a", n, image=IMAGE, detections=d, capture_monotonic_s=t))
    return ran


def test_a_still_object_keeps_the_camera_at_its_rate_until_its_track_ends() -> None:
    ran = run(seen=(3.1, 6.0))
    # Keep-alives at 0 and 2; the one at 4 finds the object (it came without motion): from
    # then on 4 a second while its track lives, matched up to 5.75, ended at the first run
    # more than end_after_s (1 s) later (7.0); then the keep-alive again.
    at_rate = [4 + k / 4 for k in range(13)]  # 4.0 .. 7.0
    assert ran == [0.0, 2.0, *at_rate, 9.0, 11.0]


def test_a_tentative_track_keeps_the_camera_running_until_it_misses() -> None:
    ran = run(seen=(2.0, 2.1), seconds=7.0)
    # One detection at the keep-alive at 2 starts a tentative track: the next run comes at the
    # rate (2.25), misses, the track is dropped and the keep-alive counts from 2.25.
    assert ran == [0.0, 2.0, 2.25, 4.25, 6.25]


def test_the_sink_says_which_cameras_have_live_tracks() -> None:
    sink = ObjectsSink([CameraObjects("a", ObjectsConfig(end_after_s=1.0), low_score=0.3)], {})
    assert not sink.keeps_active("a")
    for k in range(3):  # three matches confirm the track
        sink.handle(make_result("a", k, detections=dets(BOX), capture_monotonic_s=k / 4))
        assert sink.keeps_active("a")
    sink.handle(make_result("a", 3, capture_monotonic_s=1.5))  # unseen 1 s: still live
    assert sink.keeps_active("a")
    sink.handle(make_result("a", 4, capture_monotonic_s=1.75))  # unseen 1.25 s: ended
    assert not sink.keeps_active("a")
    assert not sink.keeps_active("not-a-camera")
    sink.handle(make_result("a", 5, detections=dets(BOX), capture_monotonic_s=2.0))
    sink.close()  # the process stops: no tracks any more
    assert not sink.keeps_active("a")


def test_cameras_with_objects_get_their_tracks_as_keep_active(tmp_path: Path) -> None:
    app = App(parse_config(
        HEAD + "cameras:\n  - {name: a, source: demo, objects: {}}\n"
        "  - {name: b, source: demo}\n", "cfg.yaml", env={},
    ), services=services)  # fmt: skip
    try:
        sink = app.sinks["a"][0]
        assert isinstance(sink, ObjectsSink)
        assert app.board.gates["a"].keep_active is sink
        assert app.board.gates["b"].keep_active is None  # no tracker: motion alone
    finally:
        close(app)


def test_a_rate_slower_than_the_tracks_end_is_refused() -> None:
    text = (HEAD + "cameras:\n  - {name: a, source: demo, detect_fps: 0.2, "
            "objects: {end_after_s: 5}}\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"cameras\.a: detect_fps 0\.2 .* end_after_s"):
        App(parse_config(text, "cfg.yaml", env={}), services=services)
