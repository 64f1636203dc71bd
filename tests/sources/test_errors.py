"""Error classification: exceptions, status codes and messages, and the network pre-flights
against real loopback sockets (nothing listening, a silent server, scripted RTSP/HTTP answers)."""

from __future__ import annotations

import base64
import errno
import socket

import pytest

from camera_app.errors import SourceError
from camera_app.sources import ErrorKind, classify
from camera_app.sources.errors import ProbeResult, probe_http, probe_rtsp, probe_tcp
from tests.sources.servers import TinyServer, cseq_of, free_port, rtsp_reply

SECRET = "pa55-w0rd"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), ErrorKind.REFUSED),
        (TimeoutError("timed out"), ErrorKind.TIMEOUT),
        (socket.gaierror(-2, "Name or service not known"), ErrorKind.NOT_FOUND),
        (FileNotFoundError(errno.ENOENT, "No such file"), ErrorKind.NOT_FOUND),
        (PermissionError(errno.EACCES, "Permission denied"), ErrorKind.UNAUTHORIZED),
        (OSError(errno.EHOSTUNREACH, "No route to host"), ErrorKind.TIMEOUT),
        (OSError(errno.ENODEV, "No such device"), ErrorKind.NOT_FOUND),
        (EOFError(), ErrorKind.EOF),
        (SourceError("x", kind="decode"), ErrorKind.DECODE),
        (SourceError("x", kind="no-such-kind"), ErrorKind.OTHER),
        (RuntimeError("something odd"), ErrorKind.OTHER),
        (RuntimeError("method DESCRIBE failed: 401 Unauthorized"), ErrorKind.UNAUTHORIZED),
    ],
)
def test_classify_exceptions(error: BaseException, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_an_opencv_error_while_reading_is_a_decode_error() -> None:
    import cv2
    import numpy as np

    with pytest.raises(cv2.error) as info:  # what a frame of a corrupt stream can raise
        cv2.cvtColor(np.zeros((2, 2, 5), np.uint8), cv2.COLOR_BGR2GRAY)
    assert classify(info.value) is ErrorKind.DECODE


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ErrorKind.UNAUTHORIZED),
        (403, ErrorKind.UNAUTHORIZED),
        (404, ErrorKind.NOT_FOUND),
        (454, ErrorKind.NOT_FOUND),
        (408, ErrorKind.TIMEOUT),
        (500, ErrorKind.OTHER),
        (200, ErrorKind.OTHER),
    ],
)
def test_classify_status(status: int, kind: ErrorKind) -> None:
    assert classify(status=status) is kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("method DESCRIBE failed: 401 Unauthorized", ErrorKind.UNAUTHORIZED),
        ("method DESCRIBE failed: 404 Not Found", ErrorKind.NOT_FOUND),
        ("Connection to tcp://10.0.0.1:554 failed: Connection refused", ErrorKind.REFUSED),
        ("Connection timed out", ErrorKind.TIMEOUT),
        ("Invalid data found when processing input", ErrorKind.DECODE),
        ("End of file", ErrorKind.EOF),
        ("", ErrorKind.OTHER),
        ("the moon is in the wrong phase", ErrorKind.OTHER),
    ],
)
def test_classify_text(text: str, kind: ErrorKind) -> None:
    assert classify(text=text) is kind


def test_an_exception_beats_a_status_and_a_status_beats_text() -> None:
    assert classify(ConnectionRefusedError(), status=404, text="timeout") is ErrorKind.REFUSED
    assert classify(RuntimeError("?"), status=404, text="timeout") is ErrorKind.NOT_FOUND


# -- RTSP pre-flight against real sockets ----------------------------------------------------


def _url(port: int, path: str = "/cam", creds: bool = True) -> str:
    userinfo = f"admin:{SECRET}@" if creds else ""
    return f"rtsp://{userinfo}127.0.0.1:{port}{path}"


def _expect(url: str, kind: ErrorKind, timeout_s: float = 2.0) -> SourceError:
    with pytest.raises(SourceError) as info:
        probe_rtsp(url, timeout_s)
    assert info.value.kind == kind.value
    message = str(info.value)
    assert SECRET not in message
    assert "127.0.0.1" in message
    return info.value


@pytest.mark.parametrize("creds", [True, False])
def test_nothing_listening_is_refused(creds: bool) -> None:
    _expect(_url(free_port(), creds=creds), ErrorKind.REFUSED)


@pytest.mark.parametrize(
    ("code", "text", "kind", "says"),
    [
        (socket.EAI_NONAME, "Name or service not known", ErrorKind.NOT_FOUND, "does not resolve"),
        (
            socket.EAI_AGAIN,
            "Temporary failure in name resolution",
            ErrorKind.TIMEOUT,
            "could not be resolved in time",
        ),
    ],
)
def test_a_host_name_that_does_not_resolve_says_so_not_check_the_path(
    monkeypatch: pytest.MonkeyPatch, code: int, text: str, kind: ErrorKind, says: str
) -> None:
    """It said 'check the path of the stream (the part after host:port)' for a name that DNS
    does not know, and the same for a DNS server that did not answer."""

    def lookup(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(code, text)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)  # no DNS in the tests: the resolver's say
    url = f"rtsp://admin:{SECRET}@cam.invalid:554/stream"
    with pytest.raises(SourceError) as info:
        probe_tcp(url, 1.0)
    message = str(info.value)
    assert info.value.kind == kind.value
    assert f"the host name cam.invalid {says}" in message
    assert text in message
    assert "path" not in message
    assert SECRET not in message


