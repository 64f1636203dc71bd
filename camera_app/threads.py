"""Named daemon threads, and the one join-with-timeout that says which thread hung."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)


def join_all(threads: Iterable[threading.Thread], timeout_s: float) -> bool:
    """Join each thread within one shared ``timeout_s``; True if all ended, else False and a
    warning naming those still alive."""
    deadline = time.monotonic() + timeout_s
    threads = list(threads)
    for t in threads:
        if t.ident is not None:  # never started: nothing to wait for
            t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        log.warning("thread %s still alive after %.1f s", ", ".join(alive), timeout_s)
    return not alive


class ManagedThread:
    """A ``Component`` made of one thread that ends on the pipeline's stop event.

    Subclasses implement ``_run``; ``stop`` only waits (the stop event was set first).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the thread; True if it ended."""
        return join_all([self._thread], timeout_s)
