"""The real-time loop with fakes at the seams: fairness, frame policy, outputs that never block."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from camera_app.config import parse_config
from camera_app.detect.decode import Thresholds
from camera_app.detect.detections import Detections
from camera_app.detect.detector import Detector, DetectorOptions
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.types import Result, StageTimes
from camera_app.pipeline.worker import InferenceWorker
from camera_app.sources.base import Frame
from camera_app.sources.capture import CaptureThread, DropReason
from tests.fakes import FakeSource, InPlaceInfer, Session, make_image, wait_until
from tests.shared import TEST_MODELS


def frame(camera: str, seq: int, age_s: float = 0.0) -> Frame:
    now = time.monotonic()
    return Frame(make_image(seq), camera, seq, now - age_s, time.time() - age_s)


def result(camera: str, seq: int) -> Result:
    f = frame(camera, seq)
    return Result(f, Detections.empty(), StageTimes(0, 0, 0, 0), time.monotonic(), 0)


def test_newest_frame_wins_and_replacements_are_counted() -> None:
    board = FrameBoard(["a"])
    for seq in range(5):
        board.slots["a"].put(frame("a", seq))
    got = board.take(0.1)
    assert got is not None
    assert got.sequence == 4
    assert board.slots["a"].drops()[DropReason.REPLACED] == 4
    assert board.take(0.05) is None


def test_cameras_take_turns() -> None:
    board = FrameBoard(["a", "b", "c"])
    order = []
    for round_ in range(4):
        for cam in ("a", "b", "c"):
            board.slots[cam].put(frame(cam, round_))
        for _ in range(3):
            f = board.take(0.1)
            assert f is not None
            order.append(f.camera)
    # Every round serves each camera once, whichever put its frame first.
    assert [sorted(order[i : i + 3]) for i in range(0, 12, 3)] == [["a", "b", "c"]] * 4


def test_a_busy_camera_does_not_starve_a_quiet_one() -> None:
    board = FrameBoard(["busy", "quiet"])
    served = {"busy": 0, "quiet": 0}
    for seq in range(50):
        board.slots["busy"].put(frame("busy", seq))
        if seq % 2 == 0:
            board.slots["quiet"].put(frame("quiet", seq))
        f = board.take(0.1)
        assert f is not None
        served[f.camera] += 1
    assert served["quiet"] >= 20


def test_too_old_frames_are_dropped_and_counted() -> None:
    board = FrameBoard(["a"], max_age_s=0.5)
    board.slots["a"].put(frame("a", 1, age_s=2.0))
    assert board.take(0.05) is None
    assert board.slots["a"].drops()[DropReason.TOO_OLD] == 1


def test_take_wakes_up_when_a_frame_arrives() -> None:
    board = FrameBoard(["a"])
    threading.Timer(0.2, lambda: board.slots["a"].put(frame("a", 7))).start()
    got = board.take(5.0)
    assert got is not None
    assert got.sequence == 7


class SlowSink:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.seen: list[int] = []
        self.closed = False

    def handle(self, r: Result) -> None:
        time.sleep(self.delay_s)
        self.seen.append(r.frame.sequence)

    def close(self) -> None:
        self.closed = True


class BrokenSink:
    def handle(self, r: Result) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        pass


class BlockedSink(SlowSink):
    """A sink that cannot finish one result until the test lets it."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.release = threading.Event()

    def handle(self, r: Result) -> None:
        self.release.wait(30)
        super().handle(r)


def test_slow_outputs_never_block_publishing() -> None:
    stop = threading.Event()
    blocked = BlockedSink()
    drops: list[tuple[str, str]] = []
    d = Dispatcher({"a": [blocked]}, stop, on_drop=lambda c, r: drops.append((c, r)), capacity=4)
    d.start()
    published = threading.Event()

    def publish_all() -> None:
        for seq in range(100):
            d.publish(result("a", seq))
        published.set()

    publisher = threading.Thread(target=publish_all, daemon=True)
    publisher.start()
    # The sink finishes nothing until released, so publishing can only complete if it never
    # waits for the sink (the wait's bound is a guard against a hang, not a speed).
    assert published.wait(30)
    assert blocked.seen == []  # it had finished none
    blocked.release.set()
    publisher.join(5)
    stop.set()
    assert d.stop(10)
    assert d.dropped == len(drops) > 0
    assert all(reason == "output_backlog" for _, reason in drops)
    assert blocked.seen[-1] == 99  # the newest result always gets through
    assert blocked.closed


class TickRecorder(SlowSink):
    def __init__(self) -> None:
        super().__init__(0.0)
        self.ticks: list[float] = []

    def tick(self, now_s: float) -> None:
        self.ticks.append(now_s)


def test_ticking_sinks_hear_the_time_without_results() -> None:
    """The objects sink ends a dead camera's tracks on a tick: ticks come with no result."""
    stop = threading.Event()
    ticking = TickRecorder()
    d = Dispatcher({"a": [ticking], "b": [ticking]}, stop)  # one sink of two cameras
    d.start()
    assert wait_until(lambda: len(ticking.ticks) >= 2)
    stop.set()
    assert d.stop(10)
    assert ticking.seen == []
    assert ticking.ticks == sorted(set(ticking.ticks))  # once per tick, in time order


