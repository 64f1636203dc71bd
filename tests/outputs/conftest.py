"""A live view and web server on a free loopback port, with a status that holds a secret."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from camera_app.outputs.live import LiveView
from camera_app.server import HttpServer, page_server
from tests.outputs.builders import RED_BGR, make_result

SECRET = "hunter2"
CAMERAS = ("door", "yard")


@dataclass
class FakeStatus:
    """status_fn: the first call says door is connecting, later calls that it is streaming
    (so a page showing "streaming" proves its script fetched /api/status)."""

    calls: int = 0
    fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if self.fail:
            raise RuntimeError(f"cannot reach rtsp://admin:{SECRET}@10.0.0.5/live")
        return {
            "version": "0.1.0",
            "uptime_s": 12.5,
            "cameras": [
                {"name": "door", "state": "connecting" if first else "streaming",
                 # status sources are redacted already; this one checks the page redacts again
                 "source": f"rtsp://admin:{SECRET}@10.0.0.5:554/live?token={SECRET}",
                 "fps": 9.87, "last_error": None, "outputs_failing": []},
                {"name": "yard", "state": "backing_off", "source": "rtsp://10.0.0.6/cam",
                 "fps": 0.0,
                 "last_error": {"class": "refused", "message": "<b>refused</b> & gone"},
                 "outputs_failing": ["record", "events"]},
            ],
            "model": {"name": "ssd_mobilenet_v1_coco_quant", "threads": 2},
        }  # fmt: skip


class Feeder:
    """Feeds a camera solid-colour frames every ``interval_s`` from its own thread."""

    def __init__(self, live: LiveView) -> None:
        self.live = live
        self.sequence = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def one(self, camera: str = "door", colour_bgr: tuple[int, int, int] = RED_BGR) -> None:
        self.sequence += 1
        result = make_result(camera, self.sequence, size_wh=(320, 240), colour_bgr=colour_bgr)
        result.frame.image_bgr[:8, :8] = self.sequence % 256  # so each frame's JPEG differs
        self.live.handle(result)

    def start(self, camera: str = "door", interval_s: float = 0.02) -> None:
        def run() -> None:
            while not self._stop.wait(interval_s):
                self.one(camera)

        thread = threading.Thread(target=run, name=f"feeder-{camera}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5.0)
            assert not t.is_alive(), t.name


@dataclass
class Web:
    server: HttpServer
    live: LiveView
    status: FakeStatus
    feeder: Feeder

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture
def web() -> Iterator[Web]:
    live = LiveView(CAMERAS)
    status = FakeStatus()
    server = page_server("127.0.0.1", 0, live, status, request_timeout_s=5.0)
    feeder = Feeder(live)
    server.start()
    try:
        yield Web(server, live, status, feeder)
    finally:
        feeder.stop()
        live.close()
        assert server.stop(timeout_s=5.0), "the web server did not stop in time"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(size_bytes)``: a folder on a tmpfs of that size, a real filesystem that fills
    up; unmounted at the end (lazily, should a failed test leave a file open)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(size_bytes: int) -> Path:
        disk = tmp_path / f"disk{len(mounted)}"
        disk.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(disk)], check=True
        )
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], check=True)
