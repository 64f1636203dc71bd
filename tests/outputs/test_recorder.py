from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import ConfigError
from camera_app.outputs.recorder import RecordSink
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


@pytest.mark.parametrize("name", ["clip.avi", "clip.mp4", "CLIP.AVI"])
def test_records_every_frame_at_the_first_frames_size(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sink = RecordSink(str(path), fps_hint=10.0)
    for i in range(4):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH))
    sink.handle(make_result(sequence=4, size_wh=(320, 240)))  # a reconnect at another size
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
        ("clip.mkv", 10.0, "expected a file name ending in .mp4, .avi"),
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
        "door-20231114T221320Z.avi": 3,
        "door-20231114T221420Z.avi": 2,
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


def test_max_mb_never_deletes_the_file_being_written(tmp_path: Path) -> None:
    sink = RecordSink(str(tmp_path / "door.avi"), fps_hint=10.0, max_mb=0.000001)
    for i in range(3):
        sink.handle(make_result(sequence=i, size_wh=SIZE_WH))
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
