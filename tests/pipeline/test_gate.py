"""The detection rate and motion gating, with made-up times: the gate alone, then the board.

Nothing here waits for the clock: times are passed in (``CameraGate``) or come from a fake clock
the test moves (``FrameBoard(clock=...)``), and ``take(0.0)`` only looks.
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.dispatch import Dispatcher
from camera_app.pipeline.gate import CameraGate, GatePolicy
from camera_app.pipeline.worker import InferenceWorker
from camera_app.sources.base import Frame
from camera_app.sources.capture import CaptureThread, DropReason
from tests.fakes import FakeSource, Session, make_image, wait_until
from tests.pipeline.test_pipeline import FakeDetector


class Clock:
    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


class Motion:
    """A motion check that says what the test sets, per camera, and counts its calls."""

    def __init__(self) -> None:
        self.moving = False
        self.calls = 0

    def __call__(self, image: object) -> bool:
        self.calls += 1
        return self.moving


def frame(camera: str, seq: int) -> Frame:
    return Frame(make_image(seq), camera, seq, time.monotonic(), time.time())


# -- the gate alone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "since_run_s", "reason"),
    [
        (GatePolicy(), 0.0, None),  # no limit, no gating: always
        (GatePolicy(detect_fps=5), 0.1, DropReason.RATE_LIMIT),
        (GatePolicy(detect_fps=5), 0.2, None),
        (GatePolicy(detect_fps=0), 0.0, None),  # 0: no limit
        (GatePolicy(gated=True, keepalive_s=2.0), 1.9, DropReason.NO_MOTION),
        (GatePolicy(gated=True, keepalive_s=2.0), 2.0, None),  # the keep-alive run
        # Both would hold it back: no motion is the reason that counts.
        (GatePolicy(detect_fps=1, gated=True, keepalive_s=2.0), 0.5, DropReason.NO_MOTION),
    ],
)
def test_reason_without_motion(
    policy: GatePolicy, since_run_s: float, reason: DropReason | None
) -> None:
    gate = CameraGate("a", policy)
    assert gate.reason(10.0) is None  # never ran: the first frame always runs
    gate.ran(10.0)
    assert gate.reason(10.0 + since_run_s) is reason


def test_motion_opens_the_gate_at_the_rate_and_holds_it_briefly() -> None:
    gate = CameraGate("a", GatePolicy(detect_fps=5, gated=True, keepalive_s=10, hold_s=0.5))
    gate.ran(0.0)
    gate.saw(False, 1.0)
    assert gate.reason(1.0) is DropReason.NO_MOTION
    assert gate.due_s(1.0) == 10.0  # the keep-alive
    gate.saw(True, 1.0)
    assert gate.active(1.0)
    assert gate.reason(1.0) is None
    gate.ran(1.0)
    gate.saw(True, 1.1)
    assert gate.reason(1.1) is DropReason.RATE_LIMIT  # active, but at most 5 a second
    assert gate.due_s(1.1) == pytest.approx(1.2)
    assert gate.reason(1.2) is None
    gate.ran(1.2)
    assert gate.active(1.6)  # 0.5 s after the last frame with motion
    assert not gate.active(1.7)
    assert gate.reason(1.7) is DropReason.NO_MOTION
    assert gate.due_s(1.7) == pytest.approx(11.2)


def test_motion_onset_is_not_held_back_by_a_keepalive_run_just_before() -> None:
    gate = CameraGate("a", GatePolicy(detect_fps=2, gated=True, keepalive_s=2, hold_s=0.5))
    gate.ran(5.0)  # a keep-alive run
    gate.saw(True, 5.1)  # motion starts 0.1 s later: within the rate's 0.5 s
    assert gate.reason(5.1) is None
    gate.ran(5.1)
    gate.saw(True, 5.2)  # the motion goes on: now the rate applies
    assert gate.reason(5.2) is DropReason.RATE_LIMIT


class Tracks:
    """A fake ``KeepActive``: the cameras the test says have live tracks."""

    def __init__(self, *live: str) -> None:
        self.live = set(live)

    def keeps_active(self, camera: str) -> bool:
        return camera in self.live


def test_live_tracks_run_the_camera_at_its_rate_without_motion() -> None:
    tracks = Tracks("a")
    gate = CameraGate("a", GatePolicy(detect_fps=5, gated=True, keepalive_s=5), tracks)
    gate.ran(0.0)
    assert gate.active(0.1)
    assert gate.reason(0.1) is DropReason.RATE_LIMIT  # at the rate, not more
    assert gate.reason(0.2) is None
    tracks.live.clear()  # the tracks ended: back to the keep-alive
    assert not gate.active(0.2)
    assert gate.reason(0.2) is DropReason.NO_MOTION
    assert gate.due_s(0.2) == 5.0
    assert CameraGate("b", GatePolicy(gated=True), tracks).reason(0.0) is None  # first frame


def test_motion_onset_runs_at_once_though_live_tracks_keep_the_cadence() -> None:
    """A tracked object standing still keeps the camera at its rate; something new that moves
    is still run at once, not on that cadence."""
    gate = CameraGate("a", GatePolicy(detect_fps=2, gated=True, hold_s=0.5), Tracks("a"))
    gate.ran(5.0)  # on the cadence of the tracks
    gate.saw(False, 5.05)
    assert gate.reason(5.05) is DropReason.RATE_LIMIT
    gate.saw(True, 5.1)  # motion starts
    assert gate.reason(5.1) is None
    gate.ran(5.1)
    gate.saw(True, 5.2)  # the motion goes on: now the rate applies
    assert gate.reason(5.2) is DropReason.RATE_LIMIT
    assert gate.due_s(5.2) == pytest.approx(5.6)


def test_snapshot_counts_frames_and_the_recent_motion_fraction() -> None:
    gate = CameraGate("a", GatePolicy(gated=True, detect_fps=4), recent_frames=4)
    for moving in (True, False, False, False, True, True):
        gate.saw(moving, 0.0)
    snap = gate.snapshot(0.0)
    assert (snap.frames_seen, snap.frames_moving) == (6, 3)
    assert snap.recent_motion_fraction == 0.5  # the last four: F F T T
    assert snap.detect_fps == 4
    assert snap.gated
    assert snap.active


@pytest.mark.parametrize("kwargs", [{"detect_fps": -1}, {"keepalive_s": 0}, {"hold_s": -0.1}])
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        GatePolicy(**kwargs)  # type: ignore[arg-type]


# -- the board --------------------------------------------------------------------------------


def test_rate_limit_keeps_the_newest_frame_and_counts_the_others() -> None:
    clock = Clock()
    board = FrameBoard(["a"], policies={"a": GatePolicy(detect_fps=4)}, clock=clock)
    slot = board.slots["a"]
    slot.put(frame("a", 0))
    first = board.take(0.0)
    assert first is not None
    assert first.sequence == 0
    for seq in range(1, 4):  # 3 frames within the 0.25 s
        clock.now_s += 0.0625
        slot.put(frame("a", seq))
        assert board.take(0.0) is None
    clock.now_s += 0.0625
    slot.put(frame("a", 4))  # the first frame once the run is due
    got = board.take(0.0)
    assert got is not None
    assert got.sequence == 4
    drops = slot.drops()
    assert drops[DropReason.RATE_LIMIT] == 3  # frames 1 to 3, replaced while held back
    assert drops[DropReason.REPLACED] == 0


@pytest.mark.parametrize(
    ("due_s", "runs"),
    [
        (1.0, 3),  # due 0.1 s after frame 3 came (a third of the interval): frame 3 runs
        (1.1, 4),  # due 0.2 s after it: stale, frame 4 (at 1.2) runs instead
    ],
)
def test_a_run_due_between_frames_takes_no_frame_older_than_half_an_interval(
    due_s: float, runs: int
) -> None:
    clock = Clock(0.0)
    board = FrameBoard(["a"], policies={"a": GatePolicy(gated=True, keepalive_s=due_s)},
                       motion={"a": Motion()}, clock=clock)  # fmt: skip
    slot = board.slots["a"]
    for seq in range(4):  # frames every 0.3 s: 0, 0.3, 0.6, 0.9; the first one runs
        clock.now_s = seq * 0.3
        slot.put(frame("a", seq))
        assert (board.take(0.0) is not None) == (seq == 0)
    assert slot.frame_interval_s == pytest.approx(0.3)
    clock.now_s = due_s  # the keep-alive comes due, no new frame yet
    got = board.take(0.0)
    if got is None:
        clock.now_s = 1.2
        slot.put(frame("a", 4))
        got = board.take(0.0)
    assert got is not None
    assert got.sequence == runs
    assert slot.drops()[DropReason.NO_MOTION] == runs - 1  # replaced while held back


def test_rate_keeps_its_cadence_when_frames_come_a_little_early() -> None:
    """16 fps frames, some 3 ms early, limited to 4 a second: 4 a second, not
    fewer because a frame came a hair before its run was due."""
    clock = Clock(0.0)
    board = FrameBoard(["a"], policies={"a": GatePolicy(detect_fps=4)}, clock=clock)
    ran = []
    for seq in range(64):
        clock.now_s = seq / 16 - (0.003 if seq % 8 == 4 else 0.0)
        board.slots["a"].put(frame("a", seq))
        got = board.take(0.0)
        if got is not None:
            ran.append(got.sequence)
    assert len(ran) == 16
    assert ran[:4] == [0, 5, 8, 13]  # 4 and 12 came 3 ms early: the next frame ran


def test_gating_off_runs_every_frame_motion_or_not() -> None:
    motion = Motion()
    board = FrameBoard(["a"], policies={"a": GatePolicy(gated=False)}, motion={"a": motion})
    for seq in range(5):
        board.slots["a"].put(frame("a", seq))
        got = board.take(0.0)
        assert got is not None
        assert got.sequence == seq
    assert motion.calls == 5  # checked (for the metrics) even when not gating


def test_gating_on_still_camera_runs_only_its_keepalive() -> None:
    clock = Clock()
    policy = GatePolicy(gated=True, keepalive_s=2.0)
    board = FrameBoard(["a"], policies={"a": policy}, motion={"a": Motion()}, clock=clock)
    ran = []
    for seq in range(48):  # 6 s at 8 fps, nothing moves
        board.slots["a"].put(frame("a", seq))
        got = board.take(0.0)
        if got is not None:
            ran.append(got.sequence)
        clock.now_s += 0.125
    assert ran == [0, 16, 32]  # the first frame, then one every 2 s
    drops = board.slots["a"].drops()
    assert drops[DropReason.NO_MOTION] == 48 - 3 - 1  # the last one still waits in the slot
    assert drops[DropReason.REPLACED] == 0


def test_motion_is_taken_at_once_even_right_after_a_keepalive_run() -> None:
    clock = Clock()
    motion = Motion()
    policy = GatePolicy(detect_fps=5, gated=True, keepalive_s=2.0)
    board = FrameBoard(["a"], policies={"a": policy}, motion={"a": motion}, clock=clock)
    board.slots["a"].put(frame("a", 0))
    assert board.take(0.0) is not None  # the first run
    clock.now_s += 0.02
    motion.moving = True
    board.slots["a"].put(frame("a", 1))  # the frame the motion starts in
    got = board.take(0.0)
    assert got is not None
    assert got.sequence == 1


def test_take_sleeps_until_the_keepalive_is_due() -> None:
    board = FrameBoard(["a"], policies={"a": GatePolicy(gated=True, keepalive_s=0.3)},
                       motion={"a": Motion()})  # fmt: skip
    board.slots["a"].put(frame("a", 0))
    assert board.take(0.0) is not None
    stop = threading.Event()

    def camera() -> None:  # a frame every 20 ms, until the test is done
        seq = 1
        while not stop.wait(0.02):
            board.slots["a"].put(frame("a", seq))
            seq += 1

    t = threading.Thread(target=camera, daemon=True)
    t.start()
    try:
        assert board.take(0.0) is None
        got = board.take(5.0)  # returns when the keep-alive comes due, whatever the real clock
    finally:
        stop.set()
        t.join(5.0)
    assert got is not None
    assert got.sequence >= 1


def test_a_still_cameras_frames_wake_no_worker_until_one_may_run() -> None:
    class Counting(threading.Condition):
        def __init__(self) -> None:
            super().__init__()
            self.wakes = 0

        def notify(self, n: int = 1) -> None:
            self.wakes += 1
            super().notify(n)

    clock = Clock()
    motion = Motion()
    policy = GatePolicy(detect_fps=5, gated=True, keepalive_s=2.0)
    board = FrameBoard(["a"], policies={"a": policy}, motion={"a": motion}, clock=clock)
    board._cond = cond = Counting()
    board.slots["a"].put(frame("a", 0))
    assert board.take(0.0) is not None  # its first frame
    cond.wakes = 0
    clock.now_s += 0.125
    board.slots["a"].put(frame("a", 1))  # no worker has looked since that run: it is woken
    assert cond.wakes == 1
    assert board.take(0.0) is None  # it looks, and would wait for the keep-alive
    for seq in range(2, 9):  # nothing moves: these frames wake nobody
        clock.now_s += 0.125
        board.slots["a"].put(frame("a", seq))
        assert board.take(0.0) is None
    assert cond.wakes == 1
    clock.now_s += 0.125
    motion.moving = True
    board.slots["a"].put(frame("a", 9))  # the motion onset may run now: a worker is woken
    assert cond.wakes == 2
    got = board.take(0.0)
    assert got is not None
    assert got.sequence == 9


def test_turns_are_fair_among_cameras_with_motion_and_skip_still_ones() -> None:
    clock = Clock()
    cams = ["a", "b", "c", "still"]
    motion = {c: Motion() for c in cams}
    for c in ("a", "b", "c"):
        motion[c].moving = True
    policy = GatePolicy(gated=True, keepalive_s=1000.0)
    board = FrameBoard(cams, policies=dict.fromkeys(cams, policy), motion=motion, clock=clock)
    for c in cams:  # the first frame of every camera runs (nothing known about it yet)
        board.slots[c].put(frame(c, 0))
    assert sorted(f.camera for f in iter(lambda: board.take(0.0), None)) == sorted(cams)
    served = dict.fromkeys(cams, 0)
    for seq in range(1, 31):
        for c in cams:
            board.slots[c].put(frame(c, seq))
        got = board.take(0.0)  # one worker, one turn per round: less than all of them need
        assert got is not None
        served[got.camera] += 1
        clock.now_s += 0.01
    assert served["still"] == 0
    assert served["a"] == served["b"] == served["c"] == 10


def test_the_camera_that_ran_longest_ago_goes_first() -> None:
    """Among cameras that may run, the one whose last run is oldest is served first (in turn
    when that is equal): motion starting on a still camera is not put behind the busy ones."""
    clock = Clock()
    cams = ["a", "b", "still"]
    motion = {c: Motion() for c in cams}
    motion["a"].moving = motion["b"].moving = True
    policy = GatePolicy(gated=True, keepalive_s=1000.0)
    board = FrameBoard(cams, policies=dict.fromkeys(cams, policy), motion=motion, clock=clock)
    served = []
    for seq in range(5):
        for c in cams:
            board.slots[c].put(frame(c, seq))
        got = board.take(0.0)
        assert got is not None
        served.append(got.camera)
        clock.now_s += 0.01
    assert served == ["a", "b", "still", "a", "b"]  # first frames in turn, then a and b only
    board.take(0.0)  # a's newest: "b" is next in turn
    motion["still"].moving = True
    for c in cams:
        board.slots[c].put(frame(c, 9))
    got = board.take(0.0)
    assert got is not None
    assert got.camera == "still"  # its last run is the oldest


def test_a_lossless_source_is_not_held_up_by_the_gate() -> None:
    clock = Clock()
    board = FrameBoard(["f"], policies={"f": GatePolicy(detect_fps=2)}, clock=clock)
    slot = board.slots["f"]
    slot.lossless = True
    slot.put(frame("f", 0))
    assert board.take(0.0) is not None
    for seq in range(1, 5):
        slot.put(frame("f", seq))  # dropped at once: the file goes on
        assert not slot.has_frame()
    assert slot.drops()[DropReason.RATE_LIMIT] == 4


def test_gating_needs_a_motion_check() -> None:
    with pytest.raises(ValueError, match="camera a: motion gating needs a motion check"):
        FrameBoard(["a"], policies={"a": GatePolicy(gated=True)})


def test_due_is_infinite_without_waiting_frames() -> None:
    board = FrameBoard(["a"])
    frame_, wait_s = board._try_take()
    assert frame_ is None
    assert math.isinf(wait_s)


def test_results_keep_their_frames_sequence_through_a_gated_pipeline() -> None:
    """Capture thread -> gated board -> worker -> dispatcher -> events: each event's
    ``sequence`` names the frame it came from, though the gate left most frames out."""
    from camera_app.outputs.events import event

    stop = threading.Event()
    board = FrameBoard(["a"], policies={"a": GatePolicy(detect_fps=20)})
    seen: list[tuple[int, int]] = []

    class Sink:
        def handle(self, r: object) -> None:
            e = event(r)  # type: ignore[arg-type]
            seen.append((e["sequence"], int(r.frame.image_bgr[0, 0, 0])))  # type: ignore[attr-defined]

        def close(self) -> None:
            pass

    d = Dispatcher({"a": [Sink()]}, stop)
    cap = CaptureThread("a", FakeSource([Session(frames=None, interval_s=0.005)]), stop,
                        latest=board.slots["a"])  # fmt: skip
    w = InferenceWorker(0, FakeDetector(), board, d.publish, stop, {})  # type: ignore[arg-type]
    for t in (d, w, cap):
        t.start()
    assert wait_until(lambda: len(seen) >= 10)
    stop.set()
    for t in (cap, w, d):
        assert t.stop(5)
    # FakeSource fills frame n (from 1) with n % 256; the capture thread numbers from 0.
    assert all(pixel == (seq + 1) % 256 for seq, pixel in seen), seen
    assert [seq for seq, _ in seen] == sorted({seq for seq, _ in seen})  # each once, in order


def test_observers_see_every_frame_run_or_not_and_cannot_break_the_camera(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    board = FrameBoard(["a"], policies={"a": GatePolicy(gated=True, keepalive_s=10)},
                       motion={"a": Motion()}, clock=clock)  # fmt: skip
    slot = board.slots["a"]
    seen: list[int] = []

    def broken(f: Frame) -> None:
        raise RuntimeError("viewer bug")

    slot.observers += [lambda f: seen.append(f.sequence), broken]
    for seq in range(4):
        slot.put(frame("a", seq))
    assert seen == [0, 1, 2, 3]  # the live view gets frames the gate holds back
    assert board.take(0.0) is not None  # the broken observer did not stop the frames
    assert "a frame observer failed" in caplog.text
