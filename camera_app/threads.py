"""One named daemon thread with the start / is_alive / join(timeout) every part needs."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class ManagedThread:
    """Subclasses implement ``_run``; ``join`` reports a thread that does not end in time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True if the thread ended, False (and a warning) if not."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("thread %s still alive after %.1f s", self.name, timeout_s)
            return False
        return True
