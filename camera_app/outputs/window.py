"""A local window per camera (``cv2.imshow``), when there is a display to show it on.

Without ``$DISPLAY`` / ``$WAYLAND_DISPLAY``, or with an OpenCV built without GUI support (the
headless wheel this project installs), the sink logs one line and does nothing. A window the
user closes stays closed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import cv2

from camera_app.detect.draw import draw_detections
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

_PROBE = "camera_app-probe"


def gui_available(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether windows can be shown, and if not, why."""
    env = os.environ if env is None else env
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False, "no display ($DISPLAY and $WAYLAND_DISPLAY are unset)"
    try:
        cv2.namedWindow(_PROBE, cv2.WINDOW_AUTOSIZE)
        cv2.destroyWindow(_PROBE)
    except cv2.error:
        return False, "this OpenCV has no GUI support (opencv-python-headless)"
    return True, ""


class WindowSink:
    """Shows annotated frames in a window named ``<title> <camera>``."""

    def __init__(self, title: str = "camera_app", env: Mapping[str, str] | None = None) -> None:
        self.title = title
        self.enabled, why = gui_available(env)
        self.frames_shown = 0
        self._open: set[str] = set()
        self._closed_by_user: set[str] = set()
        if not self.enabled:
            log.info("window output off: %s", why)

    def _name(self, camera: str) -> str:
        return f"{self.title} {camera}"

    def handle(self, result: Result) -> None:
        camera = result.camera
        if not self.enabled or camera in self._closed_by_user:
            return
        name = self._name(camera)
        try:
            if camera in self._open and cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) < 1:
                self._closed_by_user.add(camera)
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

    def close(self) -> None:
        if self.enabled and self._open:
            try:
                cv2.destroyAllWindows()
                cv2.waitKey(1)
            except cv2.error as exc:
                log.debug("closing windows: %s", exc)
        self.enabled = False
        self._open.clear()
