"""JSON-lines events: one line per processed frame, to stdout or appended to a file.

    {"camera": "door", "capture_time": "2024-05-01T12:00:00.123Z", "sequence": 42,
     "latency_s": 0.0812, "stages": {"frame_age_s": ..., "preprocess_s": ..., "invoke_s": ...,
     "postprocess_s": ...}, "detections": [{"label": "person", "class_id": 0, "score": 0.87,
     "box_xyxy": [12.0, 30.5, 200.0, 410.0]}]}

Every processed frame is written, with or without detections (filter downstream, e.g. with
``jq 'select(.detections | length > 0)'``). Nothing raises into the dispatcher. A closed stdout
pipe is logged once and the sink turns itself off. A file that fails (a full disk, a rotation
that cannot rename) is closed with one error line; events are skipped until it is opened again
30 s later (doubling up to 10 min while it keeps failing; the clock is the frames' capture
time), after cutting off a line the failure left half-written, so every line stays whole JSON.
Opening the file at start does the same, for a half line left by a stop before that retry.

A file moved away (logrotate without ``copytruncate``) or deleted is noticed within a second of
capture time and a new file is started at the path.

With ``max_mb`` a file is rotated before a line would take it past that size: ``events.jsonl``
becomes ``events.jsonl.1`` (replacing the previous one) and a new file starts, so the two take
at most twice that. Every line stays whole in one of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

from camera_app.errors import ConfigError
from camera_app.outputs._paths import check_output_path
from camera_app.outputs._retry import Retry
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

STDOUT = "-"
MOVED_CHECK_S = 1.0  # capture time between checks that the path is still our file


def iso_utc_ms(wall_s: float) -> str:
    """``time.time()`` seconds -> ``2024-05-01T12:00:00.123Z``."""
    stamp = datetime.fromtimestamp(wall_s, tz=timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def event(result: Result) -> dict[str, Any]:
    """The JSON object written for one result."""
    t = result.times
    return {
        "camera": result.camera,
        "capture_time": iso_utc_ms(result.frame.capture_wall_s),
        "sequence": result.frame.sequence,
        "latency_s": round(result.latency_s, 4),
        "stages": {
            "frame_age_s": round(t.frame_age_s, 4),
            "preprocess_s": round(t.preprocess_s, 4),
            "invoke_s": round(t.invoke_s, 4),
            "postprocess_s": round(t.postprocess_s, 4),
        },
        "detections": result.detections.to_json(),
    }


class EventsSink:
    """Writes events to ``target``: ``"-"`` for stdout, else a file opened for appending."""

    output_name = "events"

    def __init__(self, target: str, max_mb: float | None = None) -> None:
        if max_mb is not None and not max_mb > 0:
            raise ConfigError(f"outputs.events_max_mb: expected a positive size, got {max_mb!r}")
        self.target = target
        self.max_mb = max_mb
        self.max_bytes = None if max_mb is None or target == STDOUT else int(max_mb * 1e6)
        self.events_written = 0
        self.events_skipped = 0  # while waiting to reopen a file after a failure
        self.retry = Retry()
        self.rotations = 0
        self.enabled = True
        self._file: TextIO | None = None
        self._size = 0
        self._moved_check_at_s = 0.0
        if target == STDOUT:
            return
        self._path = check_output_path(target, "outputs.events")
        try:
            self._file = self._open_whole()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"outputs.events: cannot open {target} ({reason})") from exc

    def _open(self) -> TextIO:
        # Line-buffered: every event reaches the file as one whole line, at once.
        f = open(self._path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._size = f.tell()
        return f

    def _open_whole(self) -> TextIO:
        """Open, first dropping a half line left at the end: by a failure before this retry, or
        by a failure before the last stop (the process never got to retry), so that the next
        line never runs on from a fragment."""
        if not self._path.is_file():  # gone meanwhile, or a device such as /dev/full
            return self._open()
        with open(self._path, "rb+") as f:
            end = f.seek(0, os.SEEK_END)
            start = max(0, end - 65536)  # a line is a few hundred bytes
            f.seek(start)
            tail = f.read(65536)
            if tail and not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                if cut >= 0 or start == 0:
                    f.truncate(start + cut + 1)
                else:  # no line end in sight: end the fragment instead
                    f.write(b"\n")
                log.warning("events file %s ended in a half-written line; it was cut off",
                            self.target)  # fmt: skip
        return self._open()

    def _close_after_failure(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            with contextlib.suppress(OSError, ValueError):
                f.close()  # flushes what is buffered: may fail again

    def _rotate(self) -> None:
        """``target`` -> ``target.1`` (replacing it), and a new, empty ``target``."""
        if self._file is not None:
            self._file.close()
            self._file = None
        os.replace(self._path, f"{self._path}.1")
        self._file = self._open()
        self.rotations += 1
        log.info("events file %s reached %g MB: the previous lines are in %s.1",
                 self.target, self.max_mb, self.target)  # fmt: skip

    def _follow_the_path(self, now_s: float) -> None:
        """Once a second: if the path no longer names the open file (logrotate moved it, or
        someone deleted it), close it and go on in a new file at the path."""
        f = self._file
        if f is None or now_s < self._moved_check_at_s:
            return
        self._moved_check_at_s = now_s + MOVED_CHECK_S
        try:
            at_path = os.stat(self._path)
        except FileNotFoundError:
            pass
        else:
            ours = os.fstat(f.fileno())
            if (at_path.st_dev, at_path.st_ino) == (ours.st_dev, ours.st_ino):
                return
        self._file = None
        f.close()
        self._file = self._open()
        log.info("events file %s was moved or deleted; writing to a new one", self.target)

    def _stream(self) -> TextIO:
        # stdout is looked up at each write, so a redirected sys.stdout is honoured.
        if self.target == STDOUT:
            return sys.stdout
        if self._file is None:  # closed by a failure: this is the retry
            self._file = self._open_whole()
        return self._file

    def handle(self, result: Result) -> None:
        self.write(event(result), result.frame.capture_monotonic_s)

    def write(self, obj: dict[str, Any], now_s: float) -> None:
        """One JSON line (also used by the object events); ``now_s``: its capture time."""
        if not self.enabled:
            return
        if self.retry.waiting(now_s):
            self.events_skipped += 1
            return
        line = json.dumps(obj, separators=(",", ":")) + "\n"  # ASCII: 1 char, 1 byte
        try:
            self._follow_the_path(now_s)
            stream = self._stream()
            if (
                self.max_bytes is not None
                and self._size > 0
                and (self._size + len(line) > self.max_bytes)
            ):
                self._rotate()
                stream = self._stream()
            stream.write(line)
            self._size += len(line)
            if self.target == STDOUT:
                sys.stdout.flush()
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            self._failed(exc, now_s)
            return
        self.events_written += 1
        if self.retry.recovered():
            log.info("events: writing to %s again", self.target)

    def _failed(self, exc: Exception, now_s: float) -> None:
        if self.target == STDOUT:  # a closed pipe does not come back
            self.enabled = False
            self.retry.give_up()
            log.error("events output stdout failed (%s); no more events will be written", exc)
            return
        self._close_after_failure()
        first = not self.retry.failing
        wait_s = self.retry.failed(now_s)
        if first:
            log.error("events output %s failed (%s); events are skipped, next try in %g s",
                      self.target, exc, wait_s)  # fmt: skip
        else:
            log.warning("events output %s failed again (%s); next try in %g s",
                        self.target, exc, wait_s)  # fmt: skip

    def health(self) -> tuple[bool, int]:
        return self.retry.health()

    def close(self) -> None:
        self.enabled = False
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as exc:
            log.warning("closing events file %s failed: %s", self.target, exc)
        self._file = None
