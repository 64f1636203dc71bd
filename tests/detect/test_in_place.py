"""Decoding straight from the interpreter's output buffers (what the inference worker does).

The runtime refuses ``invoke()`` while a numpy view of its memory is alive, so the tests show
three things: the in-place path (outputs lent, and the input preprocessed straight into the
input tensor) gives the copy path's detections, nothing it returns keeps a
view (the next ``invoke()`` runs), and the block drops its views even when it raises. The
negative control shows the runtime's refusal is real, so the second check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.detect.detector import Detector, DetectorOptions, load_detector
from tests.detect.test_generated_models import BLUE, DETECTORS, GREEN, RED, blob_frame
from tests.shared import ST, TEST_MODELS, need_shared, read_image


def _same(a: object, b: object) -> None:
    from camera_app.detect.detections import Detections

    assert isinstance(a, Detections)
    assert isinstance(b, Detections)
    assert a.labels == b.labels
    np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)


def _check(d: Detector, frame: np.ndarray) -> None:
    x, placement = d.preprocess(frame)
    copied = d.postprocess(d.infer(x), placement)
    for _ in range(3):  # a view kept from one round would make the next invoke() refuse
        # The worker's way: preprocessed straight into the input tensor, then invoked there.
        d.infer(np.zeros_like(x))  # another input in the tensor first: prepare must replace it
        assert d.prepare(frame) == placement
        with d.model.input_view() as tensor:
            assert tensor.tobytes() == x.tobytes()
        del tensor  # the name outlives the block; the view must not
        with d.invoke_in_place() as outputs:
            views = list(outputs.values())
            in_place = d.postprocess(outputs, placement)
            for arr in (in_place.boxes_xyxy, in_place.scores, in_place.class_ids):
                assert not any(np.shares_memory(arr, v) for v in views)
            del views
        _same(in_place, copied)
    assert len(copied) > 0  # the frames below have objects: the comparison is not of nothing


@pytest.mark.parametrize("name", [n for n, _, _ in DETECTORS])
def test_in_place_gives_the_copy_paths_detections(name: str) -> None:
    d = load_detector(str(TEST_MODELS / name), DetectorOptions(threshold=0.5))
    _check(d, blob_frame({(0, 0): RED, (2, 3): BLUE}))


def test_in_place_on_the_raw_st_model() -> None:
    need_shared()
    d = load_detector(str(ST), DetectorOptions(threshold=0.5))
    _check(d, read_image("kite_and_cold.jpg"))


def test_the_block_drops_its_views_when_it_raises() -> None:
    d = load_detector(str(TEST_MODELS / "blobs_float_raw"))
    frame = blob_frame({(1, 1): GREEN})
    x, _ = d.preprocess(frame)
    d.prepare(frame)

    def fail_inside() -> None:
        with d.invoke_in_place() as outputs:
            assert outputs
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    d.infer(x)  # would raise RuntimeError if a view were still alive


def test_control_a_view_kept_past_the_block_makes_invoke_refuse() -> None:
    d = load_detector(str(TEST_MODELS / "blobs_float_raw"))
    frame = blob_frame({})
    x, _ = d.preprocess(frame)
    d.prepare(frame)
    with d.invoke_in_place() as outputs:
        kept = next(iter(outputs.values()))
    with pytest.raises(RuntimeError, match="reference"):
        d.infer(x)
    del kept
    d.infer(x)
