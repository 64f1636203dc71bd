"""The supervisor: start in order, stop reversed, a failed start undone, a hung stop named."""

from __future__ import annotations

import logging
import threading

import pytest

from camera_app.supervisor import Supervisor
from camera_app.threads import ManagedThread, join_all


class Part:
    def __init__(self, name: str, log: list[str], *, fails: bool = False, hangs: bool = False):
        self.name = name
        self._log = log
        self._fails = fails
        self._hangs = hangs
        self.running = False

    def start(self) -> None:
        if self._fails:
            raise OSError(f"{self.name} cannot start")
        self._log.append(f"start {self.name}")
        self.running = True

    def stop(self, timeout_s: float) -> bool:
        self._log.append(f"stop {self.name} {timeout_s}")
        self.running = self._hangs
        return not self._hangs

    def alive(self) -> bool:
        return self.running


def test_starts_in_order_and_stops_reversed() -> None:
    log: list[str] = []
    sup = Supervisor([Part("http", log), Part("outputs", log)])
    sup.add(Part("capture-a", log))
    sup.start()
    assert [c.name for c in sup.components] == ["http", "outputs", "capture-a"]
    assert sup.stop(2.0) == []
    assert log == [
        "start http", "start outputs", "start capture-a",
        "stop capture-a 2.0", "stop outputs 2.0", "stop http 2.0",
    ]  # fmt: skip
    assert sup.stop(2.0) == []  # nothing left to stop


def test_a_failed_start_sets_the_stop_event_stops_what_was_started_and_raises() -> None:
    log: list[str] = []
    parts = [Part("http", log), Part("outputs", log, fails=True), Part("capture-a", log)]
    stop = threading.Event()
    sup = Supervisor(parts, stop)
    with pytest.raises(OSError, match="outputs cannot start"):
        sup.start()
    assert stop.is_set()  # threads already running end on it
    assert log == ["start http", "stop http 5.0"]
    assert not any(p.alive() for p in parts)


def test_what_did_not_stop_in_time_is_named(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    sup = Supervisor([Part("http", log), Part("inference-0", log, hangs=True)])
    sup.start()
    with caplog.at_level(logging.ERROR, logger="camera_app.supervisor"):
        assert sup.stop(0.5) == ["inference-0"]
    assert "still running after stop: inference-0" in caplog.text
    assert log[-1] == "stop http 0.5"  # the others are still stopped


def test_nothing_is_added_once_started() -> None:
    sup = Supervisor([Part("http", [])])
    sup.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            sup.add(Part("late", []))
    finally:
        sup.stop(1.0)


class Waits(ManagedThread):
    def __init__(self, release: threading.Event) -> None:
        super().__init__("waits")
        self._release = release

    def _run(self) -> None:
        self._release.wait(10.0)


def test_a_thread_component_reports_a_hang_and_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    t = Waits(release)
    assert t.stop(0.1)  # never started: nothing to wait for
    t.start()
    assert t.alive()
    with caplog.at_level(logging.WARNING, logger="camera_app.threads"):
        assert t.stop(0.2) is False
    assert "thread waits still alive after 0.2 s" in caplog.text
    release.set()
    assert t.stop(5.0)
    assert not t.alive()
    assert join_all([], 0.0)
