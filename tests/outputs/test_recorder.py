from __future__ import annotations

import contextlib
import io
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from camera_app.errors import ConfigError
from camera_app.outputs._retry import FIRST_S as RETRY_S
from camera_app.outputs.recorder import CHECK_EVERY_S, RecordSink
from camera_app.pipeline.types import Result
from tests.outputs.builders import RED_BGR, make_detections, make_result

SIZE_WH = (160, 120)
GREY = (128, 128, 128)


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        for _ in range(1000):
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    return frames, fps


@pytest.mark.parametrize("name", ["clip.mkv", "clip.avi", "clip.mp4", "CLIP.AVI"])
def test_records_every_frame_at_the_first_frames_size(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sink = RecordSink(str(path), fps_hint=10.0)
    for i in range(4):  # 10 per second, as the file's rate
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_monotonic_s=100.0 + i / 10))
    # a reconnect at another size
    sink.handle(make_result(sequence=4, size_wh=(320, 240), capture_monotonic_s=100.4))
    sink.close()

    assert sink.path is not None
    assert sink.path.parent == tmp_path
    assert sink.path.name == f"{path.stem}-20240501T120000Z{path.suffix}"  # WALL_S, in UTC
    assert not path.exists()  # the name is the pattern, not a file
    frames, fps = read_video(sink.path)
    assert len(frames) == 5
    assert {f.shape for f in frames} == {(SIZE_WH[1], SIZE_WH[0], 3)}
    assert fps == pytest.approx(10.0)
    centre = frames[-1][60, 80].astype(int)
    assert np.abs(centre - RED_BGR).max() < 40  # lossy, but still red
    assert sink.frames_written == 5


def test_an_mp4_name_is_warned_about_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    RecordSink(str(tmp_path / "a.mkv")).close()
    RecordSink(str(tmp_path / "b.avi")).close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    RecordSink(str(tmp_path / "c.mp4"), segment_s=60.0).close()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "does not play at all, up to 60 s of video lost; record to a .mkv name" in warning


def test_boxes_are_drawn_on_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "boxes.avi"
    boxes = make_detections([[20, 30, 140, 110]])
    result = make_result(size_wh=SIZE_WH, colour_bgr=GREY, detections=boxes)
    sink = RecordSink(str(path), fps_hint=5.0)
    sink.handle(result)
    sink.close()

    assert sink.path is not None
    (frame,), _ = read_video(sink.path)
    reddish = frame[..., 2].astype(int) - frame[..., 0] > 50  # class 0 is drawn in red
    assert reddish[40:110, 18:23].any(axis=1).all()  # the box's left edge, blurred by JPEG
    assert not reddish[5:15, 145:155].any()  # outside the box: untouched
    assert (result.frame.image_bgr == GREY).all()  # the shared frame was not drawn on


@pytest.mark.parametrize(
    ("name", "fps", "message"),
    [
        ("clip.mov", 10.0, "expected a file name ending in .mkv, .avi, .mp4"),
        ("clip", 10.0, "cannot tell the video format"),
        ("clip.avi", 0.0, "positive frame rate"),
        ("missing/clip.avi", 10.0, "does not exist"),
    ],
)
def test_bad_settings_are_config_errors(
    tmp_path: Path, name: str, fps: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        RecordSink(str(tmp_path / name), fps_hint=fps)


def test_a_writer_that_cannot_open_disables_the_sink(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    sink = RecordSink(str(folder / "clip.avi"), fps_hint=10.0)
    folder.rmdir()  # removed after the config was checked
    with caplog.at_level(logging.ERROR, logger="camera_app.outputs.recorder"):
        for i in range(3):
            sink.handle(make_result(sequence=i, size_wh=SIZE_WH))  # must not raise
    sink.close()
    assert not sink.enabled
    assert sink.frames_written == 0
    assert len([r for r in caplog.records if "recording is off" in r.getMessage()]) == 1


def test_a_new_file_every_segment_of_capture_time(tmp_path: Path) -> None:
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, segment_s=60.0)
    t0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    for i, dt in enumerate([0.0, 30.0, 59.9, 60.0, 61.0, 125.0]):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_wall_s=t0 + dt,
                                capture_monotonic_s=500.0 + dt))  # fmt: skip
    sink.close()
    counts = {f.name: len(read_video(f)[0]) for f in sorted(tmp_path.iterdir())}
    assert counts == {
        "door-20231114T221320Z.avi": 3,  # gaps of over a second are skipped, not filled
        "door-20231114T221420Z.avi": 11,  # 60.0 held for 0.9 s at 10 fps, then 61.0
        "door-20231114T221525Z.avi": 1,
    }


