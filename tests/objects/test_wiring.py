"""How objects and MQTT attach to a built App (no threads started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_app.app import App
from camera_app.config import parse_config
from camera_app.errors import ConfigError
from camera_app.mqtt.client import MqttClient
from camera_app.objects.sink import JsonLines, ObjectsSink
from camera_app.outputs.events import EventsSink
from camera_app.server import HttpServer
from camera_app.wiring import services
from tests.outputs.builders import make_result
from tests.shared import TEST_MODELS

HEAD = (
    f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}}}\n"
    "http: {address: 127.0.0.1, port: 0}\nmetrics: {address: 127.0.0.1, port: 0}\n"
)


def build(text: str) -> App:
    return App(parse_config(HEAD + text, "cfg.yaml", env={}), services=services)


def close(app: App) -> None:
    for server in app.supervisor.components:  # bound, never started
        if isinstance(server, HttpServer):
            server.server_close()


def test_objects_mqtt_page_and_metrics_are_attached(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    app = build(
        "cameras:\n"
        f"  - name: a\n    source: demo\n    outputs: {{events: {events}, events_mode: objects}}\n"
        "    objects: {zones: [{name: z, points: [[0, 0], [10, 0], [10, 10]]}]}\n"
        "  - {name: b, source: demo, outputs: {stream: false}}\n"
        "mqtt: {host: 127.0.0.1, port: 1}\n"
    )
    try:
        a, b = app.sinks["a"], app.sinks["b"]
        assert isinstance(a[0], ObjectsSink)
        assert a[0] is b[0]  # one sink for every camera, first in each
        assert not any(isinstance(s, EventsSink) for s in a)  # no per-frame lines in this mode
        parts = list(app.supervisor.components)
        clients = [s for s in parts if isinstance(s, MqttClient)]
        assert len(clients) == 1
        web = next(s for s in parts if isinstance(s, HttpServer) and s.page is not None)
        assert parts.index(clients[0]) > parts.index(web)  # after the servers, stopped before
        assert parts.index(clients[0]) < parts.index(app.dispatcher)  # stopped after outputs
        assert web.page is not None
        assert web.page.snapshot_files is not None
        assert "a" in web.page.live.overlays  # zones on a's live view
        assert "b" not in web.page.live.overlays
        ready = [f() for f in app.telemetry.hooks.ready]
        assert [(r.name, r.up, r.reason) for r in ready] == [("mqtt", False, "connecting")]
        status = app.telemetry.status()["cameras"][0]
        assert status["objects"] == {"in_view": {}, "objects": [], "recent_events": []}
        a[0].handle(make_result("a", 1))
        a[0].close()
        assert events.read_text() == ""  # nothing seen: no events, and no frame lines either
    finally:
        close(app)


def test_per_frame_mode_stays_the_default(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    app = build(f"cameras:\n  - {{name: a, source: demo, outputs: {{events: {events}}}}}\n")
    try:
        assert [type(s).__name__ for s in app.sinks["a"]][:1] == ["EventsSink"]
        assert not any(isinstance(s, ObjectsSink) for s in app.sinks["a"])
    finally:
        close(app)
        for s in app.sinks["a"]:
            s.close()


def test_one_file_in_both_modes_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    with pytest.raises(ConfigError, match="different events_mode"):
        build(
            "cameras:\n"
            f"  - {{name: a, source: demo, outputs: {{events: {events}, events_mode: objects}}}}\n"
            f"  - {{name: b, source: demo, outputs: {{events: {events}}}}}\n"
        )


def test_objects_file_writers_are_shared_by_path(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    app = build(
        "cameras:\n"
        f"  - {{name: a, source: demo, outputs: {{events: {events}, events_mode: objects}}}}\n"
        f"  - {{name: b, source: demo, outputs: {{events: {events}, events_mode: objects}}}}\n"
    )
    try:
        sink = app.sinks["a"][0]
        assert isinstance(sink, ObjectsSink)
        writers = {
            id(p) for ps in sink._publishers.values() for p in ps if isinstance(p, JsonLines)
        }
        assert len(writers) == 1
        sink.close()
    finally:
        close(app)
