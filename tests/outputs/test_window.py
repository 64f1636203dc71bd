from __future__ import annotations

import logging
import threading

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


GUI_CALLS = ("namedWindow", "destroyWindow", "imshow", "waitKey", "destroyAllWindows",
             "getWindowProperty")  # fmt: skip


def record_gui_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    for name in GUI_CALLS:

        def fake(*args: object, _name: str = name) -> float:
            calls.append((_name, threading.get_ident()))
            return 1.0  # getWindowProperty: still visible

        monkeypatch.setattr(cv2, name, fake)
    return calls


def test_every_gui_call_is_made_on_the_thread_that_shows_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Qt's backend binds its GUI to the thread of the first GUI call; imshow from any other
    # thread then waits for an event loop that never runs (seen on a real display).
    calls = record_gui_calls(monkeypatch)
    sink = WindowSink(env={"DISPLAY": ":0"})
    assert calls == []  # built on the main thread: not one GUI call there

    def outputs_thread() -> None:
        sink.handle(make_result())
        sink.handle(make_result())
        sink.close()

    t = threading.Thread(target=outputs_thread)
    t.start()
    t.join(5)
    assert sink.frames_shown == 2
    assert {ident for _, ident in calls} == {t.ident}
    names = [name for name, _ in calls]
    assert names[:2] == ["namedWindow", "destroyWindow"]  # the GUI check, on the first frame
    assert names.count("imshow") == 2
    assert "destroyAllWindows" in names


def test_closing_from_another_thread_makes_no_gui_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = record_gui_calls(monkeypatch)
    sink = WindowSink(env={"DISPLAY": ":0"})
    t = threading.Thread(target=sink.handle, args=(make_result(),))
    t.start()
    t.join(5)
    shown = len(calls)
    sink.close()  # the main thread
    assert len(calls) == shown
    assert not sink.enabled


def test_a_window_the_user_closed_stays_closed_and_the_others_stay(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = record_gui_calls(monkeypatch)
    closed: set[str] = set()

    def visible(name: str, prop: int) -> float:
        if name in closed:
            # What the Qt backend does once the last window is gone.
            raise cv2.error("NULL guiReceiver (please create a window)")
        return 1.0

    monkeypatch.setattr(cv2, "getWindowProperty", visible)
    sink = WindowSink(env={"DISPLAY": ":0"})
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.window"):
        sink.handle(make_result("a"))
        sink.handle(make_result("b"))
        closed.add("camera_app a")  # the user closes camera a's window
        for seq in range(2, 5):
            sink.handle(make_result("a", seq))
            sink.handle(make_result("b", seq))
    shows = [c for c in calls if c[0] == "imshow"]
    assert len(shows) == 5  # a once, b four times: a's window never comes back
    assert sink.enabled
    assert sink.frames_shown == 5
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["window 'camera_app a' closed; camera a is no longer shown"]
