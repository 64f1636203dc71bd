"""The two-part stretch gives the bytes of one cv2.resize, and its helper thread stays tame."""

from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect import resize as two_part
from camera_app.detect.preprocess import Preprocessor
from camera_app.detect.quantization import InputDType, InputQuantization
from tests.shared import read_image

V1_INPUT = InputQuantization(InputDType.UINT8, 127.5, 127.5, 0.0078125, 128)


@settings(max_examples=300, deadline=None)
@given(src_h=st.integers(1, 2200), dst_h=st.integers(1, 700))
def test_a_split_keeps_the_scale_of_the_whole(src_h: int, dst_h: int) -> None:
    split = two_part.row_split(src_h, dst_h)
    if split is None:
        return
    k, m = split
    assert k * src_h == m * dst_h  # both parts have the whole's scale, exactly
    assert dst_h / 4 <= k <= 3 * dst_h / 4
    assert 0 < m < src_h
    assert src_h >= dst_h  # never for upscaling


@pytest.mark.parametrize(
    ("src_h", "dst_h", "want"),
    [
        (720, 300, (150, 360)),
        (720, 320, (160, 360)),
        (720, 256, (128, 360)),
        (1080, 300, (150, 540)),
        (480, 300, (150, 240)),
        (721, 300, None),  # gcd 1: no whole source row near the middle
        (200, 300, None),  # upscaling
    ],
)
def test_splits_of_common_sizes(src_h: int, dst_h: int, want: tuple[int, int] | None) -> None:
    assert two_part.row_split(src_h, dst_h) == want


@pytest.mark.parametrize(
    ("frame_hw", "dst_hw"),
    [((720, 1280), (300, 300)), ((720, 1280), (320, 320)), ((720, 1280), (256, 256)),
     ((1080, 1920), (300, 300)), ((480, 640), (300, 300))],
)  # fmt: skip
def test_the_parts_reproduce_one_resize_on_real_photos(
    frame_hw: tuple[int, int], dst_hw: tuple[int, int]
) -> None:
    split = two_part.row_split(frame_hw[0], dst_hw[0])
    assert split is not None
    assert two_part.halves_reproduce(frame_hw, dst_hw, split)
    helper = two_part.helper()
    for name in ("kite_and_cold.jpg", "grace_hopper.bmp", "cat.bmp"):
        photo = read_image(name)
        frame = np.ascontiguousarray(cv2.resize(photo, (frame_hw[1], frame_hw[0])))
        whole = cv2.resize(frame, (dst_hw[1], dst_hw[0]), interpolation=cv2.INTER_LINEAR)
        dst = np.zeros((*dst_hw, 3), np.uint8)
        assert two_part.resize_halves(frame, dst, split, helper) is dst
        assert np.array_equal(dst, whole), name


def test_the_check_catches_a_cut_one_source_row_off() -> None:
    # 361 rows for the top 150 is not the whole's scale: the parts differ, and the check says so.
    assert not two_part.halves_reproduce((720, 1280), (300, 300), (150, 361))
    assert not two_part.halves_reproduce((720, 1280), (300, 300), (150, 359))


@settings(max_examples=60, deadline=None)
@given(
    frame_hw=st.tuples(st.integers(1, 240), st.integers(1, 120)),
    hw=st.sampled_from([(8, 8), (17, 23), (40, 32), (64, 48)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_two_resize_threads_give_the_bytes_of_one(
    frame_hw: tuple[int, int], hw: tuple[int, int], seed: int
) -> None:
    frame = np.random.default_rng(seed).integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    one, _ = Preprocessor(hw, V1_INPUT, resize_threads=1)(frame)
    two_pre = Preprocessor(hw, V1_INPUT, resize_threads=2)
    two, _ = two_pre(frame)
    assert two.tobytes() == one.tobytes()
    if two_part.row_split(frame_hw[0], hw[0]) is None:
        assert two_pre.split_for(frame_hw) is None


def test_a_preprocessor_uses_the_split_only_where_the_check_passed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    frame = np.random.default_rng(1).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    pre = Preprocessor((300, 300), V1_INPUT, resize_threads=2)
    used: list[tuple[int, int]] = []
    real = two_part.resize_halves

    def spy(f: np.ndarray, dst: np.ndarray, split: tuple[int, int], on: object) -> np.ndarray:
        if on is not None:  # a frame's resize (the check runs its parts inline)
            used.append(split)
        return real(f, dst, split, on)  # type: ignore[arg-type]

    monkeypatch.setattr(two_part, "resize_halves", spy)
    pre(frame)
    pre(frame, resize_threads=1)  # the caller's override: one thread
    assert used == [(150, 360)]

    refused = Preprocessor((300, 300), V1_INPUT, resize_threads=2)
    monkeypatch.setattr(two_part, "halves_reproduce", lambda *a: False)
    with caplog.at_level(logging.INFO, logger="camera_app.detect.preprocess"):
        got, _ = refused(frame)
    assert used == [(150, 360)]  # not cut
    assert refused.split_for((720, 1280)) is None
    assert "stays on one thread" in caplog.text
    assert got.tobytes() == Preprocessor((300, 300), V1_INPUT)(frame)[0].tobytes()
    # Non-contiguous frames (a view) are resized whole.
    view = np.asarray(frame[:, ::-1])
    assert pre(view)[0].tobytes() == Preprocessor((300, 300), V1_INPUT)(view)[0].tobytes()
    assert used == [(150, 360)]


def test_the_helper_raises_what_its_job_raised() -> None:
    helper = two_part.Helper(threading.current_thread())
    try:

        def boom() -> None:
            raise ValueError("bad part")

        helper.start(boom)
        with pytest.raises(ValueError, match="bad part"):
            helper.wait()
        helper.start(lambda: None)  # and goes on working
        helper.wait()
    finally:
        helper.close()


def test_a_helper_that_hangs_gives_a_timeout_and_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(two_part, "WAIT_S", 0.2)
    release = threading.Event()

    def owner() -> None:
        first = two_part.helper()
        first.start(lambda: release.wait(5.0))
        with pytest.raises(TimeoutError, match="did not finish its resize"):
            first.wait()
        assert not first.usable()
        second = two_part.helper()
        assert second is not first
        second.start(lambda: None)
        second.wait()
        two_part.release_helper()

    t = threading.Thread(target=owner, name="owner-hang")
    t.start()
    t.join(5.0)
    release.set()
    assert not t.is_alive()
    _no_helper_left("owner-hang-resize")


def _no_helper_left(name: str, within_s: float = 2 * two_part.IDLE_CHECK_S + 1.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name == name]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} still alive after {within_s} s")


def test_a_helper_ends_with_its_owner_thread_or_when_released() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    pre = Preprocessor((300, 300), V1_INPUT, resize_threads=2)

    def forgets() -> None:  # never calls release_helper
        pre(frame)

    def releases() -> None:
        pre(frame)
        two_part.release_helper()

    for name, target in (("owner-forgets", forgets), ("owner-releases", releases)):
        t = threading.Thread(target=target, name=name)
        t.start()
        t.join(5.0)
        _no_helper_left(f"{name}-resize")


def test_helpers_were_really_started_by_a_split() -> None:
    seen = threading.Event()

    def owner() -> None:
        frame = np.random.default_rng(3).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
        Preprocessor((300, 300), V1_INPUT, resize_threads=2)(frame)
        if [t for t in threading.enumerate() if t.name == "owner-seen-resize"]:
            seen.set()
        two_part.release_helper()

    t = threading.Thread(target=owner, name="owner-seen")
    t.start()
    t.join(5.0)
    assert seen.is_set()
