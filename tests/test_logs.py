"""Log lines: one per event, key=value or JSON, and no credential ever, whatever the logger."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from camera_app.logs import setup_logging

SECRET_URL = "rtsp://admin:hunter2@10.0.0.5:554/stream?password=alsosecret"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield buf
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def test_key_value_lines(stream: io.StringIO) -> None:
    setup_logging("info", "kv", stream=stream, timestamps=False)
    logging.getLogger("camera_app.test").info("camera %s: streaming", "front", extra={"fps": 14.9})
    line = stream.getvalue().strip()
    assert line == ('level=info logger=camera_app.test msg="camera front: streaming" fps=14.9')


def test_json_lines(stream: io.StringIO) -> None:
    setup_logging("debug", "json", stream=stream)
    logging.getLogger("x").warning("two\nlines")
    record = json.loads(stream.getvalue())
    assert record["level"] == "warning"
    assert record["msg"] == "two\nlines"
    assert stream.getvalue().count("\n") == 1  # one event, one line


@pytest.mark.parametrize("fmt", ["kv", "json"])
def test_credentials_are_redacted_in_messages_args_extras_and_tracebacks(
    stream: io.StringIO, fmt: str
) -> None:
    setup_logging("debug", fmt, stream=stream)
    log = logging.getLogger("third.party")  # not ours: the filter sits on the handler
    log.info("opening %s", SECRET_URL)
    log.info(f"opening {SECRET_URL}")
    log.info("state", extra={"source": SECRET_URL})
    try:
        raise OSError(f"cannot open {SECRET_URL}")
    except OSError:
        log.exception("failed")
    out = stream.getvalue()
    assert "hunter2" not in out
    assert "alsosecret" not in out
    assert out.count("10.0.0.5") >= 4  # the lines are there, redacted, not dropped


def test_level_filters(stream: io.StringIO) -> None:
    setup_logging("warning", "kv", stream=stream)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").error("shown")
    assert "hidden" not in stream.getvalue()
    assert "shown" in stream.getvalue()
