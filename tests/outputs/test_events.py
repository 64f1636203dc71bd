from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from camera_app.errors import ConfigError
from camera_app.outputs._retry import FIRST_S as RETRY_S
from camera_app.outputs.events import EventsSink, event, iso_utc_ms
from tests.outputs.builders import make_detections, make_result

PERSON = make_detections([[10.04, 20.0, 30.26, 40.0]], ["person"], score=0.87654)


def read_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("wall_s", "expected"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_714_564_800.125, "2024-05-01T12:00:00.125Z"),
        (1_714_564_800.9996, "2024-05-01T12:00:00.999Z"),  # truncated, never rounded up
    ],
)
def test_capture_time_is_iso_utc_with_milliseconds(wall_s: float, expected: str) -> None:
    assert iso_utc_ms(wall_s) == expected


def test_one_json_line_per_result_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventsSink(str(path))
    sink.handle(make_result("door", 7, detections=PERSON, latency_s=0.081234))
    sink.handle(make_result("door", 8))  # no detections: still written
    sink.close()

    first, second = read_events(path)
    assert first == {
        "camera": "door",
        "capture_time": "2024-05-01T12:00:00.125Z",
        "sequence": 7,
        "latency_s": 0.0812,
        "stages": {
            "frame_age_s": 0.0123,
            "preprocess_s": 0.002,
            "invoke_s": 0.05,
            "postprocess_s": 0.001,
        },
        "detections": [
            {
                "label": "person",
                "class_id": 0,
                "score": 0.8765,
                "box_xyxy": [10.0, 20.0, 30.3, 40.0],
            }
        ],
    }
    assert second["sequence"] == 8
    assert second["detections"] == []
    assert sink.events_written == 2


def test_file_is_appended_to_and_each_line_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    sink = EventsSink(str(path))
    sink.handle(make_result(sequence=1))
    # Line-buffered: readable before close.
    assert [e.get("sequence") for e in read_events(path)] == [None, 1]
    sink.close()
    sink.close()  # idempotent
    sink.handle(make_result(sequence=2))  # after close: ignored
    assert len(read_events(path)) == 2


def test_stdout_mode_writes_lines_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    sink = EventsSink("-")
    sink.handle(make_result("cam0", 1, detections=PERSON))
    sink.handle(make_result("cam0", 2))
    sink.close()
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [1, 2]
    assert json.loads(lines[0])["detections"][0]["label"] == "person"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing/events.jsonl", "does not exist"),
        ("", "is a folder"),
        ("pipe", "is a named pipe, not a regular file"),  # open() would block the outputs
    ],
)
def test_bad_path_is_a_config_error_naming_it(tmp_path: Path, name: str, message: str) -> None:
    target = str(tmp_path / name) if name else str(tmp_path)
    if name == "pipe":
        os.mkfifo(target)
    with pytest.raises(ConfigError, match=message) as info:
        EventsSink(target)
    assert target in str(info.value)
    assert "outputs.events" in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_disk_full_logs_once_skips_and_retries_later(caplog: pytest.LogCaptureFixture) -> None:
    sink = EventsSink("/dev/full")  # every write fails with ENOSPC, like a full disk
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.events"):
        for i in range(3):
            sink.handle(make_result(sequence=i, capture_monotonic_s=100.0 + i))  # no raise
        assert (sink.events_written, sink.events_skipped, sink.retry.failures) == (0, 2, 1)
        sink.handle(make_result(sequence=3, capture_monotonic_s=100.0 + RETRY_S))  # retried
        assert sink.enabled
    sink.close()
    assert (sink.events_written, sink.retry.failures) == (0, 2)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.ERROR, "events output /dev/full failed ([Errno 28] No space left on device); "
                        "events are skipped, next try in 30 s"),
        (logging.WARNING, "events output /dev/full failed again ([Errno 28] No space left on "
                          "device); next try in 60 s"),
    ]  # fmt: skip