def test_a_restart_never_overwrites_a_recording(tmp_path: Path) -> None:
    paths = []
    for _ in range(3):  # three runs whose first frames fall in the same second
        sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0)
        sink.handle(make_result(size_wh=SIZE_WH))
        sink.close()
        assert sink.path is not None
        paths.append(sink.path.name)
    assert paths == [
        "door-20240501T120000Z.avi",
        "door-20240501T120000Z-1.avi",
        "door-20240501T120000Z-2.avi",
    ]
    assert all(len(read_video(tmp_path / name)[0]) == 1 for name in paths)


def test_max_mb_deletes_only_the_oldest_of_this_recording(tmp_path: Path) -> None:
    old = ["door-20240101T000000Z.avi", "door-20240102T000000Z.avi", "door-20240103T000000Z-1.avi"]
    for name in old:
        (tmp_path / name).write_bytes(b"x" * 400_000)
    others = [
        "door.avi",
        "door-notes.avi",
        "yard-20230101T000000Z.avi",
        "door-20230101T000000Z.mp4",
    ]
    for name in others:
        (tmp_path / name).write_bytes(b"y" * 400_000)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, max_mb=1.0)
    sink.handle(make_result(size_wh=SIZE_WH))  # opens door-20240501T120000Z.avi and prunes
    sink.close()
    left = sorted(f.name for f in tmp_path.iterdir())
    # 3 x 400 kB + the new file > 1 MB: the oldest goes, then the total fits.
    assert left == sorted([*old[1:], "door-20240501T120000Z.avi", *others])
    assert sink.files_deleted == 1


def test_max_mb_deletes_a_seconds_first_file_before_its_restarts(tmp_path: Path) -> None:
    # Two restarts within one second: "...Z.avi", then "...Z-1.avi", then "...Z-2.avi". As
    # text "-" sorts before ".", which put the restarts' files first.
    same_second = ["door-20240101T000000Z.avi", "door-20240101T000000Z-1.avi",
                   "door-20240101T000000Z-2.avi"]  # fmt: skip
    for name in same_second:
        (tmp_path / name).write_bytes(b"x" * 400_000)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, max_mb=1.0)
    sink.handle(make_result(size_wh=SIZE_WH))
    sink.close()
    left = sorted(f.name for f in tmp_path.iterdir())
    assert left == sorted([*same_second[1:], "door-20240501T120000Z.avi"])
    assert sink.files_deleted == 1


def test_max_mb_never_deletes_the_file_being_written(tmp_path: Path) -> None:
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, max_mb=0.000001)
    for i in range(3):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_monotonic_s=100.0 + i / 10))
    sink.close()
    assert sink.path is not None
    assert [f.name for f in tmp_path.iterdir()] == [sink.path.name]
    assert len(read_video(sink.path)[0]) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"segment_s": 0.0}, "outputs.record_segment_s: expected a positive number"),
        ({"max_mb": -1.0}, "outputs.record_max_mb: expected a positive size"),
    ],
)
def test_bad_segment_and_size_are_config_errors(
    tmp_path: Path, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        RecordSink(str(tmp_path / "door.avi"), **kwargs)  # type: ignore[arg-type]


def test_a_wall_clock_set_back_does_not_stretch_a_file(tmp_path: Path) -> None:
    """Files are cut by the monotonic clock; the wall clock only names them."""
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, segment_s=60.0)
    t0 = 1_700_000_000.0
    for i, (wall, mono) in enumerate([(t0, 0.0), (t0 - 3600.0, 30.0), (t0 - 3570.0, 60.0)]):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_wall_s=wall,
                                capture_monotonic_s=mono))  # fmt: skip
    sink.close()
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "door-20231114T211350Z.avi",  # the second file, named by the clock set back an hour
        "door-20231114T221320Z.avi",
    ]


