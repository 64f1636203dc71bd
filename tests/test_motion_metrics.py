"""Motion and gating in /metrics: the gate families and the skipped runs by reason, read from a
real board (fake clock, fake motion check) at scrape time."""

from __future__ import annotations

import threading

from prometheus_client import generate_latest

from camera_app.metrics import PipelineMetrics
from camera_app.motion_metrics import GateCollector
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.gate import GatePolicy
from camera_app.sources.capture import CaptureThread
from tests.fakes import FakeSource
from tests.pipeline.test_gate import Clock, Motion, frame


def test_gate_families_and_skips_by_reason() -> None:
    clock = Clock(0.0)
    motion = {"yard": Motion(), "hall": Motion()}
    policies = {
        "yard": GatePolicy(detect_fps=4, gated=True, keepalive_s=10),
        "hall": GatePolicy(detect_fps=4, gated=False),
    }
    board = FrameBoard(["yard", "hall"], policies=policies, motion=motion, clock=clock)
    stop = threading.Event()
    captures = [
        CaptureThread(c, FakeSource(), stop, latest=board.slots[c]) for c in ("yard", "hall")
    ]
    metrics = PipelineMetrics(
        cameras=["yard", "hall"], snapshots=lambda: [c.snapshot() for c in captures]
    )
    metrics.registry.register(GateCollector(board.gate_snapshots))
    for seq in range(8):  # yard: still for 4 frames, then moving; 8 fps for 1 s
        motion["yard"].moving = seq >= 4
        for cam in ("yard", "hall"):
            board.slots[cam].put(frame(cam, seq))
        while board.take(0.0) is not None:
            pass
        clock.now_s += 0.125
    reg = metrics.registry

    def v(name: str, **labels: str) -> float | None:
        return reg.get_sample_value(name, labels)

    # yard ran frame 0, the onset at 4, then 6: 1, 2, 3 were replaced while waiting for motion,
    # 5 while held back by the rate (7 still waits in the slot).
    assert v("camera_app_frames_dropped_total", camera="yard", reason="no_motion") == 3
    assert v("camera_app_frames_dropped_total", camera="yard", reason="rate_limit") == 1
    assert v("camera_app_frames_dropped_total", camera="hall", reason="rate_limit") == 3
    assert v("camera_app_frames_dropped_total", camera="hall", reason="no_motion") == 0
    assert v("camera_app_motion_frames_total", camera="yard") == 4
    assert v("camera_app_motion_fraction", camera="yard") == 0.5
    assert v("camera_app_motion_fraction", camera="hall") is None  # not gated: no motion shown
    assert v("camera_app_detect_active", camera="yard") == 1
    assert v("camera_app_detect_active", camera="hall") == 1
    assert v("camera_app_detect_fps_limit", camera="yard") == 4
    text = generate_latest(reg).decode()
    assert "# TYPE camera_app_motion_frames_total counter" in text


def test_a_failing_gate_source_does_not_break_the_scrape() -> None:
    def broken() -> list[object]:
        raise RuntimeError("board gone")

    metrics = PipelineMetrics()
    metrics.registry.register(GateCollector(broken))  # type: ignore[arg-type]
    assert "camera_app_detect_active" in generate_latest(metrics.registry).decode()


def test_status_page_fields_of_a_gate() -> None:
    from types import MappingProxyType

    from camera_app.pipeline.gate import GateSnapshot
    from camera_app.pipeline.gating import gate_status
    from camera_app.sources.capture import DropReason

    snap = MappingProxyType({DropReason.NO_MOTION: 12, DropReason.RATE_LIMIT: 3})
    gated = GateSnapshot("yard", 5.0, True, False, 100, 25, 0.25)
    assert gate_status(gated, snap) == {
        "detect_fps_limit": 5.0,
        "motion_active": False,
        "motion_fraction": 0.25,
        "skipped": {"no_motion": 12, "rate_limit": 3},
        "gate": "at most 5/s; motion still, 25% of recent frames; skipped no_motion 12, "
        "rate_limit 3",
    }
    # A camera that has not streamed yet: nothing looked at, so not "still".
    unseen = gate_status(GateSnapshot("yard", 5.0, True, False, 0, 0, 0.0), {})
    assert unseen["gate"] == "at most 5/s; motion: no frames yet; skipped no_motion 0, rate_limit 0"
    free = gate_status(GateSnapshot("yard", 0.0, False, True, 0, 0, 0.0), snap)
    assert free["gate"] == "no rate limit; motion gating off; skipped no_motion 12, rate_limit 3"
    assert free["detect_fps_limit"] is None  # no limit: shown empty
    assert free["motion_active"] is None
