"""Preprocessing gives the usual float path's bytes, whichever per-byte route it takes."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_app.detect.per_byte import (
    Route,
    apply_new,
    copy_path,
    reproduces,
    scale_path,
    table_path,
    transform_path,
)
from camera_app.detect.preprocess import Preprocessor, usual_float_path
from camera_app.detect.quantization import InputDType, InputQuantization, build_table
from camera_app.modes import ColourOrder
from tests.detect.test_quantization import quant_params  # the same random quantizations

V1_INPUT = InputQuantization(InputDType.UINT8, 127.5, 127.5, 0.0078125, 128)
ARM_INPUT = InputQuantization(InputDType.INT8, 127.5, 127.5, 0.0078125, 0)


def usual(frame: np.ndarray, hw: tuple[int, int], q: InputQuantization, order: ColourOrder):  # type: ignore[no-untyped-def]
    """The usual path, for either colour order (it always converts BGR to RGB)."""
    src = frame if order is ColourOrder.RGB else np.ascontiguousarray(frame[..., ::-1])
    return usual_float_path(src, hw, q)


@settings(max_examples=60, deadline=None)
@given(
    q=quant_params,
    order=st.sampled_from(list(ColourOrder)),
    hw=st.sampled_from([(8, 8), (17, 23), (40, 32)]),
    frame_hw=st.tuples(st.integers(1, 90), st.integers(1, 90)),
    seed=st.integers(0, 2**32 - 1),
)
def test_output_equals_the_usual_float_path_bit_for_bit(
    q: InputQuantization, order: ColourOrder, hw: tuple[int, int],
    frame_hw: tuple[int, int], seed: int,
) -> None:  # fmt: skip
    frame = np.random.default_rng(seed).integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    pre = Preprocessor(hw, q, order)
    got, placement = pre(frame)
    want = usual(frame, hw, q, order)
    assert got.dtype == want.dtype
    assert got.shape == (1, *hw, 3)
    assert got.tobytes() == want.tobytes()
    assert placement.frame_wh == (frame_hw[1], frame_hw[0])
    # Into a destination that held other bytes (the input tensor holds the last frame's).
    dst = np.full_like(want, 77)
    assert pre.into(frame, dst) == placement
    assert dst.tobytes() == want.tobytes()


def _takes_and_gives_the_usual_bytes(
    route: Route, hw: tuple[int, int], q: InputQuantization, order: ColourOrder, frame: np.ndarray
) -> None:
    """``route`` is the one taken, and it gives the usual path's bytes into a destination
    that held others and as a new array."""
    pre = Preprocessor(hw, q, order)
    assert pre.route is route
    want = usual(frame, hw, q, order)
    dst = np.full_like(want, 5)
    pre.into(frame, dst)
    assert dst.tobytes() == want.tobytes()
    assert pre(frame)[0].tobytes() == want.tobytes()


# Quantizations whose table is the identity (uint8) or the identity less 128 (int8)
IDENTITY_INPUTS = [
    InputQuantization(InputDType.UINT8, 0.0, 1.0, 1.0, 0),
    InputQuantization(InputDType.INT8, 0.0, 1.0, 1.0, -128),
    InputQuantization(InputDType.INT8, 128.0, 1.0, 1.0, 0),
]


@pytest.mark.parametrize("q", IDENTITY_INPUTS, ids=["uint8", "int8 zp -128", "int8 mean 128"])
@pytest.mark.parametrize("order", list(ColourOrder))
def test_an_identity_table_takes_no_arithmetic_and_gives_the_same_bytes(
    q: InputQuantization, order: ColourOrder
) -> None:
    frame = np.random.default_rng(4).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    _takes_and_gives_the_usual_bytes(Route.COPY, (30, 40), q, order, frame)


def test_a_table_that_is_not_the_identity_has_no_copy_route() -> None:
    assert copy_path(V1_INPUT, ColourOrder.RGB) is None
    assert copy_path(InputQuantization(InputDType.FLOAT32, 0.0, 1.0), ColourOrder.BGR) is None


@pytest.mark.parametrize(
    "dst",
    [
        np.zeros((1, 16, 16, 3), np.int8),  # the wrong dtype
        np.zeros((1, 16, 15, 3), np.uint8),  # the wrong shape
        np.zeros((1, 16, 32, 3), np.uint8)[:, :, ::2],  # not contiguous
    ],
    ids=["dtype", "shape", "strided"],
)
def test_a_destination_opencv_could_not_write_into_is_refused(dst: np.ndarray) -> None:
    with pytest.raises(ValueError, match="destination"):
        Preprocessor((16, 16), V1_INPUT).into(np.zeros((20, 20, 3), np.uint8), dst)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((20, 20, 3), np.uint16),  # the shape the last frame had, another dtype
        np.zeros((20, 20, 4), np.uint8),  # BGRA
        np.zeros((20, 20), np.uint8),  # grey
    ],
    ids=["uint16", "4 channels", "grey"],
)
def test_a_frame_that_is_not_bgr_uint8_is_refused_after_good_ones(frame: np.ndarray) -> None:
    """Frames of the last good frame's shape skip the shape checks: the dtype is still read."""
    pre = Preprocessor((16, 16), V1_INPUT)
    pre(np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="BGR uint8 frame"):
        pre(frame)


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_frames_whose_size_changes_each_get_their_own_bytes_and_placement(resize: str) -> None:
    """The per-frame path keeps the last frame's shape and placement: a camera whose size
    changes (a reconnect at another resolution) must not get the old size's placement."""
    from camera_app.modes import ResizeMode

    mode = ResizeMode(resize)
    hw = (40, 40)
    pre = Preprocessor(hw, V1_INPUT, ColourOrder.RGB, mode, pad=114)
    rng = np.random.default_rng(5)
    shapes = [(30, 60), (30, 60), (40, 40), (50, 20), (30, 60), (41, 40)]
    frames = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    dst = np.empty(pre.shape, np.uint8)
    for frame in frames:
        placement = pre.into(frame, dst)
        assert placement.frame_wh == (frame.shape[1], frame.shape[0])
        fresh = Preprocessor(hw, V1_INPUT, ColourOrder.RGB, mode, pad=114)(frame)[1]
        assert placement == fresh
        if mode is ResizeMode.STRETCH or frame.shape[:2] == hw:
            want = usual(frame, hw, V1_INPUT, ColourOrder.RGB)
        else:
            want = _padded_usual(frame, hw, V1_INPUT, ColourOrder.RGB, 114)
        assert dst.tobytes() == want.tobytes()


