"""JSON-lines events: one line per processed frame, to stdout or appended to a file.

    {"camera": "door", "capture_time": "2024-05-01T12:00:00.123Z", "sequence": 42,
     "latency_s": 0.0812, "stages": {"frame_age_s": ..., "preprocess_s": ..., "invoke_s": ...,
     "postprocess_s": ...}, "detections": [{"label": "person", "class_id": 0, "score": 0.87,
     "box_xyxy": [12.0, 30.5, 200.0, 410.0]}]}

Every processed frame is written, with or without detections (filter downstream, e.g. with
``jq 'select(.detections | length > 0)'``). A failed write (disk full, closed pipe) is logged
once and the sink turns itself off; it never raises into the dispatcher.

With ``max_mb`` a file is rotated before a line would take it past that size: ``events.jsonl``
becomes ``events.jsonl.1`` (replacing the previous one) and a new file starts, so the two take
at most twice that. Every line stays whole in one of them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

from camera_app.errors import ConfigError
from camera_app.outputs._paths import check_output_path
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

STDOUT = "-"


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

    def __init__(self, target: str, max_mb: float | None = None) -> None:
        if max_mb is not None and not max_mb > 0:
            raise ConfigError(f"outputs.events_max_mb: expected a positive size, got {max_mb!r}")
        self.target = target
        self.max_mb = max_mb
        self.max_bytes = None if max_mb is None or target == STDOUT else int(max_mb * 1e6)
        self.events_written = 0
        self.rotations = 0
        self.enabled = True
        self._file: TextIO | None = None
        self._size = 0
        if target == STDOUT:
            return
        self._path = check_output_path(target, "outputs.events")
        try:
            self._file = self._open()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"outputs.events: cannot open {target} ({reason})") from exc

    def _open(self) -> TextIO:
        # Line-buffered: every event reaches the file as one whole line, at once.
        f = open(self._path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._size = f.tell()
        return f

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

    def _stream(self) -> TextIO:
        # stdout is looked up at each write, so a redirected sys.stdout is honoured.
        if self.target == STDOUT:
            return sys.stdout
        if self._file is None:  # a rotation that failed half-way
            raise ValueError("the events file is not open")
        return self._file

    def handle(self, result: Result) -> None:
        if not self.enabled:
            return
        line = json.dumps(event(result), separators=(",", ":")) + "\n"  # ASCII: 1 char, 1 byte
        try:
            if (
                self.max_bytes is not None
                and self._size > 0
                and (self._size + len(line) > self.max_bytes)
            ):
                self._rotate()
            self._stream().write(line)
            self._size += len(line)
            if self.target == STDOUT:
                sys.stdout.flush()
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            self.enabled = False
            where = "stdout" if self.target == STDOUT else self.target
            log.error("events output %s failed (%s); no more events will be written", where, exc)
            return
        self.events_written += 1

    def close(self) -> None:
        self.enabled = False
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as exc:
            log.warning("closing events file %s failed: %s", self.target, exc)
        self._file = None
