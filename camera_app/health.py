"""One HTTP server for Prometheus and for whoever asks "is it alive, is it ready?".

``MetricsServer(address, port, registry, health_fn, ready_fn)`` serves:

- ``GET /metrics``: the registry in the Prometheus text format 0.0.4, gzip-compressed when the
  client sends ``Accept-Encoding: gzip`` (Prometheus does);
- ``GET /healthz``: ``200 ok`` when ``health_fn()`` says every thread is alive, else ``503``
  and the names of the dead threads (text/plain). For liveness probes and watchdogs;
- ``GET /readyz``: JSON, ``200`` when the model is loaded and every camera is streaming, else
  ``503``; either way, per camera, its state and (redacted) reason.

What the app provides (called on a server thread, once per request; keep them cheap):

- ``health_fn() -> Health``: ``Health(threads=(ThreadStatus("inference-0", alive=True), ...))``;
  healthy when every thread in it is alive.
  ``Health.from_alive({"inference-0": worker.is_alive(), ...})`` builds one.
- ``ready_fn() -> Readiness``: ``Readiness(model_loaded=True, cameras=(CameraReadiness(...),))``;
  ready when the model is loaded, there is at least one camera, and each is streaming.
  ``Readiness.from_snapshots(model_loaded, snapshots)`` builds one from ``CaptureSnapshot``s.

``start()`` raises ``ConfigError`` when the address cannot be bound (port taken, no such
address). A function that raises makes its endpoint answer ``503`` (the error is logged). Every body
served passes through ``redact_text``. Connections have a socket timeout; request threads are
daemons and are not joined, so ``stop`` returns in about ``timeout_s`` at worst. While bound
to a loopback address, a request whose Host is not a loopback name gets 403 (DNS rebinding).
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from camera_app.errors import ConfigError
from camera_app.http_guard import host_allowed, is_loopback
from camera_app.redact import redact_text
from camera_app.sources.capture import CaptureSnapshot, CaptureState

__all__ = [
    "CameraReadiness",
    "Health",
    "MetricsServer",
    "Readiness",
    "ThreadStatus",
    "ready_from",
]

log = logging.getLogger(__name__)

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"


@dataclass(frozen=True)
class ThreadStatus:
    name: str  # e.g. "capture-front", "inference-0", "outputs"
    alive: bool


@dataclass(frozen=True)
class Health:
    """What ``health_fn`` returns: the threads the process needs, and whether each lives."""

    threads: tuple[ThreadStatus, ...]

    @property
    def ok(self) -> bool:
        return all(t.alive for t in self.threads)

    @property
    def dead(self) -> list[str]:
        return [t.name for t in self.threads if not t.alive]

    @classmethod
    def from_alive(cls, alive: Mapping[str, bool]) -> Health:
        return cls(tuple(ThreadStatus(name, bool(ok)) for name, ok in alive.items()))


@dataclass(frozen=True)
class CameraReadiness:
    camera: str
    state: str  # a CaptureState value
    streaming: bool
    reason: str | None = None  # why it is not streaming (credential-free), None when it is


@dataclass(frozen=True)
class ServiceReadiness:
    """A service the outputs need (the MQTT broker): up or not, and why (credential-free)."""

    name: str
    up: bool
    reason: str | None = None


@dataclass(frozen=True)
class Readiness:
    """What ``ready_fn`` returns: is the model loaded, is each camera streaming, and is each
    service the outputs need reachable?"""

    model_loaded: bool
    cameras: tuple[CameraReadiness, ...]
    services: tuple[ServiceReadiness, ...] = ()

    @property
    def ready(self) -> bool:
        return (self.model_loaded and bool(self.cameras) and all(c.streaming for c in self.cameras)
                and all(s.up for s in self.services))  # fmt: skip

    @classmethod
    def from_snapshots(
        cls,
        model_loaded: bool,
        snapshots: Iterable[CaptureSnapshot],
        services: Iterable[ServiceReadiness] = (),
    ) -> Readiness:
        cameras = []
        for snap in snapshots:
            streaming = snap.state is CaptureState.STREAMING
            reason = None
            if not streaming:
                reason = snap.state.value
                if snap.last_error_kind is not None:
                    reason = f"{snap.last_error_kind.value}: {snap.last_error_message or ''}"
                if not snap.alive:
                    reason = f"capture thread not running ({reason})"
            cameras.append(CameraReadiness(snap.camera, snap.state.value, streaming, reason))
        return cls(model_loaded, tuple(cameras), tuple(services))

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "model_loaded": self.model_loaded,
            "cameras": [
                {
                    "camera": redact_text(c.camera),
                    "state": c.state,
                    "streaming": c.streaming,
                    "reason": None if c.reason is None else redact_text(c.reason),
                }
                for c in self.cameras
            ],
            "services": [
                {
                    "name": s.name,
                    "up": s.up,
                    "reason": None if s.reason is None else redact_text(s.reason),
                }
                for s in self.services
            ],
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() must not wait for a slow client


class _Handler(BaseHTTPRequestHandler):
    server_version = "camera_app"
    timeout = 10.0  # seconds; applied to each connection's socket
    app: MetricsServer  # set on the per-server subclass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if not host_allowed(self.headers.get("Host"), loopback_only=self.app.loopback_only):
            self._send(403, _TEXT, b"unexpected Host header\n")
            return
        try:
            if path == "/metrics":
                status, ctype, body = 200, CONTENT_TYPE_PLAIN_0_0_4, self.app.metrics_body()
            elif path == "/healthz":
                status, body = self.app.health_body()
                ctype = _TEXT
            elif path == "/readyz":
                status, body = self.app.ready_body()
                ctype = _JSON
            else:
                status, ctype, body = 404, _TEXT, b"not found: try /metrics, /healthz, /readyz\n"
        except Exception:
            log.exception("serving %s failed", redact_text(path))
            status, ctype, body = 500, _TEXT, b"internal error\n"
        self._send(status, ctype, body)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        headers = {"Content-Type": ctype, "Cache-Control": "no-store"}
        if len(body) > 512 and "gzip" in self.headers.get("Accept-Encoding", "").lower():
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError as exc:  # the client went away or timed out
            log.debug("writing the answer to %s failed: %s", self.client_address[0], exc)

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):  # request lines come from the network: no work unasked
            log.debug("%s %s", self.client_address[0], redact_text(format % args))


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one address; ``start()`` / ``stop()``."""

    def __init__(
        self,
        address: str,
        port: int,
        registry: CollectorRegistry,
        health_fn: Callable[[], Health],
        ready_fn: Callable[[], Readiness],
    ) -> None:
        self.address = address
        self.loopback_only = is_loopback(address)
        self._requested_port = port
        self.registry = registry
        self.health_fn = health_fn
        self.ready_fn = ready_fn
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked), once started."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("MetricsServer.start() called twice")
        handler = type("Handler", (_Handler,), {"app": self})
        server_cls: type[_Server] = _Server
        if ":" in self.address:
            server_cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        try:
            self._server = server_cls((self.address, self._requested_port), handler)
        except OSError as exc:
            raise ConfigError(
                f"metrics: cannot listen on {self.address}:{self._requested_port} "
                f"({exc.strerror or exc}); choose another metrics address or port, "
                "or stop what listens there"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="metrics-http",
            daemon=True,
        )
        self._thread.start()
        log.info("metrics and health on %s (/metrics /healthz /readyz)", self.url)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop serving; True if the server thread ended within ``timeout_s``."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return True
        # shutdown() waits for serve_forever to notice, which it does every poll_interval;
        # ask from a helper thread so that a wedged loop cannot hold us past timeout_s.
        threading.Thread(target=server.shutdown, name="metrics-http-stop", daemon=True).start()
        thread.join(timeout_s)
        server.server_close()
        if thread.is_alive():
            log.warning("metrics server thread %s still alive after %.1f s", thread.name, timeout_s)
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- bodies (also handy for tests) -----------------------------------------------------

    def metrics_body(self) -> bytes:
        return redact_text(generate_latest(self.registry).decode("utf-8")).encode("utf-8")

    def health_body(self) -> tuple[int, bytes]:
        try:
            health = self.health_fn()
        except Exception as exc:
            log.exception("health check failed")
            return 503, _text(f"unhealthy: the health check failed ({type(exc).__name__})\n")
        if health.ok:
            return 200, b"ok\n"
        return 503, _text(f"unhealthy: dead threads: {', '.join(health.dead)}\n")

    def ready_body(self) -> tuple[int, bytes]:
        try:
            readiness = self.ready_fn()
        except Exception as exc:
            log.exception("readiness check failed")
            doc: dict[str, Any] = {"ready": False, "error": f"{type(exc).__name__}: {exc}"}
            return 503, _text(json.dumps(doc))
        return (200 if readiness.ready else 503), _text(json.dumps(readiness.to_json()))


def _text(text: str) -> bytes:
    return redact_text(text).encode("utf-8")


def ready_from(
    model_loaded: Callable[[], bool], snapshots: Callable[[], Sequence[CaptureSnapshot]]
) -> Callable[[], Readiness]:
    """A ``ready_fn`` from two callables the app has anyway."""
    return lambda: Readiness.from_snapshots(model_loaded(), snapshots())
