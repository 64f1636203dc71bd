"""What `camera-app run` builds around the pipeline (no threads started)."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from camera_app import preflight
from camera_app.app import App, Context, Services
from camera_app.config import parse_config
from camera_app.errors import ConfigError, UserError
from camera_app.metrics import PipelineMetrics
from camera_app.outputs.events import EventsSink
from camera_app.wiring import metrics_for, services
from tests.outputs.builders import make_result
from tests.prom import free_port
from tests.shared import TEST_MODELS


def test_one_events_file_spelled_two_ways_gets_one_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers on one file would each rotate it by their own count and interleave lines."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other").mkdir()
    cfg = parse_config(
        f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}}}\n"
        "http: {enabled: false}\nmetrics: {enabled: false}\n"
        "cameras:\n"
        "  - {name: a, source: demo, outputs: {events: e.jsonl, stream: false}}\n"
        "  - {name: b, source: demo, outputs: {events: ./other/../e.jsonl, stream: false}}\n"
        "  - {name: c, source: demo, outputs: {events: other/e.jsonl, stream: false}}\n",
        "cfg.yaml",
        env={},
    )
    app = App(cfg, services=services)
    a, b, c = ([s for s in app.sinks[n] if isinstance(s, EventsSink)] for n in "abc")
    assert len(a) == len(b) == len(c) == 1
    assert a[0] is b[0]
    assert c[0] is not a[0]
    for sink in {id(s): s for s in (a[0], c[0])}.values():
        sink.close()


def test_outputs_up_follow_the_real_sinks(tmp_path: Path) -> None:
    """Events to a full disk (/dev/full) are down after one result; the recording is up."""
    cfg = parse_config(
        f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}}}\n"
        "http: {enabled: false}\nmetrics: {enabled: false}\n"
        "cameras:\n"
        "  - name: a\n    source: demo\n"
        f"    outputs: {{events: /dev/full, record: {tmp_path / 'a.avi'}, stream: false}}\n",
        "cfg.yaml",
        env={},
    )
    got: list[PipelineMetrics] = []

    def wiring(ctx: Context) -> Services:
        got.append(metrics_for(ctx))
        return services(ctx)

    app = App(cfg, services=wiring)
    metrics = got[0]
    status = app.telemetry.status

    def up(output: str) -> float | None:
        return metrics.registry.get_sample_value(
            "camera_app_output_up", {"camera": "a", "output": output}
        )

    assert (up("events"), up("record")) == (1.0, 1.0)
    assert status()["cameras"][0]["outputs_failing"] == []
    for sink in app.sinks["a"]:
        sink.handle(make_result("a", size_wh=(64, 48)))
    assert (up("events"), up("record")) == (0.0, 1.0)
    assert status()["cameras"][0]["outputs_failing"] == ["events"]  # the status page
    failures = metrics.registry.get_sample_value(
        "camera_app_output_failures_total", {"camera": "a", "output": "events"}
    )
    assert failures == 1.0
    for sink in app.sinks["a"]:
        sink.close()


@pytest.mark.parametrize(
    ("settings", "hold_s"),
    [
        ("", 6.0),  # motion gating: the 5 s keep-alive, plus the 1 s any camera gets
        ("detection: {detect_fps: 0.25}\nmotion: {enabled: false}\n", 5.0),  # one result in 4 s
        ("detection: {detect_fps: 0}\nmotion: {enabled: false}\n", 1.0),
    ],
)
def test_a_recording_holds_pictures_as_long_as_the_camera_goes_between_results(
    tmp_path: Path, settings: str, hold_s: float
) -> None:
    from camera_app.outputs.recorder import RecordSink

    cfg = parse_config(
        f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}}}\n"
        "http: {enabled: false}\nmetrics: {enabled: false}\n" + settings + "cameras:\n"
        f"  - {{name: a, source: demo, fps: 10, outputs: {{record: {tmp_path / 'a.avi'}}}}}\n",
        "cfg.yaml",
        env={},
    )
    app = App(cfg, services=services)
    (sink,) = [s for s in app.sinks["a"] if isinstance(s, RecordSink)]
    assert sink._max_copies == round(10 * hold_s)
    sink.close()


def _holds_a_port() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, int(s.getsockname()[1])


def test_a_taken_port_stops_the_start_before_any_file_and_frees_the_ports_bound(
    tmp_path: Path,
) -> None:
    held, taken = _holds_a_port()
    free = free_port()
    cfg = parse_config(
        f"model: {{path: {TEST_MODELS / 'blobs_uint8_postprocess'}}}\n"
        f"http: {{port: {taken}}}\nmetrics: {{port: {free}}}\n"
        "cameras:\n"
        f"  - {{name: a, source: demo, outputs: {{events: {tmp_path / 'e.jsonl'},"
        f" record: {tmp_path / 'a.mkv'}}}, objects: {{snapshots: {tmp_path / 'snaps'}}}}}\n",
        "cfg.yaml",
        env={},
    )
    try:
        with pytest.raises(UserError, match=f"http: cannot listen on 127.0.0.1:{taken}"):
            App(cfg, services=services)
    finally:
        held.close()
    assert list(tmp_path.iterdir()) == []  # no events file, no snapshots folder
    again = socket.socket()
    again.bind(("127.0.0.1", free))  # the metrics port bound before the failure is free
    again.close()


def test_ports_given_on_the_command_line_are_checked_too() -> None:
    # The config file's own check does not see --http-address and --metrics-address.
    cfg = parse_config("cameras: [{name: a}]\n", "cfg.yaml", env={})
    same = dataclasses.replace(
        cfg,
        http=dataclasses.replace(cfg.http, port=18080),
        metrics=dataclasses.replace(cfg.metrics, address="0.0.0.0", port=18080),
    )
    with pytest.raises(ConfigError, match="metrics and http both listen on port 18080"):
        preflight.check(same)
    preflight.check(dataclasses.replace(same, metrics=cfg.metrics))


def test_a_source_path_that_is_a_named_pipe_is_refused_before_the_start(tmp_path: Path) -> None:
    # FFmpeg's open of a pipe nobody writes never returns: the check says so, nothing hangs.
    pipe = tmp_path / "feed.mp4"
    os.mkfifo(pipe)
    cfg = parse_config(f"cameras: [{{name: a, source: {pipe}}}]\n", "cfg.yaml", env={})
    with pytest.raises(ConfigError, match=r"cameras\.a\.source: .*feed\.mp4 is a named pipe"):
        preflight.check(cfg)
    cfg = parse_config(f"cameras: [{{name: a, source: {tmp_path}}}]\n", "cfg.yaml", env={})
    preflight.check(cfg)  # a folder is an image folder
