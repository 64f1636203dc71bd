"""The motion detector on clips made from real photos: what a camera adds is not motion; an
object that enters is, from its first frame; masks hide it. Default settings throughout."""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.config_motion import MaskConfig, MotionConfig
from camera_app.pipeline.board import FrameBoard
from camera_app.pipeline.gate import GatePolicy
from camera_app.pipeline.motion import MotionDetector, mask_image
from camera_app.sources.base import Frame
from camera_app.sources.capture import DropReason
from tests.clips import Camera, Entry, SceneClip, brightness_step
from tests.pipeline.test_gate import Clock

STILL_CAMERAS = {
    "sensor noise": Camera(noise_sigma=10.0, jpeg_quality=None),
    "jpeg flicker": Camera(noise_sigma=3.0, jpeg_quality=30),
    "noise and jpeg": Camera(noise_sigma=8.0, jpeg_quality=50),
    "light on (x1.4 in one frame)": Camera(6.0, 60, brightness_step(10, 1.4, ramp=1)),
    "dusk (x0.6 over 10 frames)": Camera(6.0, 60, brightness_step(10, 0.6, ramp=10)),
    "flicker (+-8% every frame)": Camera(6.0, 60, lambda n: 1.08 if n % 2 else 0.92),
}


@pytest.mark.parametrize("camera", STILL_CAMERAS.values(), ids=list(STILL_CAMERAS))
def test_what_the_camera_adds_is_not_motion(camera: Camera) -> None:
    clip = SceneClip(camera=camera)
    det = MotionDetector(MotionConfig())
    moving = [n for n in range(40) if det.detect(clip.frame(n)).moving]
    assert moving == []


ENTRIES = {
    "person": Entry(10, 40),
    "small cat": Entry(10, 40, label="cat", photo="chelsea", height=0.2, speed=0.004),
}


@pytest.mark.parametrize("entry", ENTRIES.values(), ids=list(ENTRIES))
def test_an_entry_is_motion_from_its_first_frame_where_it_is(entry: Entry) -> None:
    clip = SceneClip(entries=[entry], camera=Camera(6.0, 60))
    det = MotionDetector(MotionConfig())
    verdicts = [det.detect(clip.frame(n)) for n in range(entry.start + 5)]
    assert next(n for n, m in enumerate(verdicts) if m.moving) == entry.start
    assert all(m.moving for m in verdicts[entry.start :])
    w, h = clip.size_wh
    x1, y1, x2, y2 = clip.truth(entry.start)[0][1]
    cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
    regions = verdicts[entry.start].regions_xyxy
    assert regions.dtype == np.float32
    assert regions.shape[1] == 4
    inside = (
        (regions[:, 0] <= cx)
        & (cx <= regions[:, 2])
        & (regions[:, 1] <= cy)
        & (cy <= regions[:, 3])
    )
    assert inside.any(), regions


def test_a_changing_white_overlay_never_blinds_the_detector() -> None:
    """A frame counter in white (a camera's clock overlay, say) beside something that moves in
    every frame. The background used to follow the brightness-matched frame; where bright
    pixels may only raise it, it crept up, the gain with it, and it overflowed: no motion ever
    again after 301 frames here (after ~19,000 on a 100 fps test camera's counter)."""
    import cv2

    frames = []
    for i in range(60):
        image = np.full((120, 160, 3), 60, np.uint8)
        x = i * 7 % 130
        cv2.rectangle(image, (x, 50), (x + 30, 90), (0, 200, 255), -1)
        cv2.putText(image, str(i), (5, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 3)
        frames.append(image)
    det = MotionDetector(MotionConfig())
    det.detect(frames[0])
    still = [n for n in range(1, 1500) if not det.detect(frames[n % 60]).moving]
    assert still == []


def test_an_object_that_stops_is_taken_into_the_background() -> None:
    entry = Entry(5, 200, walk=10)
    clip = SceneClip(entries=[entry], camera=Camera(6.0, 60))
    det = MotionDetector(MotionConfig())
    moving = [det.detect(clip.frame(n)).moving for n in range(120)]
    assert moving[5]
    assert moving[15]
    assert not any(moving[100:])  # still since frame 15: background by now


@pytest.mark.parametrize("normalized", [True, False])
def test_motion_inside_a_mask_is_ignored(normalized: bool) -> None:
    entry = Entry(5, 40, height=0.4, x0=0.1, speed=0.005, y=0.3)
    clip = SceneClip(entries=[entry], camera=Camera(6.0, 60))
    # The whole left half, where the person walks (in the clip's 640x360 pixels, or 0..1).
    corners = [(0.0, 0.0), (0.55, 0.0), (0.55, 1.0), (0.0, 1.0)]
    if not normalized:
        corners = [(x * 640, y * 360) for x, y in corners]
    mask = MaskConfig(tuple(corners), normalized=normalized)
    det = MotionDetector(MotionConfig(masks=(mask,)))
    assert not any(det.detect(clip.frame(n)).moving for n in range(30))
    unmasked = MotionDetector(MotionConfig())
    assert any(unmasked.detect(clip.frame(n)).moving for n in range(30))


def test_mask_image_scales_pixel_and_normalized_polygons_alike() -> None:
    norm = MaskConfig(((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)), normalized=True)
    px = MaskConfig(((160, 90), (480, 90), (480, 270), (160, 270)))
    a = mask_image((norm,), (64, 36), (640, 360))
    b = mask_image((px,), (64, 36), (640, 360))
    assert np.array_equal(a, b)
    assert a[18, 32] == 0
    assert a[0, 0] == 1  # 0 inside the mask: motion does not count there
    assert 0.2 < 1 - a.mean() < 0.3  # about a quarter of the frame


def _board_run(clip: SceneClip, frames: int) -> tuple[list[int], dict[DropReason, int]]:
    """Frames of ``clip`` at 8 fps through a gated board with the real detector, one take
    after each; which frames ran."""
    clock = Clock(0.0)
    det = MotionDetector(MotionConfig())
    policy = GatePolicy(detect_fps=4, gated=True, keepalive_s=2.0)
    board = FrameBoard(["a"], policies={"a": policy}, motion={"a": det.moving}, clock=clock)
    ran = []
    for n in range(frames):
        clock.now_s = n / 8
        board.slots["a"].put(Frame(clip.frame(n), "a", n, clock.now_s, clock.now_s))
        got = board.take(0.0)
        if got is not None:
            ran.append(got.sequence)
    return ran, board.slots["a"].drops()


def test_noise_and_light_do_not_open_the_gate() -> None:
    camera = Camera(8.0, 50, brightness_step(15, 1.3, ramp=2))
    ran, drops = _board_run(SceneClip(camera=camera), 40)
    assert ran == [0, 16, 32]  # the first frame and the 2 s keep-alives only
    assert drops[DropReason.NO_MOTION] == 40 - 3 - 1


def test_an_entry_opens_the_gate_at_its_first_frame_and_runs_at_the_rate() -> None:
    entry = Entry(17, 200, walk=40, speed=0.008)
    ran, drops = _board_run(SceneClip(entries=[entry], camera=Camera(6.0, 60)), 32)
    assert ran[:3] == [0, 16, 17]  # keep-alive at 16, the entry at once though 1/8 s later
    assert ran[3:] == [19, 21, 23, 25, 27, 29, 31]  # then 4 a second of the 8
    assert drops[DropReason.RATE_LIMIT] > 0
