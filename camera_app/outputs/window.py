"""A local window per camera (``cv2.imshow``), when there is a display to show it on.

Without ``$DISPLAY`` / ``$WAYLAND_DISPLAY``, or with an OpenCV built without GUI support (the
headless wheel this project installs), the sink logs one line and does nothing. A window the
user closes stays closed.

Every GUI call is made on one thread: the one that calls ``handle`` (the dispatcher's outputs
thread), which also closes the sink. OpenCV's Qt backend makes its GUI object on the thread of
the first GUI call; ``imshow`` from another thread then waits for that thread to run Qt's event
loop, which the main thread never does here (found on a real display: the outputs thread hung
and no window appeared). So even the check for GUI support waits for the first frame.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

import cv2

from camera_app.detect.draw import draw_detections
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

_PROBE = "camera_app-probe"


def display_available(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether a display is set, and if not, why (no GUI call: any thread may ask)."""
    env = os.environ if env is None else env
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False, "no display ($DISPLAY and $WAYLAND_DISPLAY are unset)"
    return True, ""


def gui_available(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether windows can be shown, and if not, why. Makes GUI calls: call it on the thread
    that will show the windows."""
    ok, why = display_available(env)
    if not ok:
        return ok, why
    try:
        cv2.namedWindow(_PROBE, cv2.WINDOW_AUTOSIZE)
        cv2.destroyWindow(_PROBE)
    except cv2.error:
        return False, "this OpenCV has no GUI support (opencv-python-headless)"
    return True, ""


class WindowSink:
    """Shows annotated frames in a window named ``<title> <camera>``."""

    output_name = "window"

    def __init__(self, title: str = "camera_app", env: Mapping[str, str] | None = None) -> None:
        self.title = title
        self._env = env
        self.enabled, why = display_available(env)
        self.frames_shown = 0
        self._gui_thread: int | None = None  # the thread that made the first GUI call
        self._open: set[str] = set()
        self._closed_by_user: set[str] = set()
        if not self.enabled:
            log.info("window output off: %s", why)

    def _gui_ready(self) -> bool:
        """On the first frame, on this (the outputs) thread: can OpenCV show windows?"""
        if self._gui_thread is None:
            self._gui_thread = threading.get_ident()
            ok, why = gui_available(self._env)
            if not ok:
                self.enabled = False
                log.info("window output off: %s", why)
        return self.enabled

    def _name(self, camera: str) -> str:
        return f"{self.title} {camera}"

    def handle(self, result: Result) -> None:
        camera = result.camera
        if not self.enabled or camera in self._closed_by_user or not self._gui_ready():
            return
        name = self._name(camera)
        try:
            if camera in self._open and not self._visible(name):
                self._closed_by_user.add(camera)
                self._open.discard(camera)
                log.info("window %r closed; camera %s is no longer shown", name, camera)
                return
            cv2.imshow(name, draw_detections(result.frame.image_bgr.copy(), result.detections))
            self._open.add(camera)
            cv2.waitKey(1)  # lets the GUI draw; 1 ms
        except cv2.error as exc:
            self.enabled = False
            log.warning("window output failed (%s); windows are off", exc)
            return
        self.frames_shown += 1

    @staticmethod
    def _visible(name: str) -> bool:
        try:
            return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            # The Qt backend drops its GUI object with the last window, and then raises here
            # ("NULL guiReceiver"): that window is gone (seen on a real display).
            return False

    def health(self) -> tuple[bool, int]:
        """Never fails by itself (one that raised is disabled by the dispatcher)."""
        return True, 0

    def close(self) -> None:
        if self._gui_thread is not None and self._gui_thread != threading.get_ident():
            # Not the GUI's thread: a GUI call here could wait forever. The windows go with
            # the process.
            log.debug("windows left to the process exit (closed from another thread)")
        elif self.enabled and self._open:
            try:
                cv2.destroyAllWindows()
                cv2.waitKey(1)
            except cv2.error as exc:
                log.debug("closing windows: %s", exc)
        self.enabled = False
        self._open.clear()