@pytest.mark.parametrize("q", [V1_INPUT, ARM_INPUT], ids=["uint8", "int8"])
@pytest.mark.parametrize("order", list(ColourOrder))
def test_the_shared_models_inputs_take_the_one_pass_transform(
    q: InputQuantization, order: ColourOrder
) -> None:
    hw = (300, 300)
    pre = Preprocessor(hw, q, order)
    assert pre.route is Route.TRANSFORM  # the fast route is really used for the inputs users have
    frame = np.random.default_rng(1).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    assert pre(frame)[0].tobytes() == usual(frame, hw, q, order).tobytes()


def test_float_inputs_take_the_table() -> None:
    pre = Preprocessor((16, 16), InputQuantization(InputDType.FLOAT32))
    assert pre.route is Route.TABLE


def test_the_check_rejects_a_transform_that_rounds_differently() -> None:
    q, order, hw = V1_INPUT, ColourOrder.RGB, (12, 10)
    table = build_table(q)
    good = transform_path(q, order)
    assert good is not None
    assert reproduces(good, table, order, hw)
    # Off by one for a single byte value at a single position: still caught.
    reference = table_path(table, order)

    def one_wrong(small: np.ndarray, out: np.ndarray) -> None:
        reference(small, out)
        if small[7, 3, 2] == 200:
            out[7, 3, 0] += 1

    assert not reproduces(one_wrong, table, order, hw)


