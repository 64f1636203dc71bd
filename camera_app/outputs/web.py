"""The HTTP side of the live view: a status page, its JSON, MJPEG streams and snapshots.

    GET /                        the status page (HTML; refreshed by /static/status.js)
    GET /api/status              status_fn() as JSON, every string redacted again
    GET /stream/<camera>.mjpg    multipart/x-mixed-replace JPEGs, one part per new frame
    GET /snapshot/<camera>.jpg   the newest frame (503 before the first one)
    GET /snapshots/<camera>/<name>.jpg   an object event's best snapshot (objects/snapshots)

One thread per connection (daemon), each socket with a timeout; streams wake every 0.25 s to
notice a stopped server. Bound to 127.0.0.1 unless configured otherwise; while bound to a
loopback address, requests whose Host is not a loopback name are refused (DNS rebinding).
At most ``max_viewers`` streams are served at once; more get 503 (``camera_app.http_guard``).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from camera_app.errors import ConfigError
from camera_app.http_guard import ViewerLimit, host_allowed, is_loopback
from camera_app.outputs.live import LiveView, placeholder_jpeg
from camera_app.outputs.page import STATUS_CSS, STATUS_JS, redacted, render_page
from camera_app.redact import redact_text

log = logging.getLogger(__name__)

StatusFn = Callable[[], Mapping[str, Any]]

BOUNDARY = "camera-app-frame"
STREAM_WAKE_S = 0.25  # how often a stream checks for a stopped server
STREAM_KEEPALIVE_S = 5.0  # resend the last frame after this long without a new one
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STREAM = re.compile(r"/stream/([^/]+)\.mjpg")
_SNAPSHOT = re.compile(r"/snapshot/([^/]+)\.jpg")
_EVENT_SNAPSHOT = re.compile(r"/snapshots/([^/]+)/([A-Za-z0-9_-]+\.jpg)")


class _Handler(BaseHTTPRequestHandler):
    server: WebServer
    server_version = "camera_app"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout_s)  # per connection

    def version_string(self) -> str:
        return "camera_app"  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s %s", self.address_string(), format % args)

    # -- responses -------------------------------------------------------------------------

    def _headers(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")

    def _send(self, status: int, body: bytes, content_type: str, *, csp: bool = False) -> None:
        self._headers(status, content_type, len(body))
        if csp:
            self.send_header("Content-Security-Policy", PAGE_CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- routes ----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._error(403, "unexpected Host header")
            return
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            status = self._status()
            if status is not None:
                page = render_page(status, self.server.live.cameras)
                self._send(200, page.encode(), "text/html; charset=utf-8", csp=True)
        elif path == "/api/status":
            status = self._status()
            if status is not None:
                self._json(200, status)
        elif path == "/static/status.js":
            self._send(200, STATUS_JS.encode(), "text/javascript; charset=utf-8")
        elif path == "/static/status.css":
            self._send(200, STATUS_CSS.encode(), "text/css; charset=utf-8")
        elif match := _STREAM.fullmatch(path):
            if self._known(match.group(1)):
                self._stream(match.group(1))
        elif match := _SNAPSHOT.fullmatch(path):
            if self._known(match.group(1)):
                self._snapshot(match.group(1))
        elif (match := _EVENT_SNAPSHOT.fullmatch(path)) and self.server.snapshot_files:
            found = self.server.snapshot_files(match.group(1), match.group(2))
            try:
                data = found.read_bytes() if found is not None else None
            except OSError:  # deleted meanwhile (the folder's size limit)
                data = None
            if data is None:
                self._error(404, "no such snapshot")
            else:
                self._send(200, data, "image/jpeg")
        else:
            self._error(404, "not found")

    def _host_allowed(self) -> bool:
        return host_allowed(self.headers.get("Host"), loopback_only=self.server.loopback_only)

    def _known(self, camera: str) -> bool:
        if self.server.live.has_camera(camera):
            return True
        self._error(404, "unknown camera (or its live view is off)")
        return False

    def _status(self) -> Any:
        try:
            return redacted(self.server.status_fn())
        except Exception as exc:  # a bug in status_fn must not kill the page thread silently
            log.error(
                "status for the web page failed: %s", redact_text(f"{type(exc).__name__}: {exc}")
            )
            self._error(500, "status unavailable; see the log")
            return None

    def _snapshot(self, camera: str) -> None:
        live = self.server.live
        with live.viewer(camera):
            jpeg = live.latest_jpeg(camera)
        if jpeg is None:
            self._error(503, "no frame from this camera yet")
            return
        self._send(200, jpeg.data, "image/jpeg")

    def _stream(self, camera: str) -> None:
        with self.server.viewers.slot() as granted:
            if granted:
                self._stream_granted(camera)
            else:
                limit = self.server.viewers.limit
                self._error(503, f"too many live-view streams open (http.max_viewers: {limit})")

    def _stream_granted(self, camera: str) -> None:
        live, server = self.server.live, self.server
        self._headers(200, f"multipart/x-mixed-replace; boundary={BOUNDARY}", None)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        sequence: int | None = None  # of the frame last sent
        last: bytes | None = None
        last_sent_s = time.monotonic()
        with live.viewer(camera), server.stream_opened():
            try:
                if not live.has_frame(camera):
                    # Browsers hold the page's load event until each image has a first part.
                    last = placeholder_jpeg()
                    self._part(last)
                while not server.stopping.is_set():
                    jpeg = live.wait_jpeg(camera, sequence, STREAM_WAKE_S)
                    if jpeg is not None:
                        sequence, last = jpeg.sequence, jpeg.data
                    elif live.closed:
                        break
                    elif last is None or time.monotonic() - last_sent_s < STREAM_KEEPALIVE_S:
                        continue
                    # else: resend the last part, which tells a silent camera from a gone viewer
                    self._part(last)
                    last_sent_s = time.monotonic()
                self.wfile.write(f"--{BOUNDARY}--\r\n".encode())
            except (ConnectionError, TimeoutError) as exc:
                log.debug("live view of %s: viewer %s went away (%s)", camera,
                          self.address_string(), type(exc).__name__)  # fmt: skip

    def _part(self, jpeg: bytes) -> None:
        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
        self.wfile.write(head.encode() + jpeg + b"\r\n")


class WebServer(ThreadingHTTPServer):
    """``WebServer(address, port, live, status_fn)``; ``start()``, then ``stop(timeout_s)``.

    ``status_fn()`` returns ``{"cameras": [{"name", "state", "source", "fps",
    "last_error"}, ...], "model": {...}, ...}``; other top-level scalars show in the header.
    """

    daemon_threads = True

    def __init__(self, address: str, port: int, live: LiveView, status_fn: StatusFn,
                 *, request_timeout_s: float = 10.0, max_viewers: int = 10) -> None:  # fmt: skip
        if ":" in address:
            self.address_family = socket.AF_INET6
        self.live = live
        self.status_fn = status_fn
        # (camera, file name) -> the file of an object event's snapshot (objects/wiring)
        self.snapshot_files: Callable[[str, str], Path | None] | None = None
        self.request_timeout_s = request_timeout_s
        self.loopback_only = is_loopback(address)
        self.viewers = ViewerLimit(max_viewers)
        self.stopping = threading.Event()
        self._streams = 0
        self._streams_cond = threading.Condition()
        self._thread: threading.Thread | None = None
        try:
            super().__init__((address, port), _Handler)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                f"http: cannot listen on {address} port {port} ({reason}); "
                "pick another http.port (0 picks a free one) or http.address"
            ) from exc

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a broken DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.port

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def streams_open(self) -> int:
        with self._streams_cond:
            return self._streams

    @contextmanager
    def stream_opened(self) -> Iterator[None]:
        """Counts one open stream while the block runs; ``stop()`` waits for them."""
        with self._streams_cond:
            self._streams += 1
        try:
            yield
        finally:
            with self._streams_cond:
                self._streams -= 1
                self._streams_cond.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("http client %s went away: %s", client_address, exc)
        else:
            log.warning("http request from %s failed", client_address, exc_info=True)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()
        host = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        log.info("status page on http://%s:%d/", host, self.port)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stops serving, ends the streams and closes the socket. False if something hung."""
        deadline = time.monotonic() + timeout_s
        self.stopping.set()
        clean = True
        if self._thread is not None:
            # shutdown() itself waits without a timeout, so it runs in a helper thread.
            threading.Thread(target=self.shutdown, name="http-shutdown", daemon=True).start()
            self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.warning("thread %s still alive %.1f s after stop", self._thread.name, timeout_s)
                clean = False
        with self._streams_cond:
            while self._streams and (left := deadline - time.monotonic()) > 0:
                self._streams_cond.wait(left)
            if self._streams:
                log.warning("%d live-view stream threads still open %.1f s after stop",
                            self._streams, timeout_s)  # fmt: skip
                clean = False
        self.server_close()
        return clean
