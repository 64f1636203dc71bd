"""The pipeline's result rate before, during and after an MQTT broker outage.

    CAMERA_APP_MODEL_PATH=../shared/models python benchmarks/mqtt_outage.py [--window-s 10]

The real App (demo camera read as fast as the model takes frames, object events to a real
Mosquitto of the tests) runs three windows: broker up, broker killed (SIGKILL), broker back.
Prints results per second in each window and the ratios (the client only queues, so the
outage should not show), then what the MQTT client did and whether every event id of the
run reached a subscriber. Needs Debian's mosquitto (.ci/apt-packages.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-s", type=float, default=10.0)
    args = ap.parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from camera_app.app import App
    from camera_app.config import parse_config
    from camera_app.mqtt.client import MqttClient
    from camera_app.objects.sink import ObjectsSink
    from camera_app.wiring import services
    from tests.mqtt.broker import USERS, Broker, Subscriber

    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        sub = Subscriber(broker.port)
        cfg = parse_config(f"""
cameras:
  - {{name: demo, source: demo, realtime: false, loop: true, outputs: {{stream: false}},
      detect_fps: 0, motion: {{enabled: false}}}}
http: {{enabled: false}}
metrics: {{enabled: false}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, username: camera, password: "{USERS["camera"]}",
        backoff_initial_s: 0.2, backoff_max_s: 1.0}}
""")
        app = App(cfg, services=services)
        client = next(c for c in app.supervisor.components if isinstance(c, MqttClient))
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        app.start()
        rates = []
        try:
            time.sleep(3.0)  # warm up: model, first events
            for step in ("up", "killed", "back"):
                if step == "killed":
                    broker.kill()
                if step == "back":
                    broker.start()
                f0, t0 = app.telemetry.frames_processed, time.monotonic()
                time.sleep(args.window_s)
                done = app.telemetry.frames_processed - f0
                rates.append((step, done / (time.monotonic() - t0)))
            time.sleep(3.0)  # let the queue drain
        finally:
            app.stop()
        state = client.state()
        objects = next(s for s in app.sinks["demo"] if isinstance(s, ObjectsSink))
        made = sum(n for (_, kind), n in objects.events_total.items() if kind == "start")
        sent = {json.loads(m.payload)["event_id"] for m in sub.on("camera_app/demo/events")}
        sub.close()
        broker.stop()
    for step, rate in rates:
        print(f"  broker {step:<7} {rate:6.2f} results/s")
    up = rates[0][1]
    print(f"  killed / up {rates[1][1] / up:.3f}   back / up {rates[2][1] / up:.3f}")
    print(f"mqtt: published {state.published}, dropped {state.dropped}, connects "
          f"{state.connects}, errors {state.errors}")  # fmt: skip
    print(
        f"objects started {made}; distinct event ids at the subscriber {len(sent)} (it may "
        "miss some sent while it was itself reconnecting)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
