from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, BinaryIO

import cv2
import numpy as np
import pytest

from camera_app.errors import ConfigError
from camera_app.outputs.live import LiveView
from camera_app.server import BOUNDARY, page_server
from tests.outputs.builders import RED_BGR
from tests.outputs.conftest import SECRET, Feeder, Web

TIMEOUT_S = 5.0


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def is_red(image: np.ndarray) -> bool:
    return bool(np.abs(image[120, 160].astype(int) - RED_BGR).max() < 30)


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Stream:
    """A raw-socket MJPEG client: headers, then one part at a time."""

    def __init__(self, port: int, camera: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.sendall(f"GET /stream/{camera}.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.file: BinaryIO = self.sock.makefile("rb")
        self.status = self.file.readline().decode()
        self.headers = self._headers()

    def _headers(self) -> dict[str, str]:
        headers = {}
        while (line := self.file.readline().decode()) not in ("\r\n", ""):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return headers

    def part(self) -> tuple[dict[str, str], bytes]:
        assert self.file.readline() == f"--{BOUNDARY}\r\n".encode()
        headers = self._headers()
        data = self.file.read(int(headers["content-length"]))
        assert self.file.readline() == b"\r\n"
        return headers, data

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_status_json_is_redacted(web: Web) -> None:
    code, headers, body = get(web.base + "/api/status")
    assert code == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    status = json.loads(body)
    assert [c["name"] for c in status["cameras"]] == ["door", "yard"]
    assert status["cameras"][0]["source"] == "rtsp://***:***@10.0.0.5:554/live?token=***"
    assert SECRET not in body.decode()


def test_page_shows_every_camera_escaped_and_without_secrets(web: Web) -> None:
    code, headers, body = get(web.base + "/")
    page = body.decode()
    assert code == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name in ("door", "yard"):
        assert f'<img class="live" src="/stream/{name}.mjpg"' in page
    assert ">connecting<" in page
    assert ">backing_off<" in page
    assert "&lt;b&gt;refused&lt;/b&gt; &amp; gone" in page  # escaped, not markup
    assert '<dd data-field="outputs_failing">record, events</dd>' in page
    assert '<dt>uptime (s)</dt><dd data-summary="uptime_s">12.5</dd>' in page  # words, not keys
    assert "<b>" not in page
    assert SECRET not in page
    assert "rtsp://***:***@10.0.0.5:554/live?token=***" in page


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/status.js", "text/javascript"), ("/static/status.css", "text/css")],
)
def test_static_files(web: Web, path: str, content_type: str) -> None:
    code, headers, body = get(web.base + path)
    assert code == 200
    assert headers["Content-Type"].startswith(content_type)
    assert len(body) > 100


@pytest.mark.parametrize(
    "path",
    ["/stream/attic.mjpg", "/snapshot/attic.jpg", "/snapshot/..%2Fetc.jpg", "/nothing", "/stream/"],
)
def test_unknown_paths_and_cameras_are_404_json(web: Web, path: str) -> None:
    code, headers, body = get(web.base + path)
    assert code == 404
    assert headers["Content-Type"] == "application/json"
    assert "error" in json.loads(body)


def test_snapshot_is_503_before_the_first_frame_then_the_frame(web: Web) -> None:
    code, _, body = get(web.base + "/snapshot/door.jpg")
    assert code == 503
    assert "no frame" in json.loads(body)["error"]

    web.feeder.one("door")
    code, headers, body = get(web.base + "/snapshot/door.jpg")
    assert code == 200
    assert headers["Content-Type"] == "image/jpeg"
    image = decode(body)
    assert image.shape == (240, 320, 3)
    assert is_red(image)
    assert web.live.jpeg_encodes_total("door") == 1


def test_mjpeg_encodes_only_while_watched(web: Web) -> None:
    web.feeder.start("door")
    assert wait_until(lambda: web.feeder.sequence >= 10)
    assert web.live.jpeg_encodes_total("door") == 0  # frames flow, nobody watches

    stream = Stream(web.server.port, "door")
    try:
        assert stream.status.startswith("HTTP/1.0 200")
        assert stream.headers["content-type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        sequences = set()
        for _ in range(4):
            headers, data = stream.part()
            assert headers["content-type"] == "image/jpeg"
            assert is_red(decode(data))
            sequences.add(data)
        assert len(sequences) == 4  # four different frames
        assert web.live.viewers("door") == 1
        assert web.live.jpeg_encodes_total("door") >= 4
    finally:
        stream.close()

    # The stream notices the gone viewer at its next write, and stops encoding.
    assert wait_until(lambda: web.live.viewers("door") == 0)
    assert wait_until(lambda: web.server.streams_open == 0)
    encodes = web.live.jpeg_encodes_total("door")
    fed = web.feeder.sequence
    assert wait_until(lambda: web.feeder.sequence >= fed + 10)
    assert web.live.jpeg_encodes_total("door") == encodes


def test_two_viewers_share_each_encoded_frame(web: Web) -> None:
    web.feeder.start("door")
    streams = [Stream(web.server.port, "door") for _ in range(2)]
    try:
        assert wait_until(lambda: web.live.viewers("door") == 2)
        for _ in range(5):
            for s in streams:
                s.part()
    finally:
        for s in streams:
            s.close()
    # At most one encode per frame fed, however many viewers.
    assert web.live.jpeg_encodes_total("door") <= web.feeder.sequence


def test_stream_before_any_frame_starts_with_a_placeholder(web: Web) -> None:
    stream = Stream(web.server.port, "yard")
    try:
        _, data = stream.part()
        assert np.abs(decode(data)[5, 5].astype(int) - 43).max() <= 3  # dark grey
        web.feeder.one("yard")
        _, data = stream.part()
        assert is_red(decode(data))
    finally:
        stream.close()


def test_stop_ends_open_streams_cleanly(web: Web) -> None:
    web.feeder.one("door")
    stream = Stream(web.server.port, "door")
    try:
        stream.part()
        t0 = time.monotonic()
        assert web.server.stop(timeout_s=30.0)
        # Far below the timeout: the stream was ended, not waited out.
        assert time.monotonic() - t0 < 20.0
        rest = stream.file.read()  # the closing boundary, then EOF
        assert rest.endswith(f"--{BOUNDARY}--\r\n".encode())
    finally:
        stream.close()


def test_foreign_host_header_is_refused_on_loopback(web: Web) -> None:
    code, _, body = get(web.base + "/api/status", headers={"Host": "evil.example:8080"})
    assert code == 403
    assert "Host" in json.loads(body)["error"]
    code, _, _ = get(web.base + "/api/status", headers={"Host": f"localhost:{web.server.port}"})
    assert code == 200


def test_streams_past_max_viewers_get_503_and_are_counted() -> None:
    live = LiveView(["door"])
    server = page_server("127.0.0.1", 0, live, lambda: {"cameras": []}, max_viewers=2)
    server.start()
    feeder = Feeder(live)  # frames to write, so that a stream notices its viewer went away
    streams: list[Stream] = []
    try:
        streams = [Stream(server.port, "door") for _ in range(2)]
        assert all(s.status.startswith("HTTP/1.0 200") for s in streams)
        assert wait_until(lambda: server.viewers.in_use == 2)
        third = Stream(server.port, "door")
        third.close()
        assert third.status.startswith("HTTP/1.0 503")
        assert server.viewers.refused == 1
        code, _, body = get(f"http://127.0.0.1:{server.port}/snapshot/door.jpg")
        assert code == 503  # snapshots are not streams: not refused by the limit
        assert "no frame" in json.loads(body)["error"]
        feeder.start("door")
        streams.pop().close()
        assert wait_until(lambda: server.viewers.in_use == 1)
        again = Stream(server.port, "door")
        streams.append(again)
        assert again.status.startswith("HTTP/1.0 200")
    finally:
        feeder.stop()
        for s in streams:
            s.close()
        live.close()
        assert server.stop(timeout_s=5.0)


def test_failing_status_fn_is_500_and_logged_redacted(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    web.status.fail = True
    with caplog.at_level(logging.ERROR, logger="camera_app.server"):
        code, _, body = get(web.base + "/")
    assert code == 500
    assert SECRET not in body.decode()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert SECRET not in logged


def test_a_port_in_use_is_a_config_error() -> None:
    live = LiveView([])
    status: Callable[[], dict[str, Any]] = dict
    first = page_server("127.0.0.1", 0, live, status)
    try:
        with pytest.raises(ConfigError, match=f"http: cannot listen on 127.0.0.1:{first.port}"):
            page_server("127.0.0.1", first.port, live, status)
    finally:
        assert first.stop(timeout_s=2.0)  # never started: still closes
