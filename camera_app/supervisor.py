"""What the App runs: an ordered list of components, started in order and stopped reversed.

A component is anything with a name, ``start()``, ``stop(timeout_s) -> bool`` and ``alive()``:
threads (capture, inference, outputs), the HTTP servers, the systemd notifier. Stopping names
each part that did not end in time, so a hung shutdown says what hung.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger(__name__)


class Component(Protocol):
    """One part of the running service."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout_s: float) -> bool:
        """Stop (the stop event is already set); True if it ended within ``timeout_s``."""
        ...

    def alive(self) -> bool: ...


class Supervisor:
    """Owns the ordered list; ``start()`` is all-or-nothing, ``stop()`` reverses it.

    ``stop()`` sets ``stop_event`` first (the one event every thread of the pipeline ends on),
    also when it undoes a failed start."""

    def __init__(
        self, components: Iterable[Component] = (), stop_event: threading.Event | None = None
    ) -> None:
        self._components: list[Component] = list(components)
        self._started: list[Component] = []
        self._stop_event = stop_event if stop_event is not None else threading.Event()

    def add(self, component: Component) -> None:
        if self._started:
            raise RuntimeError(f"cannot add {component.name}: already started")
        self._components.append(component)

    @property
    def components(self) -> tuple[Component, ...]:
        return tuple(self._components)

    def start(self) -> None:
        """Start each component in order; if one fails, stop those started and re-raise."""
        try:
            for part in self._components:
                part.start()
                self._started.append(part)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 5.0) -> list[str]:
        """Stop what was started, in reverse order, each within ``timeout_s``; returns the
        names of those that did not end in time (also logged)."""
        self._stop_event.set()
        hung: list[str] = []
        for part in reversed(self._started):
            try:
                ended = part.stop(timeout_s)
            except Exception:
                log.exception("stopping %s failed", part.name)
                ended = False
            if not ended:
                hung.append(part.name)
        self._started.clear()
        if hung:
            log.error("still running after stop: %s", ", ".join(hung))
        return hung
