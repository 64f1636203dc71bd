"""What a camera's log says while it is down or flapping: the first failure of each kind, then
once in a while.

A camera down all night retries every 30 s (the backoff's cap): one line per attempt was 120
lines an hour. A camera that flaps (streams a few seconds, refuses for a while, over and over)
wrote three lines a cycle even when only each outage's first failure was logged: ~350 an hour.
``OutageLog`` decides which events get a line. An *episode* starts with a failure after the
camera streamed for at least ``settle_s`` (or never streamed) and lasts until it streams that
long again; short sessions in between are part of it. In an episode, a failure gets a line if
no failure of its kind got one in the last ``repeat_s``, and a return to streaming if no return
did; those lines say how long the episode has lasted, how many attempts failed, how many
failures were not logged and how often the camera came back in between. The metrics still
count every attempt. Pure: the caller passes the time (``time.monotonic()``), holds any lock.
"""

from __future__ import annotations

from camera_app.sources.errors import ErrorKind

__all__ = ["REPEAT_LOG_S", "SETTLE_S", "OutageLog", "duration_text"]

REPEAT_LOG_S = 600.0
SETTLE_S = 60.0  # streamed this long, a camera's next failure starts a new episode


def duration_text(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class OutageLog:
    """One camera's failures and returns since it last streamed steadily, and what the log
    said of them."""

    def __init__(self, repeat_s: float = REPEAT_LOG_S, settle_s: float = SETTLE_S) -> None:
        self.repeat_s = repeat_s
        self.settle_s = settle_s
        self.since_s: float | None = None  # the episode's first failure; None: no episode
        self.attempts = 0  # failed, in this episode
        self._logged: dict[ErrorKind, float] = {}  # when a failure of each kind got a line
        self._unlogged = 0  # failures without a line since the last line
        self._returns = 0  # sessions that streamed, since the last return that got a line
        self._return_logged_s: float | None = None
        self._streaming_since_s: float | None = None

    def failed(self, kind: ErrorKind, now_s: float) -> str | None:
        """Count a failed attempt; None if it gets no line, else the text to end its line with
        (empty for the episode's first failure)."""
        streamed_s = self._streaming_since_s
        self._streaming_since_s = None
        if streamed_s is not None and now_s - streamed_s >= self.settle_s:
            self.since_s = None  # it streamed steadily: the last episode is over
        if self.since_s is None:
            self.since_s, self.attempts, self._logged = now_s, 0, {}
            self._unlogged, self._returns, self._return_logged_s = 0, 0, None
        self.attempts += 1
        logged_s = self._logged.get(kind)
        if logged_s is not None and now_s - logged_s < self.repeat_s:
            self._unlogged += 1
            return None
        self._logged[kind] = now_s
        suffix = self._summary(now_s - self.since_s) if self.attempts > 1 else ""
        self._unlogged = 0
        return suffix

    def streamed(self, now_s: float) -> str | None:
        """The first frame of a session: None if it gets no line, else the text to end the
        streaming line with (empty when there was no episode)."""
        self._streaming_since_s = now_s
        if self.since_s is None:
            return ""
        if self._return_logged_s is not None and now_s - self._return_logged_s < self.repeat_s:
            self._returns += 1
            return None
        self._return_logged_s = now_s
        plural = "attempt" if self.attempts == 1 else "attempts"
        text = f" again after {self.attempts} failed {plural} over "
        text += duration_text(now_s - self.since_s)
        if self._returns:
            text += f" (it came back {self._returns} more times in between, briefly)"
        self._returns = 0
        return text

    def _summary(self, failing_s: float) -> str:
        parts = [f"failing for {duration_text(failing_s)}", f"{self.attempts} attempts"]
        if self._unlogged:
            parts.append(f"{self._unlogged} not logged")
        if self._returns:
            parts.append(f"back {self._returns} times briefly")
        return f" ({', '.join(parts)})"
