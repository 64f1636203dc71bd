"""What a camera's log says while it is down: the first failure, a new kind, then once in a while.

A camera down all night retries every 30 s (the backoff's cap): one line per attempt was 120
lines an hour, and a camera that flaps (streams a few seconds, refuses for a while) wrote over
300. ``OutageLog`` decides which failures get a line: the first of an outage, one of another
kind than the last logged, and a repeat once ``repeat_s`` have passed since the last line, which
then says how long the camera has failed and how many attempts were not logged. The first frame
after an outage gets one line saying how long it lasted. The metrics still count every attempt.
Pure: the caller passes the time (``time.monotonic()``) and holds any lock.
"""

from __future__ import annotations

from camera_app.sources.errors import ErrorKind

__all__ = ["REPEAT_LOG_S", "OutageLog", "duration_text"]

REPEAT_LOG_S = 600.0


def duration_text(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class OutageLog:
    """The failed attempts since a camera last streamed, and what the log said of them."""

    def __init__(self, repeat_s: float = REPEAT_LOG_S) -> None:
        self.repeat_s = repeat_s
        self.since_s: float | None = None  # None: streaming, or not failed yet
        self.attempts = 0
        self._logged_kind: ErrorKind | None = None
        self._logged_at_s = 0.0
        self._unlogged = 0

    def failed(self, kind: ErrorKind, now_s: float) -> str | None:
        """Count a failed attempt; None if it gets no line, else the text to end its line with
        (empty for the outage's first failure)."""
        if self.since_s is None:
            self.since_s, self.attempts, self._logged_kind, self._unlogged = now_s, 0, None, 0
        self.attempts += 1
        if kind is self._logged_kind and now_s - self._logged_at_s < self.repeat_s:
            self._unlogged += 1
            return None
        suffix = ""
        if self.attempts > 1:
            failing = duration_text(now_s - self.since_s)
            suffix = f" (failing for {failing}, {self.attempts} attempts"
            suffix += f", {self._unlogged} of them not logged)" if self._unlogged else ")"
        self._logged_kind, self._logged_at_s, self._unlogged = kind, now_s, 0
        return suffix

    def streamed(self, now_s: float) -> str:
        """The outage (if any) ended with a frame: the text to end the streaming line with."""
        since, attempts = self.since_s, self.attempts
        self.since_s, self.attempts, self._logged_kind, self._unlogged = None, 0, None, 0
        if since is None:
            return ""
        plural = "attempt" if attempts == 1 else "attempts"
        return f" again after {attempts} failed {plural} over {duration_text(now_s - since)}"
