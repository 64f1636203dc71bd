"""Logging: one line per event, key=value (default) or JSON, credentials redacted.

Every record passes a filter that redacts URLs in the message and its arguments before any
handler sees it, so a password cannot reach a log line even from a third-party logger.
systemd's journal adds its own timestamps; ``timestamps=False`` leaves them out.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from camera_app.redact import redact_text

_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


def _quote(value: object) -> str:
    s = str(value)
    if s == "" or any(c in s for c in ' "=\n\t'):
        return json.dumps(s)
    return s


class KeyValueFormatter(logging.Formatter):
    def __init__(self, timestamps: bool = True) -> None:
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.timestamps:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            parts.append(f"ts={ts}.{int(record.msecs):03d}")
        parts += [f"level={record.levelname.lower()}", f"logger={record.name}"]
        parts.append(f"msg={_quote(record.getMessage())}")
        for k, v in record.__dict__.items():
            if k not in _STD_ATTRS and not k.startswith("_"):
                parts.append(f"{k}={_quote(redact_text(str(v)))}")
        if record.exc_text:
            parts.append(f"exc={_quote(record.exc_text)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STD_ATTRS and not k.startswith("_"):
                out[k] = redact_text(str(v))
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out)


def setup_logging(
    level: str = "info", fmt: str = "kv", stream: TextIO | None = None, timestamps: bool = True
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter(timestamps))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
