"""The real `camera-app run` reading a real HTTP MJPEG camera, which goes away and comes back.

The camera is another `camera-app run` (the demo source), whose live view serves
``multipart/x-mixed-replace`` JPEGs over HTTP the way network cameras do. The app under test
reads it with a password from a systemd credentials directory, detects objects in it, notices
when the camera process is killed, backs off, and streams again once it is restarted on the
same port; the password appears nowhere a user or a scraper can read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_rtsp_run import assert_no_password, events, get, wait_for
from tests.shared import MODELS, REPO, TEST_MODELS, need_shared
from tests.sources.servers import free_port

PASSWORD = "mj/pe g@s3cret"  # needs percent-encoding in a URL
USER = "viewer"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "CAMERA_APP_MODEL_PATH": f"{MODELS}:{TEST_MODELS}", **extra}


def _camera(port: int, log: Path) -> subprocess.Popen[bytes]:
    """A demo `camera-app run` whose live view on ``port`` is the MJPEG camera."""
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "camera_app", "run", "--http-address", f"127.0.0.1:{port}",
             "--metrics-address", "127.0.0.1:0"],
            stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=REPO,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_mjpeg_camera_detects_reconnects_and_keeps_the_secret(tmp_path: Path) -> None:
    need_shared()
    cam_port, http_port, metrics_port = free_port(), free_port(), free_port()
    camera_log = tmp_path / "camera.log"
    camera = _camera(cam_port, camera_log)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "cam_password").write_text(PASSWORD + "\n")
    ev = tmp_path / "events.jsonl"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"""
detection: {{threshold: 0.4}}
metrics: {{address: 127.0.0.1, port: {metrics_port}}}
http: {{address: 127.0.0.1, port: {http_port}}}
cameras:
  - name: mjpeg
    source: http://{USER}:${{credential:cam_password}}@127.0.0.1:{cam_port}/stream/demo.mjpg
    open_timeout_s: 5
    read_timeout_s: 3
    stall_timeout_s: 4
    backoff: {{initial_s: 0.5, max_s: 2}}
    outputs: {{events: {ev}}}
"""
    )
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "camera_app", "--log-level", "debug", "run", "--config",
             str(cfg)],
            stdout=log_file, stderr=subprocess.STDOUT, env=_env(CREDENTIALS_DIRECTORY=str(creds)),
            cwd=REPO,
        )  # fmt: skip
    base = f"http://127.0.0.1:{http_port}"

    def status() -> dict[str, Any]:
        return {c["name"]: c for c in json.loads(get(f"{base}/api/status")[1])["cameras"]}

    try:
        # The demo pans across real photos (an astronaut, a cat, a cup, a motorcycle): seen
        # through the camera's JPEGs, they are still found (the first frames may be the
        # camera's placeholder before its own demo runs).
        def seen() -> set[str]:
            return {d["label"] for e in events(ev) for d in e["detections"]}

        wanted = {"person", "cat", "cup", "motorcycle"}
        wait_for("real objects from the MJPEG camera", lambda: bool(seen() & wanted), 90)
        assert status()["mjpeg"]["state"] == "streaming"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")

        # The camera dies mid-stream: the app notices and backs off instead of hanging.
        _stop(camera, signal.SIGKILL)
        wait_for(
            "the app to notice the camera is gone",
            lambda: status()["mjpeg"]["state"] in ("backing_off", "connecting"),
            30,
        )
        down_at = max(e["sequence"] for e in events(ev))

        # The stream breaks first ("disconnected"); the reconnects then find nothing listening.
        def error_class() -> str | None:
            err = status()["mjpeg"]["last_error"]
            return None if err is None else str(err["class"])

        wait_for("the reconnects to be refused", lambda: error_class() == "refused", 30)
        assert status()["mjpeg"]["state"] in ("backing_off", "connecting")

        # It comes back on the same port; the app streams again by itself.
        camera = _camera(cam_port, camera_log)
        wait_for("frames after the camera came back",
                 lambda: any(e["sequence"] > down_at + 10 for e in events(ev)), 90)  # fmt: skip
        assert status()["mjpeg"]["state"] == "streaming"
        assert status()["mjpeg"]["reconnects"] >= 1
        pages = {path: get(base + path)[1] for path in ("/", "/api/status")}
    finally:
        _stop(proc)
        _stop(camera)
    assert proc.returncode == 0
    log_text = log_path.read_text()
    assert f"http://***:***@127.0.0.1:{cam_port}/stream/demo.mjpg" in log_text  # not vacuous
    surfaces = {
        "log": log_text, "events": ev.read_text(), "cmdline": cmdline, "environ": environ,
        **{f"page {p}": body for p, body in pages.items()},
    }  # fmt: skip
    assert_no_password(PASSWORD, "s3cret", surfaces)
