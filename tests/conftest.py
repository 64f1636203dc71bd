"""Shared fixtures. The real RTSP server: ``rtsp_server(**options)`` starts tests/rtsp_server.py
(Debian's gst-rtsp-server, under /usr/bin/python3) on a free loopback port with a clip these
fixtures make, waits until it answers, and stops it after the test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import settings

from tests.sources.servers import RtspServerProcess, gst_rtsp_status

# Property tests explore new random examples on every developer run; CI replays a fixed set so
# that a landing is never decided by the draw (a failure found locally is fixed, then stays
# covered by an explicit example or a corrected property).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

CLIP_SIZE_WH = (320, 240)
CLIP_FRAMES = 30


@pytest.fixture(scope="session")
def rtsp_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2 s looping clip as numbered JPEGs: the camera pans over the astronaut, then the cat."""
    from skimage import data

    folder = tmp_path_factory.mktemp("rtsp-clip")
    w, h = CLIP_SIZE_WH
    photos = [cv2.cvtColor(p, cv2.COLOR_RGB2BGR) for p in (data.astronaut(), data.chelsea())]
    for i in range(CLIP_FRAMES):
        photo = photos[i * len(photos) // CLIP_FRAMES]
        big = cv2.resize(photo, (w + 60, h + 60), interpolation=cv2.INTER_AREA)
        x = (i * 4) % 60
        frame = np.ascontiguousarray(big[30 : 30 + h, x : x + w])
        if not cv2.imwrite(str(folder / f"frame_{i:05d}.jpg"), frame):
            raise RuntimeError(f"cannot write the clip into {folder}")
    return str(folder / "frame_%05d.jpg")


@pytest.fixture(scope="session")
def gst_rtsp_server() -> None:
    """Skip when gst-rtsp-server is not importable by /usr/bin/python3 (CI installs it, see
    .ci/apt-packages.txt); fail when it is but GStreamer elements are missing."""
    importable, detail = gst_rtsp_status()
    if not importable:
        pytest.skip(
            "the real RTSP server needs python3-gi and gir1.2-gst-rtsp-server-1.0 for "
            f"/usr/bin/python3 ({detail}); see .ci/apt-packages.txt"
        )
    if detail:
        pytest.fail(
            f"GStreamer elements missing for tests/rtsp_server.py: {detail}; install "
            "gstreamer1.0-plugins-base, -good and -bad (see .ci/apt-packages.txt)"
        )


@pytest.fixture
def rtsp_server(
    gst_rtsp_server: None, rtsp_clip: str, tmp_path: Path
) -> Iterator[Callable[..., RtspServerProcess]]:
    """``rtsp_server(path="/cam", user=None, password=None)`` -> a started server."""
    servers: list[RtspServerProcess] = []

    def start(**options: object) -> RtspServerProcess:
        server = RtspServerProcess(rtsp_clip, tmp_path, **options)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
