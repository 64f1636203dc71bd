"""When a file output fails (a full disk): wait, try again, wait twice as long each time it
fails again, up to a cap (the reconnect backoff's arithmetic, without jitter). The clock is
the caller's (frames' capture times), so tests drive it with results and a wall clock set
back changes nothing."""

from __future__ import annotations

from camera_app.sources.backoff import Backoff, BackoffPolicy

FIRST_S = 30.0
MAX_S = 600.0


class Retry:
    def __init__(self, first_s: float = FIRST_S, max_s: float = MAX_S) -> None:
        self._backoff = Backoff(BackoffPolicy(first_s, max_s, multiplier=2.0, jitter=0.0))
        self.failures = 0  # all failures so far
        self.failing = False  # since a failure, until ``recovered``
        self.gave_up = False  # failed for good: no more tries
        self._until_s: float | None = None

    def failed(self, now_s: float) -> float:
        """Record a failure at ``now_s``; returns how long to wait before the next try."""
        wait_s = self._backoff.next_delay_s()
        self._until_s = now_s + wait_s
        self.failures += 1
        self.failing = True
        return wait_s

    def give_up(self) -> None:
        """A failure that waiting will not mend (a closed stdout, no writer for the format)."""
        self.failures += 1
        self.gave_up = True

    def health(self) -> tuple[bool, int]:
        """(working now, failures so far): what ``ResultSink.health`` reports."""
        return not (self.failing or self.gave_up), self.failures

    def waiting(self, now_s: float) -> bool:
        """True while the wait after a failure lasts; after it, the caller tries again."""
        if self._until_s is None:
            return False
        if now_s < self._until_s:
            return True
        self._until_s = None
        return False

    def recovered(self) -> bool:
        """The output works again: True once after a failure (to say so), then False."""
        if not self.failing:
            return False
        self.failing = False
        self._backoff.reset()
        return True