class RefusingWriter:
    """A VideoWriter that writes real bytes until ``refuse`` is set, then behaves like
    OpenCV on a full disk: ``write`` returns False (OpenCV 5) or None and writes nothing
    (``opencv4``)."""

    refuse = False
    refuse_open = False  # the mp4 writer on a full disk does not open
    buffering = False  # takes frames, writes nothing yet
    room = False  # refusing with room on the disk: the writer itself is what fails
    opened: ClassVar[list[str]] = []

    def __init__(self, path: str, fourcc: int, fps: float, size_wh: tuple[int, int]) -> None:
        self.path = path
        self.ok = not RefusingWriter.refuse_open
        self.file = open(path, "wb") if self.ok else io.BytesIO()  # noqa: SIM115 - release()
        if self.ok:
            RefusingWriter.opened.append(Path(path).name)

    def isOpened(self) -> bool:
        return self.ok

    def write(self, image: np.ndarray) -> bool | None:
        if RefusingWriter.refuse:
            return None if self.opencv4 else False
        if RefusingWriter.buffering:  # a quiet scene's frames, still in the muxer's buffer
            return None if self.opencv4 else True
        self.file.write(b"x" * 100)
        self.file.flush()
        return None if self.opencv4 else True

    def release(self) -> None:
        self.file.close()

    opencv4 = False


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> type[RefusingWriter]:
    """RefusingWriter, with the disk reported full while it refuses."""
    monkeypatch.setattr(RefusingWriter, "refuse", False)
    monkeypatch.setattr(RefusingWriter, "refuse_open", False)
    monkeypatch.setattr(RefusingWriter, "buffering", False)
    monkeypatch.setattr(RefusingWriter, "room", False)
    real = shutil.disk_usage

    def disk_usage(path: str | Path) -> Any:
        usage = real(path)
        full = (RefusingWriter.refuse or RefusingWriter.refuse_open) and not RefusingWriter.room
        return usage._replace(free=0) if full else usage

    monkeypatch.setattr("camera_app.outputs.recorder.shutil.disk_usage", disk_usage)
    monkeypatch.setattr(RefusingWriter, "opened", [])
    return RefusingWriter


def frame_at(i: int, t_s: float) -> Result:
    return make_result(sequence=i, size_wh=SIZE_WH, capture_wall_s=1_700_000_000.0 + t_s,
                       capture_monotonic_s=500.0 + t_s)  # fmt: skip


def test_a_wall_clock_set_back_does_not_make_max_mb_delete_the_newest(
    tmp_path: Path, refusing: type[RefusingWriter]
) -> None:
    # One frame (100 bytes) per 60 s file, room for two files. After two files the clock
    # goes back an hour: the next files are named older than the first two, but are newer.
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, segment_s=60.0,
                      max_mb=250e-6, writer_factory=refusing)  # fmt: skip
    t0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    walls = [t0, t0 + 60, t0 - 3600, t0 - 3540, t0 - 3480]
    for i, wall in enumerate(walls):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_wall_s=wall,
                                capture_monotonic_s=500.0 + 60.0 * i))  # fmt: skip
    sink.close()
    assert refusing.opened == [
        "door-20231114T221320Z.avi", "door-20231114T221420Z.avi",
        "door-20231114T211320Z.avi", "door-20231114T211420Z.avi", "door-20231114T211520Z.avi",
    ]  # fmt: skip
    # The three newest are left, though two files' names are older than theirs.
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(refusing.opened[2:])
    assert sink.files_deleted == 2