def test_a_broken_output_does_not_stop_the_others() -> None:
    stop = threading.Event()
    good, bad = SlowSink(0.0), BrokenSink()
    d = Dispatcher({"a": [bad, good]}, stop)
    d.start()
    assert not d.broken(bad)
    for seq in range(5):
        d.publish(result("a", seq))
    assert wait_until(lambda: len(good.seen) == 5)
    assert d.broken(bad)  # what camera_app_output_up reads
    assert not d.broken(good)
    stop.set()
    assert d.stop(5)


class FakeDetector(InPlaceInfer):
    """A detector whose stages take known times; records the thresholds it was given."""

    def __init__(self, invoke_s: float = 0.0, fail_at: int | None = None) -> None:
        self.invoke_s = invoke_s
        self.fail_at = fail_at
        self.calls = 0
        self.thresholds: list[Thresholds | None] = []

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, None]:
        return image, None

    def infer(self, x: np.ndarray) -> dict[int, np.ndarray]:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("interpreter exploded")
        time.sleep(self.invoke_s)
        return {}

    def postprocess(self, outputs: object, placement: object, th: Thresholds | None) -> Detections:
        self.thresholds.append(th)
        return Detections.empty()


def test_worker_times_each_stage_and_uses_per_camera_thresholds() -> None:
    stop = threading.Event()
    board = FrameBoard(["a"])
    results: list[Result] = []
    th = {"a": Thresholds(score=0.7)}
    det = FakeDetector(invoke_s=0.02)
    w = InferenceWorker(0, det, board, results.append, stop, th)  # type: ignore[arg-type]
    w.start()
    board.slots["a"].put(frame("a", 1, age_s=0.1))
    assert wait_until(lambda: len(results) == 1)
    stop.set()
    assert w.stop(5)
    r = results[0]
    assert r.times.frame_age_s >= 0.1
    assert r.times.invoke_s >= 0.02
    assert r.latency_s >= r.times.frame_age_s + r.times.invoke_s
    assert det.thresholds == [th["a"]]
    assert w.iterations >= 1


def test_a_real_detector_in_a_worker_runs_on_the_worker_thread_alone() -> None:
    """No helper thread: a stall anywhere in a frame's work is the worker's own, seen by the
    watchdog, never a second thread's timeout that stops the pipeline."""
    det = Detector.from_spec(str(TEST_MODELS / "blobs_uint8_postprocess"), DetectorOptions())
    stop = threading.Event()
    board = FrameBoard(["a"])
    results: list[Result] = []
    w = InferenceWorker(0, det, board, results.append, stop, {})
    image = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    before = set(threading.enumerate())
    w.start()
    try:
        board.slots["a"].put(Frame(image, "a", 0, time.monotonic(), time.time()))
        assert wait_until(lambda: len(results) == 1)
        assert [t.name for t in set(threading.enumerate()) - before] == ["inference-0"]
    finally:
        stop.set()
        assert w.stop(5)


def test_worker_failure_stops_the_pipeline_and_is_kept() -> None:
    stop = threading.Event()
    board = FrameBoard(["a"])
    w = InferenceWorker(0, FakeDetector(fail_at=1), board, lambda r: None, stop, {})  # type: ignore[arg-type]
    w.start()
    board.slots["a"].put(frame("a", 1))
    assert stop.wait(5)
    assert w.stop(5)
    assert isinstance(w.error, RuntimeError)


def test_end_to_end_with_fake_sources_one_failing() -> None:
    """Two cameras through capture threads, the board, a worker and the dispatcher."""
    stop = threading.Event()
    board = FrameBoard(["good", "bad"])
    sink = SlowSink(0.0)
    d = Dispatcher({"good": [sink], "bad": [sink]}, stop)
    good = CaptureThread("good", FakeSource([Session(frames=None, interval_s=0.02)]), stop,
                         latest=board.slots["good"])  # fmt: skip
    bad = CaptureThread("bad", FakeSource([Session(open_error=OSError("refused"))]), stop,
                        latest=board.slots["bad"])  # fmt: skip
    w = InferenceWorker(0, FakeDetector(), board, d.publish, stop, {})  # type: ignore[arg-type]
    for t in (d, w, good, bad):
        t.start()
    assert wait_until(lambda: len(sink.seen) >= 20)
    stop.set()
    for t in (good, bad, w, d):
        assert t.stop(5)
    assert bad.snapshot().reconnects >= 1 or sum(bad.snapshot().errors_by_kind.values()) >= 1
    assert good.snapshot().frames_captured >= 20


def test_prepare_ahead_is_gone_and_named_as_unknown() -> None:
    from camera_app.errors import ConfigError

    cams = "cameras:\n  - {name: a, source: demo}\n"
    with pytest.raises(ConfigError, match=r"cfg.yaml:2.*prepare_ahead"):
        parse_config("model:\n  prepare_ahead: true\n" + cams, "cfg.yaml", env={})
