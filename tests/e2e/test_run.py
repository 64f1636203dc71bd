"""The real `camera-app run`, as a user or systemd runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.shared import MODELS, REPO, TEST_MODELS, need_shared


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "CAMERA_APP_MODEL_PATH": f"{MODELS}:{TEST_MODELS}", **extra}


# Tests never take the default ports (8080, 9108): other things on the machine may hold them.
FREE_PORTS = ["--http-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0"]


def run_app(
    args: list[str], timeout_s: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camera_app", *args], capture_output=True, text=True,
        timeout=timeout_s, env=env(**extra), cwd=REPO, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_demo_run_finds_real_objects(tmp_path: Path) -> None:
    need_shared()
    events = tmp_path / "events.jsonl"
    r = run_app(["run", "--duration", "12", "--events", str(events), *FREE_PORTS])
    assert r.returncode == 0, r.stderr[-2000:]
    # How many frames 12 s give depends on the machine; which photos they show does not
    # (the demo holds each photo for 4 s).
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert lines
    labels = {d["label"] for line in lines for d in line["detections"]}
    # The demo pans across scikit-image's photos: an astronaut, a cat, coffee, a motorcycle.
    assert "person" in labels
    assert labels & {"cat", "cup", "motorcycle"}
    first = lines[0]
    assert first["camera"] == "demo"
    assert 0 < first["latency_s"] < 5
    assert set(first["stages"]) == {"frame_age_s", "preprocess_s", "invoke_s", "postprocess_s"}


@pytest.mark.slow
def test_recording_is_cut_into_files_and_kept_under_its_size(tmp_path: Path) -> None:
    """The config's record keys reach the recorder: 1 s files of the demo, the oldest
    deleted to keep the others under 2 MB, every file left a playable video."""
    need_shared()
    rec = tmp_path / "rec"
    rec.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        # Results at half the camera's rate, whatever the machine: pictures must be held. A file
        # ends at its last result's picture, so a 1 s file may be 1/30 s (2 frames) short.
        "detection: {detect_fps: 30}\n"
        "motion: {enabled: false}\n"
        "cameras:\n"
        "  - name: demo\n"
        "    fps: 60\n"
        "    outputs:\n"
        f"      record: {rec / 'demo.avi'}\n"
        "      record_segment_s: 1\n"
        "      record_max_mb: 2\n"
    )
    r = run_app(["run", "--config", str(cfg), "--threads", "1", "--duration", "8", *FREE_PORTS])
    assert r.returncode == 0, r.stderr[-2000:]
    files = sorted(rec.iterdir())
    assert len(files) >= 2, [f.name for f in files]
    assert all(f.name.startswith("demo-") and f.suffix == ".avi" for f in files)
    # Whenever a file starts, the oldest go while the files take more than record_max_mb
    # (never the one just finished): so all but the newest two take at most 2 MB, and each
    # file written is either kept or deleted. (How many go depends on how full the files
    # got, which depends on the machine's speed.)
    assert sum(f.stat().st_size for f in files[:-2]) <= 2_000_000, [f.stat() for f in files]
    started = len(re.findall(r"msg=\"recording \S+/demo-", r.stderr))
    deleted = r.stderr.count("recording: deleted demo-")
    assert started == len(files) + deleted, r.stderr[-2000:]
    counts = []
    for f in files:
        cap = cv2.VideoCapture(str(f))
        try:
            assert cap.isOpened(), f
            ok, frame = cap.read()
            assert ok, f
            assert frame.shape == (720, 1280, 3)  # the demo camera is 720p
            assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(60)  # plays at the camera's rate
            n = 1
            while cap.read()[0]:
                n += 1
            counts.append(n)
        finally:
            cap.release()
    # No file plays for longer than its 1 s of capture time. How close to 1 s each one comes
    # depends on how often results came (a picture is held until the next one's time, and
    # the next file starts at the first frame past the second: tests/outputs/test_recorder.py
    # checks both with results slower than the camera).
    assert started >= 3, r.stderr[-2000:]  # 1 s files over 8 s
    assert all(1 <= n <= 62 for n in counts), counts


def _frames_in(path: Path) -> int:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        n = 0
        while cap.read()[0]:
            n += 1
        return n
    finally:
        cap.release()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo.mkv", "demo.avi"])
def test_a_recording_cut_short_by_sigkill_still_plays(tmp_path: Path, name: str) -> None:
    """SIGKILL (like the watchdog's SIGABRT, an OOM kill or a power cut) while a file is being
    written: every file, the one cut short included, plays the frames that reached the disk."""
    need_shared()
    rec = tmp_path / "rec"
    rec.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "cameras:\n"
        "  - name: demo\n"
        "    fps: 10\n"
        "    outputs:\n"
        f"      record: {rec / name}\n"
        "      record_segment_s: 2\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-m", "camera_app", "run", "--config", str(cfg), *FREE_PORTS],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO,
    )  # fmt: skip

    def mid_second_file() -> bool:  # two files, the newest holding a few frames already
        files = sorted(rec.iterdir())
        return len(files) >= 2 and files[-1].stat().st_size > 200_000

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not mid_second_file() and p.poll() is None:
            time.sleep(0.1)
        assert mid_second_file(), [f.name for f in rec.iterdir()]
    finally:
        p.kill()
        _, err = p.communicate(timeout=30)
    assert p.returncode == -signal.SIGKILL, err[-2000:]
    files = sorted(rec.iterdir())
    counts = [_frames_in(f) for f in files]
    assert all(n > 0 for n in counts), list(zip([f.name for f in files], counts, strict=True))
    assert counts[0] >= 18  # a whole 2 s file at 10 fps (20 frames)
    assert "does not play at all" not in err  # no MP4 warning for these names


def start_demo_run(events: Path) -> subprocess.Popen[str]:
    """``camera-app run`` on the demo source in the background, its events into ``events``."""
    return subprocess.Popen(
        [sys.executable, "-m", "camera_app", "--log-level", "info", "run", "--events", str(events),
         *FREE_PORTS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_0(sig: signal.Signals, tmp_path: Path) -> None:
    need_shared()
    ready = tmp_path / "events.jsonl"
    p = start_demo_run(ready)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not ready.exists() or ready.stat().st_size == 0):
            time.sleep(0.2)
        assert ready.exists(), "no frame was processed"
        t0 = time.monotonic()
        p.send_signal(sig)
        _, err = p.communicate(timeout=15)
        stop_s = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    assert p.returncode == 0, err[-2000:]
    # Before systemd would kill it: the unit's TimeoutStopSec is the contract, not a speed.
    unit = (REPO / "systemd" / "camera-app.service").read_text()
    limit = re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M)
    assert limit is not None
    assert stop_s < int(limit[1])
    assert "pipeline stopped" in err


@pytest.mark.slow
def test_sighup_is_logged_and_ignored(tmp_path: Path) -> None:
    """systemd counts a death by SIGHUP as a clean exit (no restart): the app must live on."""
    need_shared()
    events = tmp_path / "events.jsonl"
    p = start_demo_run(events)

    def lines() -> int:
        return len(events.read_text().splitlines()) if events.exists() else 0

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and lines() == 0:
            time.sleep(0.2)
        assert lines() > 0, "no frame was processed"
        p.send_signal(signal.SIGHUP)
        before = lines()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and lines() <= before + 5 and p.poll() is None:
            time.sleep(0.2)
        assert p.poll() is None, "SIGHUP ended the process"
        assert lines() > before + 5, "frames stopped after SIGHUP"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    assert p.returncode == 0, err[-2000:]
    assert "SIGHUP received and ignored" in err


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            "cameras:\n  - name: a\n    source: demo\n    treshold: 0.5\n",
            ["c.yaml:4:", "treshold", "threshold"],
        ),
        (
            "model:\n  path: no_such_model\ncameras:\n  - source: demo\n",
            ["no_such_model", "not found"],
        ),
        ("detection:\n  classes: [unicorn]\ncameras:\n  - source: demo\n", ["unicorn"]),
        ("cameras:\n  - source: /nonexistent/video.mp4\n", ["/nonexistent/video.mp4"]),
    ],
)
def test_bad_config_exits_2_before_anything_starts(
    config: str, words: list[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    events = tmp_path / "events.jsonl"
    cfg.write_text(
        config + f"    outputs: {{events: {events}}}\n"
        if "source: demo\n" in config[-20:]
        else config
    )
    r = run_app(
        ["--log-level", "info", "run", "--config", str(cfg), "--duration", "5", *FREE_PORTS],
        timeout_s=60,
    )
    assert r.returncode == 2, (r.stdout, r.stderr[-2000:])
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("camera-app: error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0]
    assert "pipeline started" not in r.stderr
    assert not events.exists()


def test_check_config(tmp_path: Path) -> None:
    ok = run_app(["check-config", str(REPO / "config" / "demo.yaml")])
    assert ok.returncode == 0, ok.stderr
    assert "ok (1 camera," in ok.stdout
    flag = run_app(["check-config", "--config", str(REPO / "config" / "demo.yaml")])  # as run
    assert (flag.returncode, flag.stdout) == (0, ok.stdout)
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  - source: demo\n    fps: -3\n")
    r = run_app(["check-config", str(bad)])
    assert r.returncode == 2
    assert "bad.yaml:3:" in r.stderr


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ("{name: a, source: demo, outputs: {events: NOWHERE/e.jsonl}}",
         "cameras.a.outputs.events: cannot write"),
        ("{name: a, source: demo, outputs: {record: HERE/a.xyz}}",
         "cameras.a.outputs.record: cannot tell the video format"),
        ("{name: a, source: demo, detect_fps: 0.1, objects: {}}",
         "cameras.a: detect_fps 0.1 gives a result every 10 s"),
        ("{name: a, source: demo, objects: {snapshots: NOWHERE/s}}",
         "cameras.a.objects.snapshots: NOWHERE/s is not a folder"),
        ("{name: a, source: HERE/none.mp4}", "cameras.a.source: HERE/none.mp4: no such file"),
        ("{name: a, source: demo, classes: [persn]}",
         r"cameras.a.classes: class name 'persn' is not in the labels .*did you mean 'person'\?"),
        ("{name: a, source: demo}\nmqtt: {host: 127.0.0.1, home_assistant: {enabled: true, "
         "labels: [person, Car, persn]}}",
         r"mqtt.home_assistant.labels: class names \['Car', 'persn'\] are not in the labels "
         r"\(.*\); did you mean 'car', 'person'\?$"),
    ],
)  # fmt: skip
@pytest.mark.realmodel
def test_check_config_refuses_what_run_refuses_and_creates_nothing(
    tmp_path: Path, camera: str, message: str
) -> None:
    # check-config used to say ok for each of these, which run then refused (some after
    # creating an events file or binding a port).
    need_shared()
    here, nowhere = tmp_path / "here", tmp_path / "nowhere"
    here.mkdir()
    text = (
        f"model: {{path: {MODELS / 'ssd_mobilenet_v1_coco_quant'}}}\n"
        "http: {enabled: false}\nmetrics: {enabled: false}\n"
        "cameras:\n  - " + camera.replace("HERE", str(here)).replace("NOWHERE", str(nowhere))
    )
    config = tmp_path / "cfg.yaml"
    config.write_text(text + "\n")
    want = message.replace("HERE", str(here)).replace("NOWHERE", str(nowhere))
    for command in (["check-config", str(config)], ["run", "-c", str(config), "--duration", "1"]):
        r = run_app(command)
        assert r.returncode == 2, (command, r.stderr[-2000:])
        lines = r.stderr.strip().splitlines()
        assert re.search(want, lines[-1]), (command, lines[-1])
        # Where, as every config error says: the file and the line of the key (the camera's
        # flow mapping is line 5, mqtt line 6), though found after the config was read.
        line = 6 if message.startswith("mqtt") else 5
        assert lines[-1].startswith(f"camera-app: error: {config}:{line}: "), lines[-1]
        assert "pipeline started" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml", "here"]
    assert list(here.iterdir()) == []


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def count(self, prefix: str, since: float = 0.0) -> int:
        return sum(1 for t, m in self.messages if m.startswith(prefix) and t >= since)

    def wait_for(self, prefix: str, timeout_s: float, n: int = 1, since: float = 0.0) -> bool:
        """Until ``prefix`` came ``n`` times since ``since`` (at most ``timeout_s``)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.count(prefix, since) >= n:
                return True
            self.drain(0.2)
        return self.count(prefix, since) >= n


@pytest.mark.slow
def test_systemd_notify_ready_watchdog_hang_and_stopping(tmp_path: Path) -> None:
    need_shared()
    ns = NotifySocket(tmp_path / "notify.sock")
    hang = tmp_path / "hang"
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.harness", str(hang), "--log-level", "info", "run",
         *FREE_PORTS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env=env(NOTIFY_SOCKET=str(ns.path), WATCHDOG_USEC="1000000"),
    )  # fmt: skip
    try:
        assert ns.wait_for("READY=1", 60), ns.messages
        assert ns.wait_for("WATCHDOG=1", 60, n=4), ns.messages  # pings while frames flow
        assert any(m.startswith("STATUS=") and "fps" in m for _, m in ns.messages)
        hang.touch()  # inference now blocks inside invoke
        ns.drain(2)  # let the last in-flight frame finish
        hung_since = time.monotonic()
        ns.drain(4)
        assert ns.count("WATCHDOG=1", hung_since) == 0
        hang.unlink()
        assert ns.wait_for("WATCHDOG=1", 60, n=2, since=hung_since)  # progress: pings again
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=15)
        ns.drain(0.5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
        ns.sock.close()
    assert ns.count("STOPPING=1") == 1, ns.messages
    assert p.returncode == 0, err[-2000:]
    ready_at = next(t for t, m in ns.messages if m.startswith("READY=1"))
    assert all(t >= ready_at for t, m in ns.messages if m.startswith("WATCHDOG=1"))