def _one_off(make):  # type: ignore[no-untyped-def]
    """A route maker whose step is one off for every byte (what the load check must catch)."""

    def maker(q: InputQuantization, order: ColourOrder):  # type: ignore[no-untyped-def]
        real = make(q, order)
        assert real is not None

        def apply(small: np.ndarray, out: np.ndarray) -> None:
            cv2.add(apply_new(real, small, np.dtype(np.uint8)), 1, dst=out)

        return apply

    return maker


@pytest.fixture
def makers(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The route makers, to patch; the routes chosen with them are forgotten after."""
    from camera_app.detect import per_byte

    per_byte.choose_route.cache_clear()
    yield per_byte._MAKERS
    per_byte.choose_route.cache_clear()


def test_a_transform_that_fails_the_check_falls_back_to_the_fitted_line(
    makers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(makers, Route.TRANSFORM, _one_off(transform_path))
    frame = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    _takes_and_gives_the_usual_bytes(Route.SCALE, (20, 20), V1_INPUT, ColourOrder.RGB, frame)


def test_routes_that_fail_the_check_fall_back_to_the_table(
    makers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(makers, Route.TRANSFORM, _one_off(transform_path))
    monkeypatch.setitem(makers, Route.SCALE, _one_off(scale_path))
    frame = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    _takes_and_gives_the_usual_bytes(Route.TABLE, (20, 20), V1_INPUT, ColourOrder.RGB, frame)


# YOLOv8n's int8 export (ultralytics_yolov8n_coco_640_int8): [0, 1] input, scale 0.0187, zero
# point -14. cv2.transform's 8-bit path rounds its coefficients to 1/1024 and misses 6 bytes.
YOLOV8_INT8_INPUT = InputQuantization(InputDType.INT8, 0.0, 255.0, 0.01865844801068306, -14)


def test_yolov8s_int8_input_takes_the_fitted_line_and_gives_the_usual_bytes() -> None:
    """RGB, as YOLO is (with a diagonal matrix, BGR, cv2.transform computes in float32 and
    reproduces this table)."""
    order, hw = ColourOrder.RGB, (64, 64)
    transform = transform_path(YOLOV8_INT8_INPUT, order)
    assert transform is not None
    assert not reproduces(transform, build_table(YOLOV8_INT8_INPUT), order, hw)
    frame = np.random.default_rng(7).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    _takes_and_gives_the_usual_bytes(Route.SCALE, hw, YOLOV8_INT8_INPUT, order, frame)


def test_no_fitted_line_for_float_inputs() -> None:
    assert scale_path(InputQuantization(InputDType.FLOAT32), ColourOrder.RGB) is None


def test_each_thread_resizes_into_its_own_buffer() -> None:
    """Two threads preprocessing different frames at once never see each other's pixels."""
    pre = Preprocessor((64, 64), V1_INPUT)
    frames = [np.full((480, 640, 3), v, np.uint8) for v in (10, 240)]
    expected = [pre(f)[0].copy() for f in frames]
    bad: list[int] = []

    def work(i: int) -> None:
        for _ in range(300):
            if not np.array_equal(pre(frames[i])[0], expected[i]):
                bad.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not bad


def test_returned_inputs_are_new_arrays_the_caller_owns() -> None:
    pre = Preprocessor((32, 32), V1_INPUT)
    a, _ = pre(np.zeros((48, 64, 3), np.uint8))
    b, _ = pre(np.full((48, 64, 3), 255, np.uint8))
    assert not np.shares_memory(a, b)
    assert int(a.max()) == 0
    assert int(b.min()) == 255


def _padded_usual(
    frame: np.ndarray, hw: tuple[int, int], q: InputQuantization, order: ColourOrder, pad: int
) -> np.ndarray:
    """The usual path on the frame resized into a canvas of the pad's grey (own geometry)."""
    fh, fw = frame.shape[:2]
    s = min(hw[1] / fw, hw[0] / fh)
    nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
    x0, y0 = (hw[1] - nw) // 2, (hw[0] - nh) // 2
    canvas = np.full((*hw, 3), pad, np.uint8)
    canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh))
    return usual(canvas, hw, q, order)  # type: ignore[no-any-return]


