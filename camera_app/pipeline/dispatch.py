"""The output dispatcher: results go to the sinks on one thread, never blocking inference.

Workers ``publish()`` into a bounded queue; when the sinks fall behind, the oldest waiting
result is dropped and counted (reason ``output_backlog``), so inference never waits on a slow
disk or network client.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from camera_app.pipeline.types import Result, ResultSink
from camera_app.threads import ManagedThread

log = logging.getLogger(__name__)


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
    ) -> None:
        super().__init__("outputs")
        self._sinks = sinks
        self._stop = stop
        self._on_result = on_result
        self._on_render = on_render
        self._on_drop = on_drop
        self._queue: collections.deque[Result] = collections.deque()
        self._capacity = capacity
        self._cond = threading.Condition()
        self.dropped = 0
        self.handled = 0
        self._broken: set[int] = set()

    def publish(self, result: Result) -> None:
        """Called by inference workers. Never blocks beyond a short lock."""
        if self._on_result is not None:
            self._on_result(result)
        dropped: Result | None = None
        with self._cond:
            if len(self._queue) >= self._capacity:
                dropped = self._queue.popleft()
                self.dropped += 1
            self._queue.append(result)
            self._cond.notify()
        if dropped is not None and self._on_drop is not None:
            self._on_drop(dropped.camera, "output_backlog")

    def _next(self) -> Result | None:
        with self._cond:
            if not self._queue:
                self._cond.wait(0.1)
            return self._queue.popleft() if self._queue else None

    def _run(self) -> None:
        while True:
            result = self._next()
            if result is None:
                if self._stop.is_set():
                    break
                continue
            t0 = time.monotonic()
            for sink in self._sinks.get(result.camera, ()):
                if id(sink) in self._broken:
                    continue
                try:
                    sink.handle(result)
                except Exception:
                    # One broken output must not take down the others or the pipeline.
                    self._broken.add(id(sink))
                    log.exception(
                        "output %s for camera %s failed; disabled",
                        type(sink).__name__, result.camera,
                    )  # fmt: skip
            self.handled += 1
            if self._on_render is not None:
                self._on_render(result.camera, time.monotonic() - t0)
        self._close_all()

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
