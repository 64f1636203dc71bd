"""Reading a model's float scores from the int8 tensor they are dequantized from.

The ST model ends in DEQUANTIZE ops: its 6820 x 81 float scores are an int8 tensor widened.
The loader adds that int8 tensor to the graph outputs (a byte patch of the flatbuffer) and the
decoder thresholds it in the quantized domain. The tests show the patch changes nothing else
(outputs, an appended metadata zip), the route gives the float route's detections exactly, and
every reason to refuse it leaves the model as the file made it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_app.detect import model as model_mod
from camera_app.detect.decode import Thresholds
from camera_app.detect.detector import Detector, DetectorOptions
from camera_app.detect.flatbuffer import subgraph_outputs, with_extra_outputs
from camera_app.detect.graph import GraphInfo, OpInfo, TensorInfo, quantized_source
from camera_app.detect.labels import labels_from_metadata
from camera_app.detect.model import LoadedModel, load_model, new_interpreter
from camera_app.detect.ssd_raw import RawDecoder, RawLayout
from camera_app.runtime import load_runtime
from tests.detect.test_generated_models import BLUE, GREEN, RED, blob_frame
from tests.shared import MODELS, ST, TEST_MODELS, V1_META, need_shared, read_image


def _tflite_files() -> list[Path]:
    files = sorted(TEST_MODELS.glob("*/*.tflite"))
    if MODELS.is_dir():
        files += sorted(MODELS.glob("*/*.tflite"))
    return [f for f in files if b"edgetpu-custom-op" not in f.read_bytes()]


@pytest.mark.parametrize("path", _tflite_files(), ids=lambda p: p.parent.name)
def test_outputs_read_from_the_bytes_are_the_runtimes(path: Path) -> None:
    content = path.read_bytes()
    interp, _ = new_interpreter(content, load_runtime(), 1, str(path))
    assert subgraph_outputs(content) == [int(d["index"]) for d in interp.get_output_details()]


@pytest.mark.parametrize("path", _tflite_files(), ids=lambda p: p.parent.name)
def test_an_added_output_is_what_the_runtime_then_reports(path: Path) -> None:
    content = path.read_bytes()
    runtime = load_runtime()
    interp, ops = new_interpreter(content, runtime, 1, str(path))
    before = [int(d["index"]) for d in interp.get_output_details()]
    inner = next(int(t) for op in ops for t in op["outputs"] if int(t) not in before)
    patched = with_extra_outputs(content, [inner, before[0]])  # an existing one is not repeated
    assert patched[: len(content)].rstrip(b"\0") != content.rstrip(b"\0")  # one offset moved
    again, _ = new_interpreter(patched, runtime, 1, str(path))
    assert [int(d["index"]) for d in again.get_output_details()] == [*before, inner]
    assert subgraph_outputs(patched) == [*before, inner]


def test_the_patch_leaves_an_appended_metadata_zip_readable() -> None:
    need_shared()
    path = next(V1_META.glob("*.tflite"))
    content = path.read_bytes()
    original = labels_from_metadata(content, "v1", None)
    assert original is not None
    assert original.count > 0
    patched = labels_from_metadata(with_extra_outputs(content, [0]), "v1", None)
    assert patched is not None
    assert patched.names == original.names


def test_bytes_that_are_not_a_model_are_refused() -> None:
    with pytest.raises(ValueError, match="TFL3"):
        with_extra_outputs(b"\0" * 64, [1])
    with pytest.raises(ValueError, match="outside"):
        subgraph_outputs(b"\xff\xff\xff\x7fTFL3" + b"\0" * 8)


# -- which float outputs have an int8 source (values only, no runtime) ----------------------


def _graph(src_dtype: str = "int8", src_shape: tuple[int, ...] = (1, 10, 3),
           const: bool = False, op: str = "DEQUANTIZE") -> GraphInfo:  # fmt: skip
    tensors = {
        0: TensorInfo(0, "image", "uint8", (1, 8, 8, 3), 0.5, 0),
        1: TensorInfo(1, "logits", src_dtype, src_shape, 1 / 256, -128),
        2: TensorInfo(2, "scores", "float32", (1, 10, 3)),
    }
    ops = [OpInfo(1, op, (1,), (2,))]
    if not const:
        ops.insert(0, OpInfo(0, "SOFTMAX", (0,), (1,)))
    return GraphInfo((tensors[0],), (tensors[2],), tensors, tuple(ops))


def test_the_int8_source_of_a_dequantized_output_is_found() -> None:
    src = quantized_source(_graph(), 2)
    assert src is not None
    assert src.index == 1


@pytest.mark.parametrize(
    "graph",
    [
        _graph(op="RESHAPE"),  # not a DEQUANTIZE
        _graph(src_shape=(1, 30)),  # reshaped on the way: the layout's indices would not fit
        _graph(src_dtype="int16"),  # not a dtype the decoder thresholds
        _graph(const=True),  # a constant, not computed from the input
    ],
    ids=["not-dequantize", "other-shape", "int16", "constant"],
)
def test_no_source_where_reading_it_would_not_be_the_same(graph: GraphInfo) -> None:
    assert quantized_source(graph, 2) is None


def test_dequantizing_exactly_is_checked_for_every_level() -> None:
    exact = model_mod._dequantize_is_exact
    assert exact(TensorInfo(1, "t", "int8", (1,), 1 / 256, -128))  # softmax/logistic outputs
    # A scale where a float32 product and a double product rounded once differ on some level.
    rng = np.random.default_rng(0)
    differs = [
        s for s in rng.uniform(1e-3, 1.0, 200)
        if not exact(TensorInfo(1, "t", "int8", (1,), float(s), 3))
    ]  # fmt: skip
    assert differs, "every random scale agreed: the check could not fail"


# -- the route on a generated model (no shared files needed) ---------------------------------


def test_a_generated_int8_model_with_float_outputs_takes_the_route() -> None:
    path = str(TEST_MODELS / "blobs_int8_raw_float_out")
    fast = Detector(load_model(path), DetectorOptions())
    plain = Detector(load_model(path, quantized_scores=False), DetectorOptions())
    assert isinstance(fast.model.layout, RawLayout)
    q = fast.model.layout.scores_quantized
    assert q is not None
    assert (q.dtype, q.scale, q.zero_point) == ("int8", 1 / 256, -128)  # a LOGISTIC's output
    assert isinstance(fast.decoder, RawDecoder)
    assert fast.decoder.fmt.quantized
    assert isinstance(plain.decoder, RawDecoder)
    assert not plain.decoder.fmt.quantized
    found = 0
    cells = [{(0, 0): RED, (2, 3): BLUE}, {(1, 2): GREEN}, {}, {(3, 3): RED, (3, 2): GREEN}]
    for frame in (blob_frame(c) for c in cells):
        for t in (0.01, 0.02, 0.1, 0.5, 0.98, 0.99):
            a, b = fast.detect(frame, Thresholds(score=t)), plain.detect(frame, Thresholds(score=t))
            assert a.labels == b.labels, t
            np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)
            np.testing.assert_array_equal(a.scores, b.scores)
            found += len(a)
    assert found > 20  # low thresholds pass background-level scores too: not only empty lists


# -- the route on the ST model ----------------------------------------------------------------


def test_the_st_model_reads_its_int8_scores() -> None:
    need_shared()
    m = load_model(str(ST))
    assert isinstance(m.layout, RawLayout)
    q = m.layout.scores_quantized
    assert q is not None
    assert q.dtype == "int8"
    assert q.shape == m.layout.scores.shape
    assert [t.index for t in m.extra_outputs] == [q.index]
    d = Detector(m, DetectorOptions())
    assert isinstance(d.decoder, RawDecoder)
    assert d.decoder.scores_index == q.index
    assert d.decoder.fmt.quantized
    assert d.reads == {q.index, m.layout.boxes.index}  # the float scores are not even viewed


def test_the_int8_route_gives_the_float_routes_detections() -> None:
    need_shared()
    fast = Detector(load_model(str(ST)), DetectorOptions())
    plain = Detector(load_model(str(ST), quantized_scores=False), DetectorOptions())
    assert isinstance(fast.decoder, RawDecoder)
    assert isinstance(plain.decoder, RawDecoder)
    assert fast.decoder.fmt.quantized
    assert not plain.decoder.fmt.quantized
    compared = 0
    for name in ("kite_and_cold.jpg", "pets.jpg", "face.jpg", "grace_hopper.bmp", "cat.bmp"):
        frame = read_image(name)
        for t in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9):
            a, b = fast.detect(frame, Thresholds(score=t)), plain.detect(frame, Thresholds(score=t))
            assert a.labels == b.labels, (name, t)
            np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)
            np.testing.assert_array_equal(a.scores, b.scores)
            compared += len(a)
    assert compared > 50


def test_in_place_on_the_int8_route_leaves_no_view_behind() -> None:
    need_shared()
    d = Detector(load_model(str(ST)), DetectorOptions())
    frame = read_image("kite_and_cold.jpg")
    x, placement = d.preprocess(frame)
    copied = d.postprocess(d.infer(x), placement)
    for _ in range(2):
        assert d.prepare(frame) == placement
        with d.invoke_in_place() as outputs:
            assert set(outputs) == d.reads
            got = d.postprocess(outputs, placement)
        np.testing.assert_array_equal(got.scores, copied.scores)
    assert len(copied) > 0


def _refused() -> LoadedModel:
    m = load_model(str(ST))
    assert isinstance(m.layout, RawLayout)
    assert m.layout.scores_quantized is None
    assert m.extra_outputs == ()
    d = Detector(m, DetectorOptions())
    assert isinstance(d.decoder, RawDecoder)
    assert not d.decoder.fmt.quantized
    assert len(d.detect(read_image("kite_and_cold.jpg"))) > 0  # and it still detects
    return m


def test_a_failing_patch_keeps_the_float_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    need_shared()

    def broken(content: bytes, tensors: object) -> bytes:
        raise ValueError("the first subgraph has no outputs field to extend")

    monkeypatch.setattr(model_mod, "with_extra_outputs", broken)
    _refused()


def test_a_source_that_does_not_reproduce_the_scores_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_shared()
    real = model_mod.dequantize

    def off_by_one_level(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
        return real(q, scale, zero_point + (1 if q.size > 256 else 0))  # only the probe check

    monkeypatch.setattr(model_mod, "dequantize", off_by_one_level)
    _refused()


def test_an_inexact_dequantize_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    need_shared()
    monkeypatch.setattr(model_mod, "_dequantize_is_exact", lambda t: False)
    _refused()