@settings(max_examples=80, deadline=None)
@given(
    q=quant_params,
    order=st.sampled_from(list(ColourOrder)),
    hw=st.sampled_from([(8, 8), (17, 23), (40, 32), (32, 40)]),
    frame_hw=st.tuples(st.integers(1, 90), st.integers(1, 90)),
    pad=st.sampled_from([0, 114, 255]),
    seed=st.integers(0, 2**32 - 1),
)
def test_letterbox_equals_the_usual_path_on_a_padded_canvas(
    q: InputQuantization, order: ColourOrder, hw: tuple[int, int],
    frame_hw: tuple[int, int], pad: int, seed: int,
) -> None:  # fmt: skip
    """Padded above and below (the band path), left and right (the canvas), or not at all;
    into a destination holding other bytes, twice (the second frame reuses the band)."""
    from camera_app.modes import ResizeMode

    rng = np.random.default_rng(seed)
    pre = Preprocessor(hw, q, order, ResizeMode.LETTERBOX, pad=pad)
    for _ in range(2):
        frame = rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
        want = _padded_usual(frame, hw, q, order, pad)
        dst = np.full_like(want, 77)
        pre.into(frame, dst)
        assert dst.tobytes() == want.tobytes()
        assert pre(frame)[0].tobytes() == want.tobytes()


def test_a_wide_frame_is_letterboxed_through_the_band() -> None:
    """The 16:9 camera into a square YOLO input takes the band path (not the canvas)."""
    from camera_app.modes import ResizeMode

    pre = Preprocessor((64, 64), ARM_INPUT, ColourOrder.RGB, ResizeMode.LETTERBOX, pad=114)
    frame = np.random.default_rng(6).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    dst = np.zeros((1, 64, 64, 3), np.int8)
    pre.into(frame, dst)
    assert pre._last[2] == (14, 36)  # rows 14..49 hold the frame, the rest the pad
    want = _padded_usual(frame, (64, 64), ARM_INPUT, ColourOrder.RGB, 114)
    assert dst.tobytes() == want.tobytes()


def test_cameras_of_other_aspects_sharing_a_worker_each_get_their_own_band() -> None:
    from camera_app.modes import ResizeMode

    pre = Preprocessor((64, 64), YOLOV8_INT8_INPUT, ColourOrder.RGB, ResizeMode.LETTERBOX, 114)
    rng = np.random.default_rng(8)
    dst = np.zeros((1, 64, 64, 3), np.int8)
    for shape in [(72, 128), (96, 128), (72, 128), (48, 128), (96, 128)]:  # 16:9, 4:3, 8:3
        frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        pre.into(frame, dst)
        want = _padded_usual(frame, (64, 64), YOLOV8_INT8_INPUT, ColourOrder.RGB, 114)
        assert dst.tobytes() == want.tobytes(), shape


def test_letterbox_output_equals_a_padded_usual_path() -> None:
    from camera_app.modes import ResizeMode

    frame = np.random.default_rng(3).integers(0, 256, (30, 60, 3), dtype=np.uint8)
    pre = Preprocessor((40, 40), V1_INPUT, ColourOrder.RGB, ResizeMode.LETTERBOX)
    got, placement = pre(frame)
    lb = placement.letterbox
    x0, y0 = round(lb.x_offset * 40), round(lb.y_offset * 40)
    nw, nh = round(lb.x_size * 40), round(lb.y_size * 40)
    canvas = np.zeros((40, 40, 3), np.uint8)
    canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh))
    want = usual(canvas, (40, 40), V1_INPUT, ColourOrder.RGB)
    assert got.tobytes() == want.tobytes()