@pytest.mark.parametrize("opencv4", [False, True])
def test_a_writer_that_stops_taking_frames_is_retried_with_a_new_file(
    tmp_path: Path,
    refusing: type[RefusingWriter],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    opencv4: bool,
) -> None:
    monkeypatch.setattr(RefusingWriter, "opencv4", opencv4)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, writer_factory=refusing)
    t = 0.0
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.recorder"):
        for i in range(50):  # 5 s at 10 fps: fine
            sink.handle(frame_at(i, t))
            t += 0.1
        assert (sink.frames_written, sink.retry.failures) == (50, 0)
        refusing.refuse = True  # the disk is full
        while sink.retry.failures == 0 and t < 60.0:
            sink.handle(frame_at(0, t))
            t += 0.1
        failed_at = t - 0.1
        # OpenCV 5 says so at the first refused frame; OpenCV 4's silence shows at the next
        # growth check (every CHECK_EVERY_S of capture time).
        # (the check at 10 s still sees the growth of 0-5 s; the one at 20 s sees none).
        assert failed_at == pytest.approx(20.0 if opencv4 else 5.0, abs=0.11)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        msg = errors[0].getMessage()
        assert f"recording to {tmp_path / 'door-20231114T221320Z.avi'} failed" in msg
        assert "MB free in" in msg
        assert f"trying a new file in {RETRY_S:g} s" in msg
        # Until the retry, frames are skipped, without a line each.
        written = sink.frames_written
        while t < failed_at + RETRY_S - 0.05:
            sink.handle(frame_at(0, t))
            t += 0.1
        assert sink.frames_written == written
        assert sink.frames_skipped >= 290
        assert refusing.opened == ["door-20231114T221320Z.avi"]
        # The retry opens a new file; still full: a warning, and twice the wait.
        sink.handle(frame_at(0, t))
        while sink.retry.failures == 1:
            t += 0.1
            sink.handle(frame_at(0, t))
        assert len(refusing.opened) == 2
        assert "next try in 60 s" in caplog.records[-1].getMessage()
        assert caplog.records[-1].levelno == logging.WARNING
        # Space again: the next try takes frames, and says so (OpenCV 4: once the file grew).
        refusing.refuse = False
        t, written = t + 60.0, sink.frames_written
        for i in range(120):
            sink.handle(frame_at(i, t + 0.1 * i))
            if caplog.records[-1].getMessage().startswith("recording again:"):
                break
    sink.close()
    assert len(refusing.opened) == 3
    assert sink.frames_written == written + i + 1
    assert i == (100 if opencv4 else 0)  # the growth check 10 s after the file opened
    assert caplog.records[-1].getMessage() == (
        f"recording again: {tmp_path / refusing.opened[-1]} takes frames"
    )
    assert sink.retry.failures == 2


def test_a_file_that_does_not_grow_on_a_disk_with_room_is_not_a_failure(
    tmp_path: Path, refusing: type[RefusingWriter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenCV 4 cannot say whether a write failed; small frames of a quiet scene can sit in
    the muxer's buffer for a while. Only a full disk makes "not growing" a failure."""
    monkeypatch.setattr(RefusingWriter, "opencv4", True)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, writer_factory=refusing)
    refusing.buffering = True
    for i in range(600):  # a minute: six file checks
        sink.handle(frame_at(i, i * 0.1))
    sink.close()
    assert sink.health() == (True, 0)
    assert sink.frames_written == 600


def test_a_new_segment_that_cannot_open_is_retried_but_a_first_file_is_final(
    tmp_path: Path, refusing: type[RefusingWriter], caplog: pytest.LogCaptureFixture
) -> None:
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, segment_s=60.0,
                      writer_factory=refusing)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="camera_app.outputs.recorder"):
        for i in range(600):  # the first minute: one file
            sink.handle(frame_at(i, i * 0.1))
        refusing.refuse_open = True  # the disk filled up: the next segment does not open
        sink.handle(frame_at(600, 60.0))
        assert (sink.retry.failures, sink.enabled) == (1, True)
        error = caplog.records[-1]
        assert error.levelno == logging.ERROR
        assert "door-20231114T221420Z.avi failed: cannot open it" in error.getMessage()
        assert f"trying a new file in {RETRY_S:g} s" in error.getMessage()
        sink.handle(frame_at(601, 60.1))  # waiting: skipped
        refusing.refuse_open = False
        sink.handle(frame_at(602, 60.0 + RETRY_S))
    sink.close()
    assert refusing.opened == ["door-20231114T221320Z.avi", "door-20231114T221450Z.avi"]
    assert (sink.frames_written, sink.frames_skipped) == (601, 1)
    assert caplog.records[-1].getMessage().startswith("recording again:")
    # The first file of a run that cannot open on a disk with room is a setting to fix.
    refusing.refuse_open, refusing.room = True, True
    first = RecordSink(str(tmp_path / "yard.avi"), fps_hint=10.0, writer_factory=refusing)
    first.handle(frame_at(0, 0.0))
    assert not first.enabled
    assert first.health() == (False, 1)


