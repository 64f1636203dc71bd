"""A real display: `camera-app run` with `window: true` on an X server, from an OpenCV with GUI.

camera_app installs the headless OpenCV wheel; a user who wants a local window installs
opencv-python (Qt) in its place. ``scripts/test`` builds such an environment (``.venv-gui``: the
same dependencies and OpenCV version, the GUI build) and names its interpreter in
``CAMERA_APP_GUI_PYTHON``. The test starts its own X server (Xvfb), runs the app there on a
folder holding one real photo, finds the window by its title, grabs the screen with ``xwd`` and
finds in it, pixel for pixel, the annotated frame the detector draws for that photo. Then it
closes the window as a user would (WM_DELETE_WINDOW): the window goes and stays gone while
results keep coming, and the app stops on SIGTERM with exit code 0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import shutil
import signal
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.detect.detector import DetectorOptions, load_detector
from camera_app.detect.draw import draw_detections
from tests.e2e.test_mjpeg_run import _stop as stop_process
from tests.e2e.test_rtsp_run import wait_for
from tests.shared import IMAGES, MODELS, REPO, TEST_MODELS, need_shared

PHOTO = "cat.bmp"  # lossless: both OpenCV builds decode it to the same bytes
CAMERA = "desk"
TITLE = f"camera_app {CAMERA}"  # WindowSink's "<title> <camera>"


def gui_python() -> str:
    found = os.environ.get("CAMERA_APP_GUI_PYTHON")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CAMERA_APP_GUI_PYTHON is not set; scripts/test makes that environment")
        pytest.skip("needs an environment with opencv-python (GUI): scripts/test makes one")
    return found


@contextmanager
def xvfb(log: Path) -> Iterator[str]:
    """A fresh X server on a display number it picks itself; stopped on leaving."""
    read_fd, write_fd = os.pipe()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
             "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20.0)
        assert ready, f"Xvfb did not start: {log.read_text()[-500:]}"
        yield f":{os.read(read_fd, 32).decode().strip()}"
    finally:
        os.close(read_fd)
        stop_process(proc)


def window_info(display: str, title: str) -> dict[str, str] | None:
    """What ``xwininfo`` says of the window with this title, or None while there is none."""
    r = subprocess.run(
        ["xwininfo", "-display", display, "-name", title],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        return None
    lines = (ln.partition(":") for ln in r.stdout.splitlines())
    return {k.strip(): v.strip() for k, _, v in lines}


def window_geometry(display: str, title: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the window with this title, or None while there is none."""
    info = window_info(display, title)
    if info is None:
        return None
    keys = ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")
    x, y, w, h = (int(info[k]) for k in keys)
    return x, y, w, h


def window_shown(display: str, title: str) -> bool:
    info = window_info(display, title)
    return info is not None and info.get("Map State") == "IsViewable"


def close_like_a_user(display: str, title: str) -> None:
    """Send the window the WM_DELETE_WINDOW message a window manager's close button sends
    (no window manager runs on this X server; libX11 through ctypes, as xdotool would)."""
    info = window_info(display, title)
    assert info is not None, title
    window = int(info["xwininfo"].split()[2], 16)  # "Window id: 0x... "name""

    class ClientMessage(ctypes.Structure):
        _fields_ = [
            ("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
            ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
            ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
            ("data", ctypes.c_long * 5),
        ]  # fmt: skip

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    name = ctypes.util.find_library("X11")
    assert name, "libX11 not found"
    x11 = ctypes.CDLL(name)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_void_p,
    ]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open display {display}"
    try:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        assert x11.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def grab_screen(display: str) -> np.ndarray:
    """The whole screen as a BGR image, read from ``xwd``'s format (ZPixmap, 24 or 32 bits a
    pixel, 8 bits a colour)."""
    data = subprocess.run(
        ["xwd", "-display", display, "-root", "-silent"],
        capture_output=True, timeout=20, check=True,
    ).stdout  # fmt: skip
    h = struct.unpack(">25I", data[:100])
    header_size, depth, width, height = h[0], h[3], h[4], h[5]
    byte_order, bits_per_pixel, bytes_per_line = h[7], h[11], h[12]
    masks, ncolors = h[14:17], h[19]
    assert depth == 24, h
    assert bits_per_pixel in (24, 32), h
    assert masks == (0xFF0000, 0x00FF00, 0x0000FF), masks
    n = bits_per_pixel // 8
    start = header_size + 12 * ncolors  # after the header, its window name and the colour map
    rows = np.frombuffer(data, np.uint8, count=height * bytes_per_line, offset=start)
    pixels = rows.reshape(height, bytes_per_line)[:, : width * n].reshape(height, width, n)
    # LSBFirst (0): a pixel's bytes are blue, green, red (, pad); MSBFirst: (pad,) red, green, blue.
    bgr = pixels[..., :3] if byte_order == 0 else pixels[..., n - 3 :][..., ::-1]
    return np.ascontiguousarray(bgr)


