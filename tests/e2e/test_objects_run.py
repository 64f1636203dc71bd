"""The real `camera-app run` on the demo clip with object events, snapshots and a real broker.

The demo shows an astronaut, a cat and a coffee cup one after the other (4 s each, 1 s of
cross-fade, at 15 fps), each sliding slowly to the right: the ground truth is one object per
photo, starting while its photo is shown and ending after it faded out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.e2e.test_run import env
from tests.mqtt.broker import USERS, Broker, Subscriber, wait_for
from tests.prom import free_port
from tests.shared import REPO, need_shared

FPS = 15
SEGMENT = 5 * FPS  # frames per photo: 4 s alone, 1 s fading into the next
PHOTOS = ("person", "cat", "cup")  # the motorcycle (4th) closes the loop; its photo gets two boxes


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return str(r.read().decode())
    except urllib.error.HTTPError as exc:  # /readyz answers 503 until every part is up
        with exc:
            return str(exc.read().decode())


@pytest.mark.slow
def test_demo_objects_events_snapshots_and_mqtt(tmp_path: Path) -> None:
    need_shared()
    broker = Broker(tmp_path)
    broker.start()
    try:
        sub = Subscriber(broker.port)
        events, snaps = tmp_path / "events.jsonl", tmp_path / "snaps"
        snaps.mkdir()
        config = tmp_path / "c.yaml"
        config.write_text(f"""
cameras:
  - name: demo
    source: demo
    outputs: {{events: {events}, events_mode: objects, stream: false}}
    objects:
      end_after_s: 2.0     # a loaded box may miss an object for a few results in a row
      snapshots: {snaps}
      zones:
        - {{name: right, normalized: true, points: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}}
mqtt:
  host: 127.0.0.1
  port: {broker.port}
  username: camera
  password: ${{MQTT_PASSWORD}}
  client_id: e2e
  home_assistant: {{enabled: true, labels: [person, cat]}}
""")
        metrics_port = free_port()
        with subprocess.Popen(
            [sys.executable, "-m", "camera_app", "run", "--config", str(config), "--duration",
             "21", "--http-address", "127.0.0.1:0", "--metrics-address",
             f"127.0.0.1:{metrics_port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env=env(MQTT_PASSWORD=USERS["camera"]),
        ) as proc:  # fmt: skip
            try:
                wait_for(lambda: bool(sub.on("camera_app/demo/events")), 60, "a first event")
                metrics = get(f"http://127.0.0.1:{metrics_port}/metrics")
                ready = json.loads(get(f"http://127.0.0.1:{metrics_port}/readyz"))
                out, err = proc.communicate(timeout=90)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=10)
        r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "camera_app_mqtt_connected 1.0" in metrics
        assert 'camera_app_object_events_total{camera="demo",type="start"}' in metrics
        assert ready["services"] == [{"name": "mqtt", "up": True, "reason": None}]
        assert USERS["camera"] not in r.stderr + r.stdout
    finally:
        broker.stop()
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    by_id: dict[str, list[dict[str, object]]] = {}
    for e in lines:
        by_id.setdefault(str(e["event_id"]), []).append(e)
    for eid, evs in by_id.items():
        assert evs[0]["type"] == "start", eid
        assert [e["type"] for e in evs].count("start") == 1
        assert [e["type"] for e in evs].count("end") == 1  # the run's stop ends what is open
        assert evs[-1]["type"] == "end"
        assert len({e["track_id"] for e in evs}) == 1  # one id, one track: no switch
        assert all(e["label"] == evs[0]["label"] for e in evs)
    for i, label in enumerate(PHOTOS):
        lo, hi = max(0, i * SEGMENT - FPS), (i + 1) * SEGMENT  # fading in, shown, fading out
        starts = [e for e in lines if e["type"] == "start" and e["label"] == label
                  and lo <= int(str(e["sequence"])) < hi]  # fmt: skip
        assert len(starts) == 1, (label, starts)  # one object per photo
        end = by_id[str(starts[0]["event_id"])][-1]
        # it ends after its photo has faded out (sequence hi) and end_after_s passed
        assert int(str(end["sequence"])) >= hi, (label, end)
    # every event names its snapshot, written once: a JPEG and its crop
    names = {str(evs[0]["snapshot"]) for evs in by_id.values()}
    on_disk = {p.name for p in snaps.iterdir()}
    assert names <= on_disk
    assert {n.replace(".jpg", "-crop.jpg") for n in names} <= on_disk
    assert len(on_disk) == 2 * len(names)
    # the broker saw the same events (at least once each), counts and snapshots retained
    got = [json.loads(m.payload) for m in sub.on("camera_app/demo/events")]
    assert {e["event_id"] for e in got} == set(by_id)
    assert [m.payload for m in sub.on("camera_app/status")][-2:] == [b"online", b"offline"]
    # The camera streamed: its entities were available (its first "offline" may have been
    # replaced by "online" before it went out, as with the counts below).
    available = [m.payload for m in sub.on("camera_app/demo/available")]
    assert b"online" in available
    assert available[-1] == b"offline"  # said at the stop
    person = [m.payload for m in sub.on("camera_app/demo/person")]
    # Published with discovery; a retained topic keeps only its newest value until sent, so
    # on a slow connect the first person's 1 may replace that 0 (tests/mqtt checks the 0).
    assert person[0] in (b"0", b"1")
    assert b"1" in person
    assert person[-1] == b"0"  # after the last person left (or the stop ended it)
    shots = sub.on("camera_app/demo/person/snapshot")
    assert shots  # (retained: a live subscriber sees the flag clear; tests/mqtt checks it)
    image = cv2.imdecode(np.frombuffer(shots[0].payload, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)
    detected = sub.on(
        "homeassistant/binary_sensor/camera_app/camera_app_demo_person_detected/config"
    )
    assert detected
    assert json.loads(detected[-1].payload)["state_topic"] == "camera_app/demo/person"
    sub.close()
