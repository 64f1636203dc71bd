"""Capture order for results: several workers may finish a camera's frames out of order.

With two interpreters on one camera, frame 12 can finish before frame 10 when frame 10's
``invoke()`` runs long. Outputs must still see each camera's results in capture order (a live
view must not step back a frame, events and recordings must be in time order), and none may be
lost (a file read with ``realtime: false`` expects every frame in its output).

``ResultOrder`` is told when a worker takes a frame (``taken``, called by the board under its
take lock, so no newer frame of the camera can be taken first) and when its result is complete
(``completed``). A result is released once no older frame of its camera is still in flight;
until then it is held. A result is held at most until the older frame's worker finishes it.
Pure bookkeeping, no threads of its own: callers serialize ``completed`` with their queue.
"""

from __future__ import annotations

import heapq
import threading
from collections import defaultdict

from camera_app.pipeline.types import Result
from camera_app.sources.base import Frame


class ResultOrder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: defaultdict[str, set[int]] = defaultdict(set)
        self._held: defaultdict[str, list[tuple[int, int, Result]]] = defaultdict(list)
        self._tiebreak = 0
        self.held_total = 0  # results that had to wait for an older frame

    def taken(self, frame: Frame) -> None:
        """A worker took ``frame``; results of newer frames wait for it."""
        with self._lock:
            self._in_flight[frame.camera].add(frame.sequence)

    def completed(self, result: Result) -> list[Result]:
        """``result`` is done: the results now releasable for its camera, oldest first."""
        camera, seq = result.camera, result.frame.sequence
        with self._lock:
            flight = self._in_flight[camera]
            flight.discard(seq)
            held = self._held[camera]
            if not held and (not flight or seq < min(flight)):
                return [result]  # the usual case: nothing older is still running
            self._tiebreak += 1
            heapq.heappush(held, (seq, self._tiebreak, result))
            out = self._release(camera)
            if not any(r is result for r in out):
                self.held_total += 1
            return out

    def flush(self) -> list[Result]:
        """Everything still held, each camera in order (at shutdown)."""
        with self._lock:
            out: list[Result] = []
            for held in self._held.values():
                out.extend(r for _, _, r in sorted(held))
                held.clear()
            self._in_flight.clear()
            return out

    def in_flight(self, camera: str) -> int:
        with self._lock:
            return len(self._in_flight[camera])

    def any_in_flight(self) -> bool:
        with self._lock:
            return any(self._in_flight.values())

    def _release(self, camera: str) -> list[Result]:
        flight = self._in_flight[camera]
        oldest_running = min(flight) if flight else None
        held = self._held[camera]
        out: list[Result] = []
        while held and (oldest_running is None or held[0][0] < oldest_running):
            out.append(heapq.heappop(held)[2])
        return out