def test_a_full_disk_stops_the_file_and_the_recording_resumes_in_a_new_one(
    small_disk: Callable[[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A real filesystem that fills up (a 2 MB tmpfs) under the real OpenCV writer."""
    disk = small_disk(2 << 20)
    sink = RecordSink(str(disk / "door.avi"), fps_hint=1.0)  # ~100 KB a second
    try:
        filler = disk / "filler"
        filler.write_bytes(b"\0" * 1_200_000)
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)  # ~100 KB as JPEG

        def result(i: int, t_s: float) -> Result:
            return make_result(sequence=i, image=noise, capture_monotonic_s=500.0 + t_s)

        t = 0.0
        with caplog.at_level(logging.INFO, logger="camera_app.outputs.recorder"):
            # OpenCV 5 refuses the frame; OpenCV 4 is silent, and its file stops growing.
            while sink.retry.failures == 0 and t < 4 * CHECK_EVERY_S:
                sink.handle(result(0, t))
                t += 1.0
            assert sink.retry.failures == 1
            first = sink.path
            assert first is not None
            assert first.exists()
            # The 0.8 MB left took a few frames (OpenCV 4 cannot tell: counted till a check).
            opencv5 = int(cv2.__version__.split(".")[0]) >= 5
            assert 0 < sink.frames_written < (20 if opencv5 else 4 * CHECK_EVERY_S + 1)
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1
            assert "is the disk full?" in errors[0]
            filler.unlink()  # someone frees space
            written = sink.frames_written
            t += RETRY_S
            for i in range(30):  # until it says so (OpenCV 4: at a file check)
                sink.handle(result(i, t + i))
                if caplog.records[-1].getMessage().startswith("recording again:"):
                    break
            sink.close()
        assert i == (0 if opencv5 else CHECK_EVERY_S)
        assert sink.retry.failures == 1
        assert sink.frames_written == written + i + 1
        assert sink.path is not None
        assert sink.path != first
        frames, _ = read_video(sink.path)
        assert len(frames) == i + 1
    finally:
        sink.close()


def test_an_mp4_segment_starting_on_a_full_disk_is_retried(
    small_disk: Callable[[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The real mp4 writer does not even open on a full disk; every 10-minute segment start
    is such a moment. The recording goes on once there is room."""
    disk = small_disk(2 << 20)
    sink = RecordSink(str(disk / "door.mp4"), fps_hint=10.0, segment_s=5.0)
    try:
        with caplog.at_level(logging.INFO, logger="camera_app.outputs.recorder"):
            for i in range(10):
                sink.handle(make_result(sequence=i, size_wh=SIZE_WH, capture_monotonic_s=i * 0.1))
            filler = disk / "filler"
            with open(filler, "wb") as f, contextlib.suppress(OSError):
                f.write(b"\0" * (4 << 20))  # until the disk is full
            sink.handle(make_result(sequence=10, size_wh=SIZE_WH, capture_monotonic_s=5.0))
            assert sink.retry.failures == 1
            assert "failed: cannot open it" in caplog.records[-1].getMessage()
            filler.unlink()
            for i in range(150):  # until it says so (OpenCV 4: at the growth check, 10 s)
                sink.handle(make_result(sequence=11 + i, size_wh=SIZE_WH,
                                        capture_monotonic_s=5.0 + RETRY_S + i * 0.1))  # fmt: skip
                if sink.health()[0]:
                    break
        sink.close()
        assert sink.health() == (True, 1)
        assert any(r.getMessage().startswith("recording again:") for r in caplog.records)
        # OpenCV 5 knows at the first frame; OpenCV 4 when the 5 s file is released.
        later = sorted(disk.glob("door-*-*.mp4"))
        assert sum(len(read_video(f)[0]) for f in later) == i + 1
    finally:
        sink.close()


def test_a_recording_that_starts_on_a_full_disk_waits_for_room(
    small_disk: Callable[[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A service (re)started while the disk is full: not "no writer", but a wait for room."""
    disk = small_disk(1 << 20)
    filler = disk / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * (2 << 20))  # until the disk is full
    sink = RecordSink(str(disk / "door.mp4"), fps_hint=10.0)
    try:
        with caplog.at_level(logging.INFO, logger="camera_app.outputs.recorder"):
            sink.handle(make_result(sequence=0, size_wh=SIZE_WH, capture_monotonic_s=0.0))
            assert sink.enabled
            assert sink.health() == (False, 1)
            assert "failed: cannot open it" in caplog.records[-1].getMessage()
            filler.unlink()
            for i in range(150):  # until it says so (OpenCV 4: at the growth check, 10 s)
                sink.handle(make_result(sequence=1 + i, size_wh=SIZE_WH,
                                        capture_monotonic_s=RETRY_S + i * 0.1))  # fmt: skip
                if sink.health()[0]:
                    break
        sink.close()
        assert sink.health() == (True, 1)
        assert sink.path is not None
        assert len(read_video(sink.path)[0]) == i + 1
    finally:
        sink.close()


def test_the_file_plays_in_real_time_whatever_rate_results_come_at(tmp_path: Path) -> None:
    """At 10 fps: a picture is held until the next one's time, frames within one slot are
    left out, and a gap of over a second is skipped, not filled with a frozen picture."""
    red, green, grey, blue = (0, 0, 255), (0, 255, 0), (128, 128, 128), (255, 0, 0)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0)
    for t, colour in [(0.0, red), (0.35, green), (0.4, grey), (0.42, grey), (1.0, blue),
                      (5.0, red)]:  # fmt: skip
        sink.handle(make_result(size_wh=SIZE_WH, colour_bgr=colour, capture_monotonic_s=t))
    sink.close()
    assert sink.path is not None
    frames, fps = read_video(sink.path)
    assert fps == pytest.approx(10.0)
    names = {red: "red", green: "green", grey: "grey", blue: "blue"}
    seen = [min(names, key=lambda c: int(np.abs(f[60, 80].astype(int) - c).sum())) for f in frames]
    assert [names[c] for c in seen] == ["red"] * 4 + ["green"] * 6 + ["blue", "red"]
    assert (sink.frames_written, sink.frames_left_out) == (12, 2)


@pytest.mark.parametrize(("max_hold_s", "held"), [(1.0, False), (3.0, True)])
def test_a_picture_is_held_up_to_max_hold_s(tmp_path: Path, max_hold_s: float, held: bool) -> None:
    """A gated camera's results come only at its keep-alive while nothing moves: with
    ``max_hold_s`` past that gap its picture fills the file; with 1 s the gap is skipped."""
    red, blue = (0, 0, 255), (255, 0, 0)
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, max_hold_s=max_hold_s)
    for t, colour in [(0.0, red), (2.0, blue)]:  # a keep-alive 2 s after the last result
        sink.handle(make_result(size_wh=SIZE_WH, colour_bgr=colour, capture_monotonic_s=t))
    sink.close()
    assert sink.path is not None
    frames, _ = read_video(sink.path)
    reds = sum(int(np.abs(f[60, 80].astype(int) - red).sum()) < 60 for f in frames)
    assert (reds, len(frames)) == ((20, 21) if held else (1, 2))