def test_a_server_that_accepts_but_never_answers_is_a_timeout() -> None:
    with TinyServer(lambda request: None) as server:
        error = _expect(_url(server.port), ErrorKind.TIMEOUT, timeout_s=0.5)
    assert "did not answer" in str(error)
    assert len(server.requests) == 1


def _status(status: int, reason: str, *headers: str) -> TinyServer:
    return TinyServer(lambda req: rtsp_reply(status, reason, *headers, cseq=cseq_of(req)))


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (404, "Not Found", ErrorKind.NOT_FOUND),
        (401, "Unauthorized", ErrorKind.UNAUTHORIZED),
        (403, "Forbidden", ErrorKind.UNAUTHORIZED),
        (500, "Internal Server Error", ErrorKind.OTHER),
    ],
)
def test_rtsp_status_is_classified(status: int, reason: str, kind: ErrorKind) -> None:
    with _status(status, reason) as server:
        error = _expect(_url(server.port, creds=False), kind)
    assert str(status) in str(error)
    request_line = server.requests[0].split("\r\n")[0]
    assert request_line == f"DESCRIBE rtsp://127.0.0.1:{server.port}/cam RTSP/1.0"


def test_rtsp_ok_passes() -> None:
    with _status(200, "OK", "Content-Type: application/sdp") as server:
        assert probe_rtsp(_url(server.port), 2.0) == ProbeResult(status=200)
    assert all(SECRET not in r for r in server.requests)  # no challenge: no credentials sent


def _basic_server(password: str) -> TinyServer:
    good = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

    def handle(request: str) -> bytes:
        if f"Authorization: {good}" in request:
            return rtsp_reply(200, "OK", cseq=cseq_of(request))
        return rtsp_reply(
            401, "Unauthorized", 'WWW-Authenticate: Basic realm="cam"', cseq=cseq_of(request)
        )

    return TinyServer(handle)


def test_rtsp_basic_auth_with_the_right_password_passes() -> None:
    with _basic_server(SECRET) as server:
        assert probe_rtsp(_url(server.port), 2.0).status == 200
    assert len(server.requests) == 2
    assert "Authorization" not in server.requests[0]  # credentials only after a challenge


def test_rtsp_basic_auth_with_a_wrong_password_is_unauthorized() -> None:
    with _basic_server("another-password") as server:
        error = _expect(_url(server.port), ErrorKind.UNAUTHORIZED)
    assert "credentials missing or wrong" in str(error)


def test_rtsp_401_without_credentials_says_they_are_needed() -> None:
    with _basic_server(SECRET) as server:
        error = _expect(_url(server.port, creds=False), ErrorKind.UNAUTHORIZED)
    assert "needs credentials" in str(error)
    assert len(server.requests) == 1


def test_a_digest_challenge_with_credentials_is_left_to_ffmpeg() -> None:
    digest = 'WWW-Authenticate: Digest realm="cam", nonce="abc"'
    with _status(401, "Unauthorized", digest) as server:
        assert probe_rtsp(_url(server.port), 2.0) == ProbeResult(401, challenged=True)
    with _status(401, "Unauthorized", digest) as server:
        _expect(_url(server.port, creds=False), ErrorKind.UNAUTHORIZED)


def test_a_server_that_is_not_rtsp_is_other() -> None:
    with TinyServer(lambda req: b"HTTP/1.1 400 Bad Request\r\n\r\n") as server:
        error = _expect(_url(server.port), ErrorKind.OTHER)
    assert "not answer in RTSP" in str(error)


# -- HTTP pre-flight -------------------------------------------------------------------------


def _http(status: int, reason: str, *headers: str) -> TinyServer:
    head = "\r\n".join([f"HTTP/1.0 {status} {reason}", *headers, "Content-Length: 0"])
    return TinyServer(lambda req: (head + "\r\n\r\n").encode())


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (401, "Unauthorized", ErrorKind.UNAUTHORIZED),
        (404, "Not Found", ErrorKind.NOT_FOUND),
        (503, "Service Unavailable", ErrorKind.OTHER),
        (200, "OK", None),
    ],
)
def test_http_status_is_classified(status: int, reason: str, kind: ErrorKind | None) -> None:
    with _http(status, reason, 'WWW-Authenticate: Basic realm="x"') as server:
        url = f"http://admin:{SECRET}@127.0.0.1:{server.port}/video.mjpg"
        if kind is None:
            assert probe_http(url, 2.0).status == 200
            return
        with pytest.raises(SourceError) as info:
            probe_http(url, 2.0)
    assert info.value.kind == kind.value
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: None, ErrorKind.REFUSED),
        (lambda: TinyServer(lambda req: None), ErrorKind.TIMEOUT),
    ],
)
def test_http_refused_and_timeout(make: object, kind: ErrorKind) -> None:
    server = make()  # type: ignore[operator]
    if server is None:
        url = f"http://admin:{SECRET}@127.0.0.1:{free_port()}/"
        with pytest.raises(SourceError) as info:
            probe_http(url, 1.0)
    else:
        with server:
            url = f"http://admin:{SECRET}@127.0.0.1:{server.port}/"
            with pytest.raises(SourceError) as info:
                probe_http(url, 0.5)
    assert info.value.kind == kind.value
    assert SECRET not in str(info.value)