class BrokenStdout(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_stdout_pipe_disables_the_sink(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("sys.stdout", BrokenStdout())
    sink = EventsSink("-")
    with caplog.at_level(logging.ERROR, logger="camera_app.outputs.events"):
        sink.handle(make_result(sequence=1))
        sink.handle(make_result(sequence=2))
    assert not sink.enabled
    assert len([r for r in caplog.records if "stdout" in r.getMessage()]) == 1


def test_max_mb_rotates_to_dot_1_before_a_line_would_pass_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"old": 1}\n')  # a previous run's line: kept, and counted
    line_len = len(json.dumps(event(make_result(sequence=1)), separators=(",", ":")) + "\n")
    max_mb = (11 + 3 * line_len) / 1e6  # the old line and exactly three new ones fit
    sink = EventsSink(str(path), max_mb=max_mb)
    for i in range(1, 11):
        sink.handle(make_result(sequence=i))
    sink.close()
    rotated = (tmp_path / "events.jsonl.1").read_text().splitlines()
    current = path.read_text().splitlines()
    # 1 old + 3, then 3 + 3 (the second rotation replaced the first .1), then 1.
    assert sink.rotations == 3
    assert [json.loads(x)["sequence"] for x in rotated] == [7, 8, 9]
    assert [json.loads(x)["sequence"] for x in current] == [10]
    for f in (path, tmp_path / "events.jsonl.1"):
        assert f.stat().st_size <= max_mb * 1e6
    assert sink.events_written == 10


def test_a_line_longer_than_max_mb_is_still_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventsSink(str(path), max_mb=0.000001)  # 1 byte
    for i in range(1, 4):
        sink.handle(make_result(sequence=i))
    sink.close()
    assert [json.loads(x)["sequence"] for x in path.read_text().splitlines()] == [3]
    assert sink.rotations == 2  # never an empty file rotated
    assert [
        json.loads(x)["sequence"] for x in (tmp_path / "events.jsonl.1").read_text().splitlines()
    ] == [2]


def test_a_failed_rotation_is_retried_without_touching_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ev"
    folder.mkdir()
    path = folder / "events.jsonl"
    sink = EventsSink(str(path), max_mb=0.000001)
    sink.handle(make_result(sequence=1))
    (folder / "events.jsonl.1").mkdir()  # the rename target is a folder: os.replace fails
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.events"):
        sink.handle(make_result(sequence=2, capture_monotonic_s=100.0))
        sink.handle(make_result(sequence=3, capture_monotonic_s=101.0))  # waits: skipped
        (folder / "events.jsonl.1").rmdir()
        sink.handle(make_result(sequence=4, capture_monotonic_s=100.0 + RETRY_S))
    sink.close()
    assert capsys.readouterr().out == ""
    assert [json.loads(x)["sequence"] for x in path.read_text().splitlines()] == [4]
    assert [
        json.loads(x)["sequence"] for x in (folder / "events.jsonl.1").read_text().splitlines()
    ] == [1]
    assert (sink.events_written, sink.events_skipped, sink.rotations) == (2, 1, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert "events are skipped, next try in 30 s" in messages[0]
    assert messages[-1] == f"events: writing to {path} again"


@pytest.mark.parametrize(
    ("left", "kept"),
    [
        (b'{"a":1}\n{"half', b'{"a":1}\n'),  # a half line after whole ones: cut off
        (b'{"half', b""),  # the file is one half line: emptied
        (b"x" * 70_000, b"x" * 70_000 + b"\n"),  # no line end in the last 64 KB: ended
        (b'{"a":1}\n', b'{"a":1}\n'),  # whole: untouched
    ],
)
def test_reopening_after_a_failure_leaves_only_whole_lines(
    tmp_path: Path, left: bytes, kept: bytes
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    sink = EventsSink(str(path))
    assert sink._file is not None
    sink._file.close()  # the next write fails (ValueError), as a failed write would
    sink.handle(make_result(sequence=1, capture_monotonic_s=100.0))
    assert sink.retry.failures == 1
    path.write_bytes(left)  # what the failure left behind
    sink.handle(make_result(sequence=2, capture_monotonic_s=100.0 + RETRY_S))
    sink.close()
    data = path.read_bytes()
    assert data.startswith(kept)
    assert json.loads(data[len(kept) :])["sequence"] == 2


@pytest.mark.parametrize(
    ("left", "kept"),
    [
        (b'{"camera":"good"}\n{"camera":"go', b'{"camera":"good"}\n'),  # cut off
        (b'{"camera":"go', b""),
        (b"x" * 70_000, b"x" * 70_000 + b"\n"),
        (b'{"camera":"good"}\n', b'{"camera":"good"}\n'),
    ],
)
def test_a_half_line_left_by_the_last_run_is_dealt_with_before_appending(
    tmp_path: Path, left: bytes, kept: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """The service stopped while a failure's retry was still pending: the next start must not
    run its first line on from the fragment (``{"camera":"go{"camera":...``)."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(left)
    sink = EventsSink(str(path))
    sink.handle(make_result(sequence=7))
    sink.close()
    data = path.read_bytes()
    assert data.startswith(kept)
    assert json.loads(data[len(kept) :])["sequence"] == 7
    warned = [r.getMessage() for r in caplog.records if "half-written" in r.getMessage()]
    assert len(warned) == (0 if left.endswith(b"\n") else 1)


def test_a_real_full_disk_skips_events_and_resumes_with_whole_lines(
    small_disk: Callable[[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A 1 MB tmpfs filled up under the sink, then space freed."""
    disk = small_disk(1 << 20)
    path = disk / "events.jsonl"
    sink = EventsSink(str(path))
    try:
        filler = disk / "filler"
        filler.write_bytes(b"\0" * 900_000)
        t, i = 100.0, 0
        with caplog.at_level(logging.INFO, logger="camera_app.outputs.events"):
            while sink.retry.failures == 0 and i < 10_000:
                i += 1
                sink.handle(make_result(sequence=i, capture_monotonic_s=t))
            assert sink.retry.failures == 1
            written = sink.events_written
            assert written > 100  # the ~150 KB left took lines first
            filler.unlink()
            for j in range(3):
                sink.handle(make_result(sequence=i + 1 + j, capture_monotonic_s=t + RETRY_S))
        sink.close()
        lines = path.read_bytes().split(b"\n")
        assert lines[-1] == b""  # ends with a line end
        sequences = [json.loads(x)["sequence"] for x in lines[:-1]]  # every line whole JSON
        assert sequences == [*range(1, written + 1), i + 1, i + 2, i + 3]
        assert caplog.records[-1].getMessage() == f"events: writing to {path} again"
    finally:
        sink.close()


def test_bad_max_mb_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"outputs\.events_max_mb: expected a positive size"):
        EventsSink(str(tmp_path / "e.jsonl"), max_mb=0.0)


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_a_file_moved_or_deleted_under_the_sink_is_started_anew(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """As logrotate (without copytruncate) does: the lines after it go to a new file."""
    path = tmp_path / "events.jsonl"
    sink = EventsSink(str(path))
    sink.handle(make_result(sequence=1, capture_monotonic_s=100.0))
    if how == "moved":
        path.rename(tmp_path / "events.jsonl.2026-11-27")
    else:
        path.unlink()
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.events"):
        sink.handle(make_result(sequence=2, capture_monotonic_s=100.5))  # not checked yet
        sink.handle(make_result(sequence=3, capture_monotonic_s=101.0))
        sink.handle(make_result(sequence=4, capture_monotonic_s=101.1))
    sink.close()
    assert [json.loads(x)["sequence"] for x in path.read_text().splitlines()] == [3, 4]
    if how == "moved":
        moved = (tmp_path / "events.jsonl.2026-11-27").read_text().splitlines()
        assert [json.loads(x)["sequence"] for x in moved] == [1, 2]
    assert caplog.messages == [f"events file {path} was moved or deleted; writing to a new one"]
    assert sink.events_written == 4
