"""The one HTTP server: status page, MJPEG, API, metrics and probes, on one or two addresses.

    GET /                        the status page (HTML; refreshed by /static/status.js)
    GET /api/status              the telemetry's status document, every string redacted
    GET /stream/<camera>.mjpg    multipart/x-mixed-replace JPEGs, one part per new frame
    GET /snapshot/<camera>.jpg   the newest frame (503 before the first one); /snapshots/
                                 <camera>/<name>.jpg: an object event's (camera_app.objects)
    GET /metrics                 prometheus_client's exposition (text or OpenMetrics, gzip)
    GET /healthz                 200 "ok" while every pipeline thread lives, else 503 + names
    GET /readyz                  JSON; 200 once the model is loaded and every camera streams
It binds when built (a taken port is a clear error before anything starts). A thread and a
socket timeout per connection; a loopback address refuses non-loopback Hosts (DNS rebinding).
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from camera_app.errors import ConfigError
from camera_app.http_guard import ViewerLimit, host_allowed, is_loopback
from camera_app.outputs.live import LiveView, placeholder_jpeg
from camera_app.outputs.page import STATIC, redacted, render_page, static_file
from camera_app.redact import redact_text
from camera_app.telemetry import Health, Readiness
from camera_app.threads import join_all

log = logging.getLogger(__name__)

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
_METRICS_PATHS = ["/metrics", "/healthz", "/readyz"]
_PAGE_PATHS = ["/", "/api/status", "/stream/<camera>.mjpg", "/snapshot/<camera>.jpg"]
_TEXT = "text/plain; charset=utf-8"
_SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_STATIC_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class PageEndpoints:
    live: LiveView
    status: Callable[[], Mapping[str, Any]]
    # (camera, file name) -> the file of an object event's snapshot (camera_app.objects)
    snapshot_files: Callable[[str, str], Path | None] | None = None


@dataclass(frozen=True)
class MetricsEndpoints:
    registry: CollectorRegistry
    health: Callable[[], Health]
    ready: Callable[[], Readiness]


class _Handler(BaseHTTPRequestHandler):
    server: HttpServer
    server_version = "camera_app"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout_s)  # per connection

    def version_string(self) -> str:
        return "camera_app"  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):  # request lines come from the network: no work unasked
            log.debug("http %s %s", self.address_string(), redact_text(format % args))

    def send(
        self, status: int, body: bytes, ctype: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**_SAFE_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def text(self, status: int, text: str) -> None:
        self.send(status, redact_text(text).encode(), _TEXT)

    def json(self, status: int, value: Any) -> None:
        self.send(status, json.dumps(redacted(value)).encode(), "application/json")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            self.json(403, {"error": "unexpected Host header"})
            return
        path = unquote(urlsplit(self.path).path)
        server = self.server
        try:
            handled = (
                server.metrics is not None and _metrics_route(self, server.metrics, path)
            ) or (server.page is not None and _page_route(self, server.page, path))
        except (ConnectionError, TimeoutError):
            raise
        except Exception as exc:  # a bug behind one endpoint must not kill the thread silently
            what = redact_text(f"{path}: {type(exc).__name__}: {exc}")
            log.error("serving %s failed", what)
            self.json(500, {"error": "internal error; see the log"})
            return
        if not handled:
            self.json(404, {"error": "not found", "paths": server.paths})

    def _host_allowed(self) -> bool:
        return host_allowed(self.headers.get("Host"), loopback_only=self.server.loopback_only)


def _metrics_route(h: _Handler, m: MetricsEndpoints, path: str) -> bool:
    if path == "/metrics":
        encoder, ctype = choose_encoder(h.headers.get("Accept", ""))
        body, extra = encoder(m.registry), {}
        if gzip_accepted(h.headers.get("Accept-Encoding", "")):
            body, extra = gzip.compress(body, compresslevel=5), {"Content-Encoding": "gzip"}
        h.send(200, body, ctype, extra)
    elif path == "/healthz":
        try:
            health = m.health()
        except Exception as exc:
            log.exception("health check failed")
            h.text(503, f"unhealthy: the health check failed ({type(exc).__name__})\n")
            return True
        if health.ok:
            h.text(200, "ok\n")
        else:
            h.text(503, f"unhealthy: dead threads: {', '.join(health.dead)}\n")
    elif path == "/readyz":
        try:
            readiness = m.ready()
        except Exception as exc:
            log.exception("readiness check failed")
            h.json(503, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
            return True
        h.json(200 if readiness.ready else 503, readiness.to_json())
    else:
        return False
    return True


def _page_route(h: _Handler, p: PageEndpoints, path: str) -> bool:
    if path in ("/", "/index.html", "/api/status"):
        status = redacted(p.status())
        if path == "/api/status":
            h.json(200, status)
        else:
            page = render_page(status, p.live.cameras).encode()
            h.send(200, page, "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
    elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
        name = path[len("/static/") :]
        h.send(200, static_file(name), _STATIC_TYPES[name.rsplit(".", 1)[1]])
    elif p.snapshot_files is not None and (found := _EVENT_SNAPSHOT.fullmatch(path)):
        _event_snapshot(h, p.snapshot_files(found.group(1), found.group(2)))
    elif (match := _STREAM.fullmatch(path) or _SNAPSHOT.fullmatch(path)) is not None:
        camera = match.group(1)
        if not p.live.has_camera(camera):
            h.json(404, {"error": "unknown camera (or its live view is off)"})
        elif path.endswith(".jpg"):
            _snapshot(h, p.live, camera)
        else:
            with h.server.viewers.slot() as granted:
                if granted:
                    _stream(h, p.live, camera)
                else:
                    limit = h.server.viewers.limit
                    h.json(
                        503,
                        {"error": f"too many live-view streams open (http.max_viewers: {limit})"},
                    )
    else:
        return False
    return True


def _event_snapshot(h: _Handler, found: Path | None) -> None:
    try:
        data = found.read_bytes() if found is not None else None
    except OSError:  # deleted meanwhile (the folder's size limit)
        data = None
    if data is None:
        h.json(404, {"error": "no such snapshot"})
    else:
        h.send(200, data, "image/jpeg")


def _snapshot(h: _Handler, live: LiveView, camera: str) -> None:
    with live.viewer(camera):
        jpeg = live.latest_jpeg(camera)
    if jpeg is None:
        h.json(503, {"error": "no frame from this camera yet"})
    else:
        h.send(200, jpeg.data, "image/jpeg")


def _stream(h: _Handler, live: LiveView, camera: str) -> None:
    h.send_response(200)
    h.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
    for key, value in {**_SAFE_HEADERS, "Connection": "close"}.items():
        h.send_header(key, value)
    h.end_headers()
    h.close_connection = True
    if h.command == "HEAD":
        return
    server = h.server

    def part(jpeg: bytes) -> None:
        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
        h.wfile.write(head.encode() + jpeg + b"\r\n")

    sequence: int | None = None  # of the frame last sent
    last: bytes | None = None
    last_sent_s = time.monotonic()
    with live.viewer(camera):
        try:
            if not live.has_frame(camera):
                # Browsers hold the page's load event until each image has a first part.
                last = placeholder_jpeg()
                part(last)
            while not server.stopping.is_set():
                jpeg = live.wait_jpeg(camera, sequence, STREAM_WAKE_S)
                if jpeg is not None:
                    sequence, last = jpeg.sequence, jpeg.data
                elif live.closed:
                    break
                elif last is None or time.monotonic() - last_sent_s < STREAM_KEEPALIVE_S:
                    continue
                # else: resend the last part, which tells a silent camera from a gone viewer
                part(last)
                last_sent_s = time.monotonic()
            h.wfile.write(f"--{BOUNDARY}--\r\n".encode())
        except (ConnectionError, TimeoutError) as exc:
            log.debug(
                "live view of %s: viewer %s went away (%s)",
                camera,
                h.address_string(),
                type(exc).__name__,
            )


class HttpServer(ThreadingHTTPServer):
    """A ``Component``: bound when built; ``start()``, then ``stop(timeout_s)``."""

    daemon_threads = True
    block_on_close = False  # server_close() must not wait for a slow client

    def __init__(
        self,
        name: str,
        address: str,
        port: int,
        *,
        page: PageEndpoints | None = None,
        metrics: MetricsEndpoints | None = None,
        request_timeout_s: float = 10.0,
        max_viewers: int = 10,
    ) -> None:
        if ":" in address:
            self.address_family = socket.AF_INET6
        self.name = name
        self.page, self.metrics = page, metrics
        self.request_timeout_s = request_timeout_s
        self.loopback_only = is_loopback(address)
        self.viewers = ViewerLimit(max_viewers)
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            super().__init__((address, port), _Handler)
        except OSError as exc:
            raise ConfigError(
                f"{name}: cannot listen on {address}:{port} ({exc.strerror or exc}); pick "
                f"another {name}.port (0 picks a free one) or {name}.address, or stop what "
                "listens there"
            ) from exc

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a broken DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.port

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        return f"http://{host}:{self.port}"

    @property
    def paths(self) -> list[str]:
        return (_METRICS_PATHS if self.metrics else []) + (_PAGE_PATHS if self.page else [])

    @property
    def streams_open(self) -> int:
        return self.viewers.in_use

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("http client %s went away: %s", client_address, exc)
        else:
            log.warning("http request from %s failed", client_address, exc_info=True)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: start() called twice")
        serve = functools.partial(self.serve_forever, poll_interval=0.2)
        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        log.info("%s on %s (%s)", self.name, self.url, " ".join(self.paths))

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stops serving, ends the streams and closes the socket. False if something hung."""
        deadline = time.monotonic() + timeout_s
        self.stopping.set()
        clean = True
        if self._thread is not None:
            # shutdown() waits without a timeout: in a thread of its own, joined with one.
            stopper = threading.Thread(target=self.shutdown, name=f"{self.name}-stop", daemon=True)
            stopper.start()
            clean = join_all([self._thread, stopper], max(0.0, deadline - time.monotonic()))
        # Streams notice ``stopping`` within STREAM_WAKE_S and give their viewer slot back.
        while self.viewers.in_use and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.viewers.in_use:
            log.warning("%d live-view streams still open %.1f s after stop",
                        self.viewers.in_use, timeout_s)  # fmt: skip
            clean = False
        self.server_close()
        return clean


def page_server(
    address: str,
    port: int,
    live: LiveView,
    status: Callable[[], Mapping[str, Any]],
    *,
    request_timeout_s: float = 10.0,
    max_viewers: int = 10,
    snapshot_files: Callable[[str, str], Path | None] | None = None,
) -> HttpServer:
    """The status page, its API and the live view (the config's ``http``); at most
    ``max_viewers`` streams at once, more get 503 (``camera_app.http_guard``)."""
    return HttpServer(
        "http",
        address,
        port,
        page=PageEndpoints(live, status, snapshot_files),
        request_timeout_s=request_timeout_s,
        max_viewers=max_viewers,
    )


def metrics_server(
    address: str,
    port: int,
    registry: CollectorRegistry,
    health: Callable[[], Health],
    ready: Callable[[], Readiness],
) -> HttpServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` (the config's ``metrics``)."""
    return HttpServer("metrics", address, port, metrics=MetricsEndpoints(registry, health, ready))