@pytest.mark.slow
def test_the_window_shows_the_annotated_frame_on_a_real_display(tmp_path: Path) -> None:
    need_shared()
    python = gui_python()
    photo = cv2.imread(str(IMAGES / PHOTO), cv2.IMREAD_COLOR)
    detector = load_detector(
        str(MODELS / "ssd_mobilenet_v1_coco_quant"), DetectorOptions(threshold=0.5)
    )
    found = detector.detect(photo)
    assert "cat" in found.labels  # something to draw
    expected = draw_detections(photo.copy(), found)
    drawn = (expected != photo).any(axis=2)  # the boxes and labels
    assert drawn.sum() > 1000

    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(IMAGES / PHOTO, frames / PHOTO)
    events = tmp_path / "events.jsonl"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"""
model: {{path: ssd_mobilenet_v1_coco_quant}}
detection: {{threshold: 0.5}}
http: {{enabled: false}}
metrics: {{enabled: false}}
motion: {{enabled: false}}  # a still photo: no motion, so gating would run it every keepalive_s
cameras:
  - name: {CAMERA}
    source: {frames}
    loop: true
    fps: 5
    outputs: {{window: true, events: {events}}}
"""
    )
    app_log = tmp_path / "app.log"
    with xvfb(tmp_path / "xvfb.log") as display:
        env = {
            **os.environ, "DISPLAY": display,
            "CAMERA_APP_MODEL_PATH": f"{MODELS}:{TEST_MODELS}",
        }  # fmt: skip
        env.pop("WAYLAND_DISPLAY", None)
        with open(app_log, "wb") as out:
            app = subprocess.Popen(
                [python, "-m", "camera_app", "run", "--config", str(cfg), "--duration", "120"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
            )  # fmt: skip
        try:
            wait_for(f"window {TITLE!r}", lambda: window_geometry(display, TITLE) is not None, 60)
            wait_for(
                "three results",
                lambda: events.exists() and len(events.read_text().splitlines()) >= 3, 30,
            )  # fmt: skip
            geometry = window_geometry(display, TITLE)
            assert geometry is not None
            wx, wy, ww, wh = geometry
            h, w = photo.shape[:2]
            assert ww >= w, (geometry, photo.shape)  # shown at full size
            assert wh >= h, (geometry, photo.shape)
            screen = grab_screen(display)
            scores = cv2.matchTemplate(screen, expected, cv2.TM_SQDIFF)
            _, _, (x, y), _ = cv2.minMaxLoc(scores)
            shown = screen[y : y + h, x : x + w]
            # Inside the window, and the very pixels of the annotated frame.
            assert wx <= x <= x + w <= wx + ww, (geometry, x)
            assert wy <= y <= y + h <= wy + wh, (geometry, y)
            assert np.array_equal(shown, expected), np.abs(
                shown.astype(int) - expected.astype(int)
            ).max()
            assert (shown[drawn] != photo[drawn]).any(axis=1).mean() > 0.9  # boxes, not the photo

            # The user closes the window: it goes, and stays gone while results keep coming.
            close_like_a_user(display, TITLE)
            wait_for("the window to close", lambda: not window_shown(display, TITLE), 10)
            seen = len(events.read_text().splitlines())
            wait_for(
                "five more results", lambda: len(events.read_text().splitlines()) > seen + 5, 30
            )
            assert not window_shown(display, TITLE)
        finally:
            app.send_signal(signal.SIGTERM)
            try:
                code = app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(5)
                code = None
        log = app_log.read_text(errors="replace")
        assert code == 0, log[-3000:]
        assert window_geometry(display, TITLE) is None  # gone with the app
    assert f"window {TITLE!r} closed; camera {CAMERA} is no longer shown" in log, log[-3000:]
    assert "window output off" not in log, log[-3000:]
    assert "window output failed" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    results = [json.loads(line) for line in events.read_text().splitlines()]
    assert {d["label"] for r in results for d in r["detections"]} >= {"cat"}
