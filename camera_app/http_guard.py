"""Guards of the HTTP server on both its ports (the live view and the metrics port).

- ``host_allowed``: while a server listens on a loopback address, a request whose ``Host`` is
  not a loopback name is refused. A web page on another site can make the browser send
  requests to 127.0.0.1 under a name the attacker controls (DNS rebinding); those requests
  carry that name in ``Host``.
- ``ViewerLimit``: at most ``limit`` long-lived streams at once, since each MJPEG viewer holds
  a thread and a few MB of JPEG buffers. The count in use and the refusals are exported
  (``ViewerCollector``) so that an operator sees viewers turned away.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(address: str) -> bool:
    """Whether a listen address is a loopback one (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def host_allowed(host: str | None, *, loopback_only: bool) -> bool:
    """Whether a request with this ``Host`` header may be served."""
    if not loopback_only or host is None:  # HTTP/1.0 clients may send none: nothing to rebind
        return True
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    return name in _LOOPBACK_NAMES or name.endswith(".localhost")


class ViewerLimit:
    """Counts streams in use; ``slot()`` yields False when ``limit`` are already open."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a viewer limit is at least 1, got {limit}")
        self.limit = limit
        self.refused = 0
        self._in_use = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        with self._lock:
            return self._in_use

    @contextmanager
    def slot(self) -> Iterator[bool]:
        with self._lock:
            granted = self._in_use < self.limit
            if granted:
                self._in_use += 1
            else:
                self.refused += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._in_use -= 1


class ViewerCollector(Collector):
    """``camera_app_http_viewers`` (open streams, and the limit) and the refusals, at scrape."""

    def __init__(self, viewers: ViewerLimit) -> None:
        self.viewers = viewers

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        gauge = GaugeMetricFamily(
            "camera_app_http_viewers",
            "Live-view MJPEG streams open now.",
            value=self.viewers.in_use,
        )
        yield gauge
        yield GaugeMetricFamily(
            "camera_app_http_viewers_max",
            "The most live-view streams served at once (http.max_viewers).",
            value=self.viewers.limit,
        )
        yield CounterMetricFamily(
            "camera_app_http_viewers_refused",
            "Live-view streams refused (503) because http.max_viewers were open.",
            value=self.viewers.refused,
        )
