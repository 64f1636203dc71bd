"""The capture layer on fakes: latest-frame slot, backoff, stalls, isolation and stopping.

Timing is never asserted: tests wait (generously) for states and counters.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camera_app.errors import ConfigError, SourceError
from camera_app.sources import (
    BackoffPolicy,
    CaptureState,
    CaptureThread,
    DropReason,
    ErrorKind,
    Frame,
    LatestFrame,
)
from camera_app.sources.backoff import Backoff
from tests.fakes import FakeSource, Session, make_image, wait_until

FAST = BackoffPolicy(initial_s=0.05, max_s=0.2, multiplier=2.0, jitter=0.0)


def frame(sequence: int, age_s: float = 0.0) -> Frame:
    now = time.monotonic()
    return Frame(make_image(sequence), "cam", sequence, now - age_s, time.time() - age_s)


# -- LatestFrame ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "got", "replaced"),
    [
        # ops: "p" put the next frame, "g" get (timeout 0); got: sequences returned by the gets
        ("pg", [0], 0),
        ("ppg", [1], 1),
        ("pppg", [2], 2),
        ("pgpg", [0, 1], 0),
        ("g", [None], 0),
        ("pgg", [0, None], 0),
        ("ppgppg", [1, 3], 2),
    ],
)
def test_latest_keeps_newest_and_counts_replaced(
    ops: str, got: list[int | None], replaced: int
) -> None:
    slot = LatestFrame()
    seq, results = 0, []
    for op in ops:
        if op == "p":
            slot.put(frame(seq))
            seq += 1
        else:
            f = slot.get(timeout_s=0.0)
            results.append(None if f is None else f.sequence)
    assert results == got
    assert slot.drops() == {**dict.fromkeys(DropReason, 0), DropReason.REPLACED: replaced}


@pytest.mark.parametrize(
    ("age_s", "max_age_s", "returned", "too_old"),
    [
        (0.0, None, True, 0),
        (5.0, None, True, 0),
        (0.0, 10.0, True, 0),
        (5.0, 1.0, False, 1),
    ],
)
def test_latest_drops_too_old(
    age_s: float, max_age_s: float | None, returned: bool, too_old: int
) -> None:
    slot = LatestFrame()
    slot.put(frame(7, age_s=age_s))
    got = slot.get(timeout_s=0.05, max_age_s=max_age_s)
    assert (got is not None) is returned
    assert slot.drops()[DropReason.TOO_OLD] == too_old
    assert slot.get(timeout_s=0.0) is None  # a too-old frame is gone, not kept


def test_latest_get_waits_for_a_put_from_another_thread() -> None:
    slot = LatestFrame()
    timer = threading.Timer(0.05, lambda: slot.put(frame(3)))
    timer.start()
    try:
        got = slot.get(timeout_s=10.0)
    finally:
        timer.join(5.0)
    assert got is not None
    assert got.sequence == 3


# -- Backoff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BackoffPolicy(0.5, 8.0, 2.0, 0.0), [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]),
        (BackoffPolicy(1.0, 30.0, 3.0, 0.0), [1.0, 3.0, 9.0, 27.0, 30.0]),
        (BackoffPolicy(2.0, 2.0, 2.0, 0.0), [2.0, 2.0, 2.0]),
        (BackoffPolicy(0.1, 1.0, 1.0, 0.0), [0.1, 0.1, 0.1]),
    ],
)
def test_backoff_sequence_without_jitter(policy: BackoffPolicy, expected: list[float]) -> None:
    backoff = Backoff(policy)
    assert [backoff.next_delay_s() for _ in expected] == pytest.approx(expected)
    backoff.reset()
    assert backoff.next_delay_s() == pytest.approx(policy.initial_s)


def test_backoff_jitter_is_deterministic_with_a_seeded_rng() -> None:
    policy = BackoffPolicy(initial_s=1.0, max_s=100.0, multiplier=2.0, jitter=0.5)
    first = [Backoff(policy, random.Random(42)).next_delay_s() for _ in range(1)]
    a, b = Backoff(policy, random.Random(42)), Backoff(policy, random.Random(42))
    seq_a = [a.next_delay_s() for _ in range(6)]
    assert seq_a == [b.next_delay_s() for _ in range(6)]
    assert seq_a[0] == first[0]
    rng = random.Random(42)
    assert seq_a == pytest.approx([2.0**n * rng.uniform(0.5, 1.5) for n in range(6)])
    assert len(set(seq_a)) == 6  # the jitter did something


@given(
    initial_s=st.floats(0.01, 10.0),
    ratio=st.floats(1.0, 100.0),
    multiplier=st.floats(1.0, 5.0),
    jitter=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_backoff_delays_stay_within_bounds(
    initial_s: float, ratio: float, multiplier: float, jitter: float, seed: int
) -> None:
    policy = BackoffPolicy(initial_s, initial_s * ratio, multiplier, jitter)
    backoff = Backoff(policy, random.Random(seed))
    for n in range(200):
        base = min(policy.max_s, initial_s * multiplier**n)
        delay = backoff.next_delay_s()
        slack = 1e-9 * base
        assert initial_s / 10 - 1e-12 <= delay <= policy.max_s
        assert delay >= base * (1 - jitter) - slack
        assert delay <= base * (1 + jitter) + slack
    if initial_s * multiplier**199 >= policy.max_s:  # the cap is reached, not stopped short
        assert delay >= policy.max_s * (1 - jitter) - 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0.0},
        {"initial_s": 5.0, "max_s": 1.0},
        {"multiplier": 0.5},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"stable_s": -1.0},
    ],
)
def test_backoff_policy_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        BackoffPolicy(**kwargs)


# -- CaptureThread ---------------------------------------------------------------------------


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def start(
    camera: str, source: FakeSource, stop: threading.Event, **kwargs: object
) -> CaptureThread:
    options: dict[str, object] = {
        "open_timeout_s": 2.0,
        "read_timeout_s": 1.0,
        "stall_timeout_s": 5.0,
        "backoff": FAST,
        "rng": random.Random(0),
    }
    options.update(kwargs)
    thread = CaptureThread(camera, source, stop, **options)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_frames_flow_into_the_latest_slot(stop: threading.Event) -> None:
    cap = start("front", FakeSource([Session()]), stop)
    assert wait_until(lambda: cap.snapshot().frames_captured >= 5)
    snap = cap.snapshot()
    assert snap.state is CaptureState.STREAMING
    assert snap.reconnects == 0
    assert sum(snap.errors_by_kind.values()) == 0
    first = cap.latest.get(timeout_s=5.0)
    second = cap.latest.get(timeout_s=5.0)
    assert first is not None
    assert second is not None
    assert first.camera == "front"
    assert first.image_bgr.shape == (48, 64, 3)
    assert second.sequence > first.sequence
    assert second.capture_monotonic_s >= first.capture_monotonic_s
    stop.set()
    assert cap.stop(5.0)


def test_unconsumed_frames_are_counted_as_replaced(stop: threading.Event) -> None:
    cap = start("cam", FakeSource([Session(interval_s=0.001)]), stop)
    assert wait_until(lambda: cap.snapshot().frames_replaced >= 10)
    snap = cap.snapshot()
    # Nobody consumed: every frame but the one in the slot was replaced.
    assert snap.frames_replaced in (
        snap.frames_captured - 1,
        snap.frames_captured - 2,
        snap.frames_captured,
    )
    stop.set()
    assert cap.stop(5.0)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (SourceError("rtsp://cam: connection refused", kind="refused"), ErrorKind.REFUSED),
        (SourceError("rtsp://cam: 401", kind="unauthorized"), ErrorKind.UNAUTHORIZED),
        (SourceError("rtsp://cam: 404", kind="not_found"), ErrorKind.NOT_FOUND),
        (SourceError("rtsp://cam: no answer", kind="timeout"), ErrorKind.TIMEOUT),
        (ConnectionRefusedError(111, "Connection refused"), ErrorKind.REFUSED),
        (RuntimeError("a bug in a plug-in"), ErrorKind.OTHER),
    ],
)
def test_failed_open_backs_off_counts_and_recovers(
    stop: threading.Event, error: Exception, kind: ErrorKind
) -> None:
    source = FakeSource([Session(open_error=error), Session(open_error=error), Session()])
    cap = start("cam", source, stop)
    assert wait_until(lambda: cap.snapshot().frames_captured >= 3)
    snap = cap.snapshot()
    assert snap.state is CaptureState.STREAMING
    assert snap.errors_by_kind[kind] == 2
    assert snap.reconnects == 2
    assert snap.last_error_kind is kind
    stop.set()
    assert cap.stop(5.0)


def test_state_is_backing_off_with_the_reason(stop: threading.Event) -> None:
    error = SourceError("rtsp://cam:554/x: the server answered 404", kind="not_found")
    source = FakeSource([Session(open_error=error)])
    cap = start("cam", source, stop, backoff=BackoffPolicy(initial_s=30.0, max_s=30.0))
    assert wait_until(lambda: cap.snapshot().state is CaptureState.BACKING_OFF)
    snap = cap.snapshot()
    assert snap.last_error_kind is ErrorKind.NOT_FOUND
    assert snap.last_error_message is not None
    assert "404" in snap.last_error_message
    assert snap.state_since_monotonic_s <= time.monotonic()
    assert snap.alive
    stop.set()
    assert cap.stop(5.0)  # the 30 s backoff wait ends on the stop event


def test_a_hung_read_is_a_stall_and_reconnects(stop: threading.Event) -> None:
    source = FakeSource([Session(frames=5, then="hang"), Session()])
    cap = start("cam", source, stop, stall_timeout_s=0.5)
    try:
        assert wait_until(lambda: cap.snapshot().reconnects >= 1 and source.hung == 1)
        assert wait_until(lambda: cap.snapshot().frames_captured >= 10)
        snap = cap.snapshot()
        assert snap.state is CaptureState.STREAMING
        assert snap.errors_by_kind[ErrorKind.TIMEOUT] == 1
        assert snap.last_error_message is not None
        assert "stalled" in snap.last_error_message
        assert source.hung == 1  # the first reader is still blocked: abandoned, not waited on
        assert snap.hung_readers == 1
        source.release()
        assert wait_until(lambda: cap.snapshot().hung_readers == 0)
        assert cap.snapshot().state is CaptureState.STREAMING  # its late return was discarded
    finally:
        stop.set()
        assert cap.stop(5.0)
        source.release()


def test_a_source_that_hangs_every_session_piles_up_no_more_readers(
    stop: threading.Event,
) -> None:
    """Each abandoned reader keeps a thread and its capture: at the limit the camera opens
    nothing more, says why, and goes on once a blocked reader returns."""
    source = FakeSource([Session(frames=1, then="hang")])  # every session hangs after a frame
    cap = start("cam", source, stop, stall_timeout_s=0.3, max_hung_readers=2)
    try:
        assert wait_until(lambda: source.hung == 2)
        said = "2 reader threads are still blocked"
        assert wait_until(lambda: said in (cap.snapshot().last_error_message or ""))
        snap = cap.snapshot()
        assert snap.state is CaptureState.BACKING_OFF
        assert snap.hung_readers == 2
        opens = source.opens
        # Three stall timeouts and more than the whole backoff: without the limit a third
        # and fourth session would have started and hung by now.
        time.sleep(1.2)
        assert source.opens == opens == 2
        assert source.hung == 2
        source.release()  # the blocked reads return (with an error)
        assert wait_until(lambda: source.opens > opens)
        assert wait_until(lambda: cap.snapshot().hung_readers == 0)
    finally:
        stop.set()
        assert cap.stop(5.0)  # stop also ends the wait at the limit
        source.release()


def test_stop_ends_the_wait_at_the_hung_reader_limit(stop: threading.Event) -> None:
    source = FakeSource([Session(frames=1, then="hang")])
    cap = start("cam", source, stop, stall_timeout_s=0.3, max_hung_readers=1)
    try:
        said = "1 reader thread is still blocked"
        assert wait_until(lambda: said in (cap.snapshot().last_error_message or ""))
        time.sleep(0.3)  # inside the wait at the limit, between two of its checks
        stop.set()
        assert cap.stop(2.0)
        assert source.opens == 1
    finally:
        stop.set()
        source.release()


def test_a_hung_open_is_abandoned(stop: threading.Event) -> None:
    source = FakeSource([Session(open_hangs=True), Session()])
    cap = start("cam", source, stop, open_timeout_s=0.2)
    try:
        assert wait_until(lambda: cap.snapshot().frames_captured >= 3, timeout_s=20.0)
        snap = cap.snapshot()
        assert snap.errors_by_kind[ErrorKind.TIMEOUT] == 1
        assert snap.reconnects == 1
    finally:
        stop.set()
        assert cap.stop(5.0)
        source.release()


def test_read_errors_reconnect_and_a_stable_session_resets_the_backoff(
    stop: threading.Event,
) -> None:
    boom = SourceError("stream broke", kind="other")
    source = FakeSource([Session(frames=3, then=boom)])  # repeats: 3 frames, then an error
    cap = start(
        "cam",
        source,
        stop,
        # stable_s 0: any session that streamed counts as stable.
        backoff=BackoffPolicy(0.05, 60.0, multiplier=10.0, jitter=0.0, stable_s=0.0),
    )
    # Without a reset the 4th delay would be 50 s; with it, every delay is 0.05 s.
    seen: set[float] = set()

    def reconnected() -> bool:
        snap = cap.snapshot()
        if snap.backoff_s is not None:
            seen.add(snap.backoff_s)
        return snap.reconnects >= 4

    assert wait_until(reconnected)
    assert cap.snapshot().errors_by_kind[ErrorKind.OTHER] >= 4
    assert seen <= {0.05}
    stop.set()
    assert cap.stop(5.0)


def test_a_camera_that_flaps_keeps_backing_off(stop: threading.Event) -> None:
    # A frame, then gone, again and again: each session streamed for less than stable_s, so
    # the delays grow (0.05, 0.5, 5 s) instead of starting from 0.05 s after every frame.
    boom = SourceError("stream broke", kind="other")
    source = FakeSource([Session(frames=1, then=boom)])
    cap = start(
        "cam",
        source,
        stop,
        backoff=BackoffPolicy(0.05, 5.0, multiplier=10.0, jitter=0.0, stable_s=3600.0),
    )
    assert wait_until(lambda: cap.snapshot().backoff_s == 5.0, timeout_s=30.0)
    snap = cap.snapshot()
    assert snap.state is CaptureState.BACKING_OFF
    assert snap.frames_captured >= 3
    assert snap.reconnects == 2
    stop.set()
    assert cap.stop(5.0)  # the 5 s wait ends on the stop event


def test_a_session_counts_as_stable_after_stable_s() -> None:
    backoff = Backoff(BackoffPolicy(1.0, 100.0, multiplier=2.0, jitter=0.0, stable_s=30.0))
    assert [backoff.next_delay_s() for _ in range(3)] == [1.0, 2.0, 4.0]
    backoff.streamed(29.9)  # a flap: the delays go on growing
    assert backoff.next_delay_s() == 8.0
    backoff.streamed(30.0)
    assert backoff.next_delay_s() == 1.0


@pytest.mark.parametrize(
    "image",
    [
        make_image(1)[:, :, 0],  # gray
        make_image(1).astype("float32"),
        make_image(1)[:, :, :2],
    ],
)
def test_a_malformed_image_is_a_decode_error(stop: threading.Event, image: object) -> None:
    source = FakeSource([Session(image=image)])  # type: ignore[arg-type]
    cap = start("cam", source, stop)
    assert wait_until(lambda: cap.snapshot().errors_by_kind[ErrorKind.DECODE] >= 1)
    assert cap.snapshot().frames_captured == 0
    stop.set()
    assert cap.stop(5.0)


def test_eof_is_final(stop: threading.Event) -> None:
    cap = start("file", FakeSource([Session(frames=4, then="eof")]), stop)
    assert cap.stop(10.0)
    snap = cap.snapshot()
    assert snap.state is CaptureState.FAILED
    assert snap.last_error_kind is ErrorKind.EOF
    assert snap.frames_captured == 4
    assert not snap.alive


def test_a_failing_camera_never_stops_the_others(stop: threading.Event) -> None:
    bad = FakeSource([Session(open_error=SourceError("refused", kind="refused"))])
    hanging = FakeSource([Session(frames=2, then="hang")])
    good = FakeSource([Session(interval_s=0.02)])
    caps = [
        start("bad", bad, stop),
        start("hanging", hanging, stop, stall_timeout_s=0.3),
        start("good", good, stop),
    ]
    try:
        assert wait_until(lambda: caps[0].snapshot().errors_by_kind[ErrorKind.REFUSED] >= 3)
        assert wait_until(lambda: caps[1].snapshot().errors_by_kind[ErrorKind.TIMEOUT] >= 2)
        before = caps[2].snapshot().frames_captured
        assert wait_until(lambda: caps[2].snapshot().frames_captured >= before + 20)
        assert caps[2].snapshot().state is CaptureState.STREAMING
        assert sum(caps[2].snapshot().errors_by_kind.values()) == 0
    finally:
        stop.set()
        assert all(cap.stop(5.0) for cap in caps)
        hanging.release()


def test_the_stop_event_ends_every_thread(stop: threading.Event) -> None:
    sources = [
        FakeSource([Session()]),  # streaming
        FakeSource([Session(frames=1, then="hang")]),  # blocked in read
        FakeSource([Session(open_hangs=True)]),  # blocked in open
        FakeSource([Session(open_error=SourceError("no", kind="refused"))]),  # backing off
    ]
    caps = [
        start(f"cam{i}", s, stop, backoff=BackoffPolicy(initial_s=60.0, max_s=60.0))
        for i, s in enumerate(sources)
    ]
    try:
        assert wait_until(lambda: caps[0].snapshot().state is CaptureState.STREAMING)
        assert wait_until(lambda: sources[1].hung == 1 and sources[2].hung == 1)
        assert wait_until(lambda: caps[3].snapshot().state is CaptureState.BACKING_OFF)
        stop.set()
        assert [cap.stop(5.0) for cap in caps] == [True] * 4
        assert all(s.closes >= 1 for s in sources)
    finally:
        for s in sources:
            s.release()


def test_join_reports_a_thread_that_is_still_alive(
    stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    cap = start("cam", FakeSource([Session()]), stop)
    with caplog.at_level(logging.WARNING, logger="camera_app.sources.capture"):
        assert cap.stop(0.01) is False
    assert "cam" in caplog.text
    assert "still alive" in caplog.text
    stop.set()
    assert cap.stop(5.0) is True


def test_credentials_never_reach_state_or_logs(
    stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hunter2-s3cret"
    url = f"rtsp://admin:{secret}@10.0.0.9:554/stream"
    error = SourceError(f"{url}: the server answered 401", kind="unauthorized")
    source = FakeSource([Session(open_error=error)], description=url)
    with caplog.at_level(logging.DEBUG):
        cap = start("door", source, stop)
        assert wait_until(lambda: cap.snapshot().errors_by_kind[ErrorKind.UNAUTHORIZED] >= 2)
        snap = cap.snapshot()
        stop.set()
        assert cap.stop(5.0)
    assert secret not in repr(snap)
    assert "10.0.0.9" in snap.description
    assert snap.last_error_message is not None
    assert "10.0.0.9" in snap.last_error_message
    assert secret not in caplog.text
    assert "401" in caplog.text


def test_a_camera_down_for_many_attempts_logs_one_line_then_one_when_it_is_back(
    stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera down all night retried every 30 s wrote a line per attempt (120 an hour); now
    the outage's first failure, then one line when it streams again, and every attempt counted."""
    refused = SourceError("rtsp://cam: connection refused", kind="refused")
    source = FakeSource([*[Session(open_error=refused)] * 12, Session()])
    tiny = BackoffPolicy(initial_s=0.01, max_s=0.02, jitter=0.0)
    with caplog.at_level(logging.INFO, logger="camera_app.sources.capture"):
        cap = start("door", source, stop, backoff=tiny)
        assert wait_until(lambda: cap.snapshot().frames_captured >= 1)
        snap = cap.snapshot()
        stop.set()
        assert cap.stop(5.0)
    assert snap.reconnects == 12
    assert snap.errors_by_kind[ErrorKind.REFUSED] == 12
    lines = [r.getMessage() for r in caplog.records if r.name == "camera_app.sources.capture"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("camera door: rtsp://cam: connection refused [refused]; retrying")
    assert lines[1].startswith("camera door: streaming from fake again after 12 failed attempts")


@pytest.mark.parametrize("name", ["open_timeout_s", "read_timeout_s", "stall_timeout_s"])
def test_capture_thread_rejects_bad_timeouts(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        CaptureThread("cam", FakeSource(), threading.Event(), **{name: 0.0})  # type: ignore[arg-type]
