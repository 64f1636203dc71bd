from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np
import pytest

from camera_app.outputs.live import LiveView, placeholder_jpeg
from tests.outputs.builders import RED_BGR, make_detections, make_result


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_handle_stores_without_encoding() -> None:
    live = LiveView(["door"])
    for i in range(10):
        live.handle(make_result("door", i))
    assert live.has_frame("door")
    assert live.jpeg_encodes_total("door") == 0


def test_unknown_cameras_are_ignored() -> None:
    live = LiveView(["door"])
    live.handle(make_result("yard", 1))
    assert not live.has_camera("yard")
    assert not live.has_frame("door")
    assert live.latest_jpeg("door") is None


def test_each_frame_is_encoded_once_with_its_boxes_on_a_copy() -> None:
    live = LiveView(["door"], jpeg_quality=90)
    first = make_result("door", 1, size_wh=(160, 120), colour_bgr=(128, 128, 128),
                        detections=make_detections([[20, 30, 140, 110]]))  # fmt: skip
    live.handle(first)
    a, b = live.latest_jpeg("door"), live.latest_jpeg("door")
    assert a is not None
    assert b is not None
    assert a is b
    assert live.jpeg_encodes_total("door") == 1
    image = decode(a.data)
    assert image.shape == (120, 160, 3)
    reddish = image[..., 2].astype(int) - image[..., 0] > 50  # class 0 is drawn in red
    assert reddish[40:110, 18:23].any(axis=1).all()
    assert (first.frame.image_bgr == 128).all()  # not drawn on the shared frame

    live.handle(make_result("door", 2))
    c = live.latest_jpeg("door")
    assert c is not None
    assert c.sequence == 2
    assert live.jpeg_encodes_total("door") == 2
    assert np.abs(decode(c.data)[10, 10].astype(int) - RED_BGR).max() < 20


def test_many_viewers_of_one_frame_cause_one_encode() -> None:
    live = LiveView(["door"])
    live.handle(make_result("door", 1, size_wh=(640, 480)))
    got: list[int] = []
    threads = [
        threading.Thread(target=lambda: got.append(live.latest_jpeg("door").sequence))  # type: ignore[union-attr]
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5.0)
    assert got == [1] * 8
    assert live.jpeg_encodes_total("door") == 1


def test_wait_jpeg_times_out_without_a_newer_frame() -> None:
    live = LiveView(["door"])
    assert live.wait_jpeg("door", None, timeout_s=0.05) is None  # no frame at all
    live.handle(make_result("door", 3))
    jpeg = live.wait_jpeg("door", None, timeout_s=0.05)
    assert jpeg is not None
    assert jpeg.sequence == 3
    t0 = time.monotonic()
    assert live.wait_jpeg("door", 3, timeout_s=0.1) is None
    assert time.monotonic() - t0 >= 0.09


def test_wait_jpeg_wakes_on_a_new_frame_and_on_close() -> None:
    live = LiveView(["door"])
    live.handle(make_result("door", 1))
    threading.Timer(0.05, live.handle, args=(make_result("door", 2),)).start()
    jpeg = live.wait_jpeg("door", 1, timeout_s=5.0)
    assert jpeg is not None
    assert jpeg.sequence == 2

    threading.Timer(0.05, live.close).start()
    t0 = time.monotonic()
    assert live.wait_jpeg("door", 2, timeout_s=30.0) is None
    assert time.monotonic() - t0 < 20.0  # woken by close, not the timeout
    assert live.closed


def test_viewer_counts_while_inside() -> None:
    live = LiveView(["door", "yard"])
    with live.viewer("door"), live.viewer("door"):
        assert (live.viewers("door"), live.viewers("yard")) == (2, 0)
    assert live.viewers("door") == 0


def test_placeholder_is_a_grey_jpeg() -> None:
    image = decode(placeholder_jpeg())
    assert image.shape == (240, 320, 3)
    assert np.abs(image[5, 5].astype(int) - 43).max() <= 3


@pytest.mark.parametrize("quality", [0, 101])
def test_jpeg_quality_is_checked(quality: int) -> None:
    with pytest.raises(ValueError, match="jpeg_quality"):
        LiveView(["door"], jpeg_quality=quality)


def test_a_frame_that_cannot_be_encoded_is_skipped_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = LiveView(["door"])
    bad = make_result("door", 1, image=np.zeros((48, 64, 3, 2), np.uint8))  # not an image
    with caplog.at_level(logging.WARNING, logger="camera_app.outputs.live"):
        live.handle(bad)
        assert live.latest_jpeg("door") is None
        assert live.latest_jpeg("door") is None
        t0 = time.monotonic()
        assert live.wait_jpeg("door", None, timeout_s=0.1) is None  # waits, does not spin
        assert time.monotonic() - t0 >= 0.09
    assert len(caplog.records) == 1
    live.handle(make_result("door", 2))
    jpeg = live.latest_jpeg("door")
    assert jpeg is not None
    assert jpeg.sequence == 2


def test_captured_frames_are_shown_with_the_newest_boxes() -> None:
    """Between results (a detect_fps limit, motion gating) the view keeps the camera's rate:
    each captured frame is shown with the last result's boxes, and a late result's boxes go on
    the newer frame on show, not back to its own older frame."""
    live = LiveView(["door"])
    boxes = make_detections([[20, 30, 140, 110]])
    live.handle(make_result("door", 1, size_wh=(160, 120), detections=boxes))
    live.show(make_result("door", 2, size_wh=(160, 120), colour_bgr=(0, 255, 0)).frame)
    shown = live.latest_jpeg("door")
    assert shown is not None
    assert shown.sequence == 2
    image = decode(shown.data)
    assert np.abs(image[60, 80].astype(int) - (0, 255, 0)).max() < 30  # the new frame
    assert (image[..., 2].astype(int) - image[..., 0] > 50)[40:110, 18:23].any()  # old boxes
    live.show(make_result("door", 1).frame)  # older than what is on show: ignored
    assert live.latest_jpeg("door") is shown
    live.handle(make_result("door", 2, size_wh=(160, 120), colour_bgr=(0, 255, 0)))
    assert live.latest_jpeg("door") is not shown  # same frame, its own (no) boxes: encoded anew
    live.show(make_result("door", 5, size_wh=(160, 120), colour_bgr=(0, 255, 0)).frame)
    live.handle(make_result("door", 3, size_wh=(160, 120), detections=boxes))  # a late result
    late = live.latest_jpeg("door")
    assert late is not None
    assert late.sequence == 5  # still the newest frame, now with the late result's boxes
    assert (decode(late.data)[..., 2].astype(int) - decode(late.data)[..., 0] > 50).any()
    assert live.jpeg_encodes_total("door") == 3
