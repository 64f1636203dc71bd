"""A video file with damaged frames: they are skipped with one warning, and only the real end of
the file ends it (or loops it). Real MJPEG AVIs with broken JPEG headers, plus a fake capture
for containers that give no frame count."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.errors import SourceError
from camera_app.sources import ErrorKind, SourceSpec
from camera_app.sources.files import MAX_FAILED_READS, VideoFileSource

FRAMES = 60
STEP = 4  # frame i is a flat gray of i * STEP, so each decoded frame tells its index
LOGGER = "camera_app.sources.files"


def write_numbered_clip(path: Path, damaged: Collection[int] = ()) -> Path:
    """An MJPEG AVI of FRAMES flat frames; the JPEG header of each ``damaged`` frame is garbled
    (bytes flipped right after its SOI marker), so OpenCV's read() fails for exactly that one."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 20.0, (64, 48))
    assert writer.isOpened()
    for i in range(FRAMES):
        writer.write(np.full((48, 64, 3), i * STEP, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xd8"]
    assert len(starts) == FRAMES, f"expected one JPEG per frame, got {len(starts)}"
    for index in damaged:
        for j in range(starts[index] + 2, starts[index] + 40):
            data[j] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def index_of(image: np.ndarray[Any, Any]) -> int:
    return round(float(image.mean()) / STEP)


def read_to_error(source: VideoFileSource, limit: int) -> tuple[list[int], SourceError]:
    """The indices of the frames read before the first SourceError, and that error."""
    seen: list[int] = []
    for _ in range(limit):
        try:
            seen.append(index_of(source.read(1.0)))
        except SourceError as exc:
            return seen, exc
    raise AssertionError(f"no error after {limit} reads; read {seen}")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def read_once(clip: Path, caplog: pytest.LogCaptureFixture) -> tuple[list[int], SourceError]:
    """The frame numbers a non-looping source of ``clip`` gives, and the error it ends with."""
    source = VideoFileSource(str(clip), SourceSpec(str(clip), realtime=False))
    source.open(5.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        seen, error = read_to_error(source, 3 * FRAMES)
    source.close()
    return seen, error


@pytest.mark.parametrize(
    "damaged",
    [{20}, {20, 21, 22}, {0}, {0, 1}, {FRAMES - 1}],
    ids=["one", "a-run-of-three", "the-first", "the-first-two", "the-last"],
)
def test_damaged_frames_are_skipped_and_the_file_still_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damaged: set[int]
) -> None:
    clip = write_numbered_clip(tmp_path / "damaged.avi", damaged)
    seen, error = read_once(clip, caplog)
    assert seen == [i for i in range(FRAMES) if i not in damaged]
    assert error.kind == ErrorKind.EOF.value
    messages = warnings_of(caplog)
    if FRAMES - 1 in damaged:  # a damaged last frame is indistinguishable from the end
        assert messages == []
    else:
        assert len(messages) == 1, messages
        assert f"file {clip}" in messages[0]
        assert f"skipped {len(damaged)} damaged frame(s)" in messages[0]


def test_an_undamaged_file_ends_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = write_numbered_clip(tmp_path / "clean.avi")
    seen, error = read_once(clip, caplog)
    assert seen == list(range(FRAMES))
    assert error.kind == ErrorKind.EOF.value
    assert warnings_of(caplog) == []


def test_damage_in_several_places_logs_two_warnings_per_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = {10, 25, 26, 40, 50}
    clip = write_numbered_clip(tmp_path / "damaged.avi", damaged)
    seen, error = read_once(clip, caplog)
    assert seen == [i for i in range(FRAMES) if i not in damaged]
    assert error.kind == ErrorKind.EOF.value
    messages = warnings_of(caplog)
    assert len(messages) == 2, messages
    assert "skipped 1 damaged frame(s) after 10 good one(s)" in messages[0]
    assert "skipped 4 more damaged frame(s) before the end" in messages[1]


def test_a_looping_damaged_file_rewinds_only_at_its_real_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = {20, 21}
    clip = write_numbered_clip(tmp_path / "damaged.avi", damaged)
    source = VideoFileSource(str(clip), SourceSpec(str(clip), realtime=False, loop=True))
    source.open(5.0)
    good = [i for i in range(FRAMES) if i not in damaged]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        seen = [index_of(source.read(1.0)) for _ in range(2 * len(good) + 5)]
    source.close()
    assert seen == good + good + good[:5]
    assert len(warnings_of(caplog)) == 2  # one per pass through the damage


def test_a_file_of_only_damaged_frames_is_a_decode_error(tmp_path: Path) -> None:
    clip = write_numbered_clip(tmp_path / "ruined.avi", set(range(FRAMES)))
    source = VideoFileSource(str(clip), SourceSpec(str(clip), realtime=False))
    source.open(5.0)  # FFmpeg opens it: the AVI itself is sound
    try:
        with pytest.raises(SourceError, match="no frame could be decoded") as info:
            source.read(1.0)
    finally:
        source.close()
    assert info.value.kind == ErrorKind.DECODE.value


# -- containers without a usable frame count ---------------------------------------------------


class FakeCapture:
    """A ``cv2.VideoCapture`` playing a script of frame indices, ``None`` for a failed read;
    after the script every read fails, as at the end of a file."""

    def __init__(self, script: list[int | None], frame_count: float) -> None:
        self.script = script
        self.frame_count = frame_count
        self.position = 0
        self.reads = 0

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return self.frame_count
        return 20.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES:
            self.position = int(value)
        return True

    def read(self) -> tuple[bool, np.ndarray[Any, Any] | None]:
        self.reads += 1
        if self.position >= len(self.script):
            return False, None
        index = self.script[self.position]
        self.position += 1
        if index is None:
            return False, None
        return True, np.full((48, 64, 3), index * STEP, np.uint8)

    def release(self) -> None:
        pass


@pytest.mark.parametrize("frame_count", [0.0, -1.0, float("nan"), 1e9])
def test_without_a_frame_count_failed_reads_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frame_count: float
) -> None:
    clip = tmp_path / "stream.mkv"
    clip.write_bytes(b"not read: the capture is faked")
    script: list[int | None] = [0, 1, None, None, None, 5, 6]
    fake = FakeCapture(script, frame_count)
    monkeypatch.setattr(cv2, "VideoCapture", lambda *args: fake)
    source = VideoFileSource(str(clip), SourceSpec(str(clip), realtime=False))
    source.open(5.0)
    seen, error = read_to_error(source, 100)
    assert seen == [0, 1, 5, 6]
    assert error.kind == ErrorKind.EOF.value
    assert fake.reads == len(script) + MAX_FAILED_READS


def test_a_run_of_damage_longer_than_the_bound_is_taken_for_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = tmp_path / "stream.mkv"
    clip.write_bytes(b"not read: the capture is faked")
    script: list[int | None] = [0, *[None] * MAX_FAILED_READS, 1]
    fake = FakeCapture(script, 0.0)
    monkeypatch.setattr(cv2, "VideoCapture", lambda *args: fake)
    source = VideoFileSource(str(clip), SourceSpec(str(clip), realtime=False))
    source.open(5.0)
    seen, error = read_to_error(source, 100)
    assert seen == [0]
    assert error.kind == ErrorKind.EOF.value
    assert fake.reads == 1 + MAX_FAILED_READS
