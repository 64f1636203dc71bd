"""The guards both HTTP servers share: loopback Host names and the live-view viewer limit."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from camera_app.http_guard import ViewerCollector, ViewerLimit, host_allowed, is_loopback


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("camera.lan", False)],
)  # fmt: skip
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("host", "allowed"),
    [(None, True), ("127.0.0.1", True), ("127.0.0.1:9108", True), ("localhost:8080", True),
     ("[::1]:9108", True), ("cam.localhost", True), ("evil.example", False),
     ("evil.example:9108", False), ("127.0.0.1.evil.example", False), ("[::1", False),
     ("", False)],
)  # fmt: skip
def test_host_allowed_on_loopback(host: str | None, allowed: bool) -> None:
    assert host_allowed(host, loopback_only=True) is allowed
    assert host_allowed(host, loopback_only=False) is True  # bound to a LAN address: any name


def test_viewer_limit_counts_grants_and_refusals() -> None:
    limit = ViewerLimit(2)
    with limit.slot() as a, limit.slot() as b:
        assert (a, b, limit.in_use) == (True, True, 2)
        with limit.slot() as c:
            assert c is False
            assert limit.in_use == 2
    assert (limit.in_use, limit.refused) == (0, 1)
    with limit.slot() as d:
        assert d is True
    with pytest.raises(ValueError, match="at least 1"):
        ViewerLimit(0)


def test_viewer_metrics_are_read_at_scrape_time() -> None:
    limit = ViewerLimit(3)
    registry = CollectorRegistry()
    registry.register(ViewerCollector(limit))
    with limit.slot(), limit.slot():
        text = generate_latest(registry).decode()
    assert "camera_app_http_viewers 2.0" in text
    assert "camera_app_http_viewers_max 3.0" in text
    assert "camera_app_http_viewers_refused_total 0.0" in text
