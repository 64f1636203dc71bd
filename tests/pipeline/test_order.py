"""Results reach the outputs in capture order, whatever order the workers finish them in."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.decode import Thresholds
from camera_app.detect.detections import Detections
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.order import ResultOrder
from camera_app.pipeline.types import Result, StageTimes
from camera_app.pipeline.worker import InferenceWorker
from camera_app.sources.base import Frame
from tests.fakes import InPlaceInfer, make_image, wait_until


def frame(camera: str, seq: int) -> Frame:
    return Frame(make_image(seq), camera, seq, time.monotonic(), time.time())


def result_of(f: Frame) -> Result:
    return Result(f, Detections.empty(), StageTimes(0, 0, 0, 0), time.monotonic(), 0)


def test_a_result_waits_for_the_older_frame_still_running() -> None:
    order = ResultOrder()
    f1, f2, f3 = frame("a", 1), frame("a", 2), frame("a", 3)
    for f in (f1, f2, f3):
        order.taken(f)
    assert order.completed(result_of(f2)) == []  # frame 1 is still running
    assert order.completed(result_of(f3)) == []
    released = order.completed(result_of(f1))
    assert [r.frame.sequence for r in released] == [1, 2, 3]
    assert order.held_total == 2
    assert not order.any_in_flight()


def test_cameras_do_not_wait_for_each_other() -> None:
    order = ResultOrder()
    a1, b1 = frame("a", 1), frame("b", 1)
    order.taken(a1)
    order.taken(b1)
    assert [r.camera for r in order.completed(result_of(b1))] == ["b"]
    assert order.in_flight("a") == 1


def test_flush_hands_over_everything_held_in_order() -> None:
    order = ResultOrder()
    frames = [frame("a", i) for i in range(4)]
    for f in frames:
        order.taken(f)
    for f in (frames[3], frames[2], frames[1]):
        assert order.completed(result_of(f)) == []
    assert [r.frame.sequence for r in order.flush()] == [1, 2, 3]
    assert not order.any_in_flight()


@settings(max_examples=200)
@given(st.data())
def test_any_interleaving_comes_out_in_order_and_complete(data: st.DataObject) -> None:
    """Frames are taken in capture order by up to three workers and complete in any order."""
    order = ResultOrder()
    n = data.draw(st.integers(1, 12))
    frames = [frame("a", i) for i in range(n)]
    running: list[Frame] = []
    out: list[int] = []
    nxt = 0
    while nxt < n or running:
        can_take = nxt < n and len(running) < 3
        if can_take and (not running or data.draw(st.booleans())):
            order.taken(frames[nxt])
            running.append(frames[nxt])
            nxt += 1
            continue
        done = running.pop(data.draw(st.integers(0, len(running) - 1)))
        out.extend(r.frame.sequence for r in order.completed(result_of(done)))
    assert out == list(range(n))


class Collect:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.waited: list[float] = []
        self.closed = False

    def handle(self, r: Result) -> None:
        self.seen.append((r.camera, r.frame.sequence))
        self.waited.append(r.times.frame_age_s)

    def close(self) -> None:
        self.closed = True


class JitteryDetector(InPlaceInfer):
    """invoke() takes a random time, so two workers often finish out of capture order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, None]:
        return image, None

    def infer(self, x: np.ndarray) -> dict[int, np.ndarray]:
        time.sleep(self.rng.choice([0.001, 0.002, 0.03]))
        return {}

    def postprocess(self, outputs: object, placement: object, th: Thresholds | None) -> Detections:
        return Detections.empty()


def test_two_workers_on_one_camera_deliver_in_capture_order_and_drain_at_stop() -> None:
    stop = threading.Event()
    order = ResultOrder()
    board = FrameBoard(["a"], order=order)
    sink = Collect()
    d = Dispatcher({"a": [sink]}, stop, order=order, capacity=1000)
    workers = [
        InferenceWorker(i, JitteryDetector(i), board, d.publish, stop, {})  # type: ignore[arg-type]
        for i in range(2)
    ]
    d.start()
    for w in workers:
        w.start()
    for seq in range(200):
        board.slots["a"].put(frame("a", seq))
        time.sleep(0.002)
    assert wait_until(lambda: len(sink.seen) >= 20)
    stop.set()
    for w in workers:
        assert w.stop(5)
    assert d.stop(5)
    seqs = [s for _, s in sink.seen]
    assert seqs == sorted(seqs)  # never a step back
    assert order.held_total > 0  # the jitter did make workers finish out of order
    processed = sum(w.frames for w in workers)
    assert len(seqs) == processed  # and nothing taken by a worker was lost at stop
    assert not order.any_in_flight()
    assert sink.closed
