from __future__ import annotations

import logging

import cv2
import pytest

from camera_app.outputs.window import WindowSink, gui_available
from tests.outputs.builders import make_result


def test_without_a_display_the_window_is_a_quiet_no_op(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.window"):
        sink = WindowSink(env={})
        sink.handle(make_result())
        sink.close()
    assert not sink.enabled
    assert sink.frames_shown == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "no display" in messages[0]


def test_opencv_without_gui_support_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_gui(*args: object) -> None:
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    ok, why = gui_available({"DISPLAY": ":0"})
    assert not ok
    assert "no GUI support" in why
    sink = WindowSink(env={"WAYLAND_DISPLAY": "wayland-0"})
    sink.handle(make_result())
    assert sink.frames_shown == 0
