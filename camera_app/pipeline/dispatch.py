"""The output dispatcher: results go to the sinks on one thread, never blocking inference.

Workers ``publish()`` into a bounded queue; when the sinks fall behind, the oldest waiting
result is dropped and counted (reason ``output_backlog``), so inference never waits on a slow
disk or network client. With a ``ResultOrder`` (the App always gives one), each camera's
results enter the queue in capture order even when several workers finish them out of order.
At stop, the dispatcher waits (up to ``drain_s``) for frames the workers still hold, hands
every result to the sinks, then closes them. Sinks that act on time as well
(``TickingSink``) get a ``tick`` about every ``TICK_S`` between results, also while none come.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from camera_app.pipeline.order import ResultOrder
from camera_app.pipeline.types import Result, ResultSink, TickingSink
from camera_app.threads import ManagedThread

log = logging.getLogger(__name__)

TICK_S = 0.5  # how often ticking sinks hear the time between results


class Dispatcher(ManagedThread):
    def __init__(
        self,
        sinks: Mapping[str, Sequence[ResultSink]],
        stop: threading.Event,
        *,
        on_result: Callable[[Result], None] | None = None,
        on_render: Callable[[str, float], None] | None = None,
        on_drop: Callable[[str, str], None] | None = None,
        capacity: int = 8,
        order: ResultOrder | None = None,
        drain_s: float = 2.0,
    ) -> None:
        super().__init__("outputs")
        self._sinks = sinks
        self._stop = stop
        self._on_result = on_result
        self._on_render = on_render
        self._on_drop = on_drop
        self._queue: collections.deque[Result] = collections.deque()
        self._capacity = capacity
        self._order = order
        self._drain_s = drain_s
        self._cond = threading.Condition()
        self.dropped = 0
        self._broken: set[int] = set()
        unique = {id(s): s for sinks_ in sinks.values() for s in sinks_}
        self._ticking = [s for s in unique.values() if isinstance(s, TickingSink)]
        self._next_tick_s = 0.0

    def broken(self, sink: ResultSink) -> bool:
        """Whether ``sink`` raised once and was disabled (read from the metrics thread)."""
        return id(sink) in self._broken

    def publish(self, result: Result) -> None:
        """Called by inference workers. Never blocks beyond a short lock."""
        if self._on_result is not None:
            self._on_result(result)
        with self._cond:
            # Under the queue's lock, so results released by two workers enter in order.
            ready = self._order.completed(result) if self._order is not None else [result]
            dropped = self._enqueue(ready)
        self._report_backlog(dropped)

    def _report_backlog(self, dropped: list[Result]) -> None:
        if self._on_drop is not None:
            for d in dropped:
                self._on_drop(d.camera, "output_backlog")

    def _enqueue(self, ready: list[Result]) -> list[Result]:
        """Append released results (under ``_cond``); returns those dropped for room."""
        dropped: list[Result] = []
        for r in ready:
            if len(self._queue) >= self._capacity:
                dropped.append(self._queue.popleft())
                self.dropped += 1
            self._queue.append(r)
        if ready:
            self._cond.notify()
        return dropped

    def _next(self) -> Result | None:
        with self._cond:
            if not self._queue:
                self._cond.wait(0.1)
            return self._queue.popleft() if self._queue else None

    def _drained(self, deadline_s: float) -> bool:
        """After stop: True once no worker holds a frame, or at ``deadline_s``."""
        busy = self._order is not None and self._order.any_in_flight()
        return not busy or time.monotonic() >= deadline_s

    def _run(self) -> None:
        deadline_s: float | None = None
        while True:
            result = self._next()
            if not self._stop.is_set():
                self._tick()
            if result is None:
                if self._stop.is_set():
                    if deadline_s is None:
                        deadline_s = time.monotonic() + self._drain_s
                    if self._drained(deadline_s):
                        break
                continue
            self._deliver(result)
        if self._order is not None:
            for result in self._order.flush():
                self._deliver(result)
        self._close_all()

    def _guarded(self, sink: Any, call: Callable[[Any], object], what: str) -> None:
        """``call(sink)`` unless the sink is disabled; one that raises is disabled, so one
        broken output never takes down the others or the pipeline."""
        if id(sink) in self._broken:
            return
        try:
            call(sink)
        except Exception:
            self._broken.add(id(sink))
            log.exception("output %s %s failed; disabled", type(sink).__name__, what)

    def _tick(self) -> None:
        now_s = time.monotonic()
        if now_s < self._next_tick_s:
            return
        self._next_tick_s = now_s + TICK_S
        for sink in self._ticking:
            self._guarded(sink, lambda s: s.tick(now_s), "on its tick")

    def _deliver(self, result: Result) -> None:
        t0 = time.monotonic()
        for sink in self._sinks.get(result.camera, ()):
            self._guarded(sink, lambda s: s.handle(result), f"for camera {result.camera}")
        if self._on_render is not None:
            self._on_render(result.camera, time.monotonic() - t0)

    def _close_all(self) -> None:
        seen: set[int] = set()
        for sinks in self._sinks.values():
            for sink in sinks:
                if id(sink) in seen:
                    continue
                seen.add(id(sink))
                try:
                    sink.close()
                except Exception:
                    log.exception("closing output %s failed", type(sink).__name__)
