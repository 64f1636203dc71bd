"""Against a REAL RTSP server (gst-rtsp-server on loopback, H.264 at real-time pace):
frames arrive, the server dies and comes back and the capture reconnects by itself, failures
are classified and backed off, and credentials never show."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator

import pytest

from camera_app.sources import (
    BackoffPolicy,
    CaptureState,
    CaptureThread,
    ErrorKind,
    SourceSpec,
    Transport,
    open_source,
)
from tests.fakes import wait_until
from tests.sources.servers import RtspServerProcess, TinyServer, free_port

pytestmark = pytest.mark.slow

SECRET = "Rtsp-p4ss%word"
QUICK = BackoffPolicy(initial_s=0.2, max_s=1.0, multiplier=2.0, jitter=0.1)

StartServer = Callable[..., RtspServerProcess]


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def capture(camera: str, url: str, stop: threading.Event, transport: str = "tcp") -> CaptureThread:
    spec = SourceSpec(
        source=url, transport=Transport(transport), open_timeout_s=5.0, read_timeout_s=3.0
    )
    thread = CaptureThread(
        camera,
        open_source(spec),
        stop,
        open_timeout_s=spec.open_timeout_s,
        read_timeout_s=spec.read_timeout_s,
        stall_timeout_s=6.0,
        backoff=QUICK,
        rng=random.Random(1),
    )
    thread.start()
    return thread


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_frames_arrive_from_a_real_server(
    rtsp_server: StartServer, stop: threading.Event, transport: str
) -> None:
    server = rtsp_server()
    cap = capture("real", server.url(), stop, transport=transport)
    try:
        assert wait_until(lambda: cap.snapshot().frames_captured >= 10, timeout_s=30.0), (
            cap.snapshot(),
            server.log_tail(),
        )
        frame = cap.latest.get(timeout_s=5.0)
        assert frame is not None
        assert frame.image_bgr.shape == (240, 320, 3)
        assert frame.image_bgr.std() > 10  # a photo, not a flat test colour
        snap = cap.snapshot()
        assert snap.state is CaptureState.STREAMING
        assert snap.reconnects == 0
    finally:
        stop.set()
        assert cap.stop(10.0)


def test_the_capture_reconnects_after_the_server_dies_and_returns(
    rtsp_server: StartServer, stop: threading.Event
) -> None:
    server = rtsp_server()
    cap = capture("phoenix", server.url(), stop)
    seen: list[CaptureState] = []

    def state_is(*states: CaptureState) -> bool:
        state = cap.snapshot().state
        if not seen or seen[-1] is not state:
            seen.append(state)
        return state in states

    try:
        assert wait_until(
            lambda: state_is(CaptureState.STREAMING) and cap.snapshot().frames_captured >= 5,
            timeout_s=30.0,
        )
        server.stop(kill=True)  # a crash, mid-stream
        assert wait_until(
            lambda: state_is(CaptureState.BACKING_OFF, CaptureState.CONNECTING), timeout_s=20.0
        )
        # While it is down, reconnecting finds nothing listening.
        assert wait_until(
            lambda: cap.snapshot().errors_by_kind[ErrorKind.REFUSED] >= 2, timeout_s=20.0
        ), cap.snapshot()
        before = cap.snapshot().frames_captured
        server.start()  # same port
        assert wait_until(
            lambda: (
                state_is(CaptureState.STREAMING) and cap.snapshot().frames_captured >= before + 10
            ),
            timeout_s=40.0,
        ), (cap.snapshot(), server.log_tail())
        snap = cap.snapshot()
        assert snap.reconnects >= 1
        assert sum(snap.errors_by_kind.values()) >= 1
        # streaming -> (backing off | connecting)... -> streaming, in that order
        first = seen.index(CaptureState.STREAMING)
        assert seen[first + 1] in (CaptureState.BACKING_OFF, CaptureState.CONNECTING), seen
        assert seen[-1] is CaptureState.STREAMING, seen
    finally:
        stop.set()
        assert cap.stop(10.0)


def test_failures_are_classified_backed_off_and_never_disturb_a_healthy_camera(
    rtsp_server: StartServer, stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    server = rtsp_server()
    userinfo = f"admin:{SECRET}"
    with TinyServer(lambda request: None) as silent, caplog.at_level(logging.DEBUG):
        cases = {
            "wrong-port": (f"rtsp://{userinfo}@127.0.0.1:{free_port()}/cam", ErrorKind.REFUSED),
            "wrong-path": (server.url("/nope", userinfo), ErrorKind.NOT_FOUND),
            "silent": (f"rtsp://{userinfo}@127.0.0.1:{silent.port}/cam", ErrorKind.TIMEOUT),
        }
        healthy = capture("healthy", server.url(), stop)
        failing = {name: capture(name, url, stop) for name, (url, _) in cases.items()}
        try:
            for name, (_, kind) in cases.items():
                cap = failing[name]
                assert wait_until(
                    lambda cap=cap, kind=kind: cap.snapshot().errors_by_kind[kind] >= 2,
                    timeout_s=40.0,
                ), (name, cap.snapshot())
            assert wait_until(lambda: healthy.snapshot().frames_captured >= 30, timeout_s=30.0)
            for name, (_, kind) in cases.items():
                snap = failing[name].snapshot()
                assert snap.frames_captured == 0
                assert snap.last_error_kind is kind
                assert snap.state in (CaptureState.BACKING_OFF, CaptureState.CONNECTING)
                assert snap.reconnects >= 1
                assert snap.last_error_message is not None
                assert "127.0.0.1" in snap.last_error_message
                assert SECRET not in repr(snap)
            good = healthy.snapshot()
            assert good.state is CaptureState.STREAMING
            assert sum(good.errors_by_kind.values()) == 0
        finally:
            stop.set()
            assert all(c.stop(10.0) for c in [healthy, *failing.values()])
    assert "retrying in" in caplog.text
    assert SECRET not in caplog.text
    assert "p4ss" not in caplog.text


@pytest.mark.parametrize(
    ("password", "streams"),
    [(SECRET, True), ("wrong-password", False)],
)
def test_credentials_work_and_never_show(
    rtsp_server: StartServer,
    stop: threading.Event,
    caplog: pytest.LogCaptureFixture,
    password: str,
    streams: bool,
) -> None:
    from urllib.parse import quote

    server = rtsp_server(user="admin", password=SECRET)
    url = server.url(userinfo=f"admin:{quote(password, safe='')}")
    with caplog.at_level(logging.DEBUG):
        cap = capture("door", url, stop)
        try:
            if streams:
                assert wait_until(lambda: cap.snapshot().frames_captured >= 5, timeout_s=30.0), (
                    cap.snapshot(),
                    server.log_tail(),
                )
                assert cap.snapshot().state is CaptureState.STREAMING
            else:
                assert wait_until(
                    lambda: cap.snapshot().errors_by_kind[ErrorKind.UNAUTHORIZED] >= 2,
                    timeout_s=30.0,
                ), cap.snapshot()
                snap = cap.snapshot()
                assert snap.frames_captured == 0
                assert snap.state in (CaptureState.BACKING_OFF, CaptureState.CONNECTING)
            snap = cap.snapshot()
        finally:
            stop.set()
            assert cap.stop(10.0)
    for secret in (password, quote(password, safe=""), SECRET, "p4ss"):
        assert secret not in repr(snap)
        assert secret not in caplog.text
    assert "127.0.0.1" in snap.description
