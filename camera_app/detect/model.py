"""Find a model, check it, and read its graph. The only detect module that holds an interpreter.

``load_model`` turns a path, folder or name into a checked ``LoadedModel``: a runnable
interpreter, a plain ``GraphInfo``, the input spec and the recognised output layout. Every way a
model can be unusable becomes one ``ModelError`` sentence, raised before the first frame.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from camera_app.detect.families import recognise
from camera_app.detect.family import Layout, ModelView
from camera_app.detect.flatbuffer import with_extra_outputs
from camera_app.detect.graph import GraphInfo, OpInfo, TensorInfo, quantized_source
from camera_app.detect.layout import Probe
from camera_app.detect.metadata import ExportMetadata, read_metadata
from camera_app.detect.quantization import dequantize
from camera_app.errors import (
    EdgeTPUModelError,
    ModelError,
    ModelNotFoundError,
    UnsupportedInputError,
)
from camera_app.runtime import Runtime, load_runtime, runtime_notices_dropped

log = logging.getLogger(__name__)

SYSTEM_MODEL_DIR = Path("/var/cache/camera-app/models")
FEEDABLE_INPUTS = ("uint8", "int8", "float32")


def user_model_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "camera-app" / "models"


def model_search_path() -> list[Path]:
    """$CAMERA_APP_MODEL_PATH (colon-separated), then the user's cache, then the system dir."""
    env = os.environ.get("CAMERA_APP_MODEL_PATH", "")
    dirs = [Path(p) for p in env.split(os.pathsep) if p]
    return [*dirs, user_model_dir(), SYSTEM_MODEL_DIR]


def _single_tflite(folder: Path) -> Path:
    found = sorted(folder.glob("*.tflite"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelNotFoundError(f"no .tflite file in the model folder {folder}")
    names = ", ".join(p.name for p in found)
    raise ModelError(
        f"the model folder {folder} holds {len(found)} .tflite files ({names}); "
        "pass the file itself with --model"
    )


def resolve_model(spec: str, search_path: Sequence[Path] | None = None) -> Path:
    """A .tflite path, a model folder, or a model name looked up in the search path."""
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        return _single_tflite(p)
    dirs = list(search_path) if search_path is not None else model_search_path()
    looks_like_path = os.sep in spec or spec.endswith(".tflite")
    if not looks_like_path:
        for d in dirs:
            if (d / spec).is_dir():
                return _single_tflite(d / spec)
            if (d / f"{spec}.tflite").is_file():
                return d / f"{spec}.tflite"
    where = ", ".join(str(d) for d in dirs)
    raise ModelNotFoundError(
        f"model {spec!r} not found: it is not a file or folder"
        + ("" if looks_like_path else f", and no model of that name is in {where}")
        + "; give a .tflite path, `camera-app models pull NAME`, or set CAMERA_APP_MODEL_PATH"
    )


def read_model_bytes(path: Path) -> bytes:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError(
            f"{path} is not a TFLite flatbuffer (expected the identifier 'TFL3' at byte 4, "
            f"found {content[4:8]!r} in a file of {len(content)} bytes); "
            "convert the model with the TFLite converter",
        )
    if b"edgetpu-custom-op" in content:
        raise EdgeTPUModelError(
            f"{path} is compiled for the Edge TPU (it contains the op 'edgetpu-custom-op'), "
            "which runs only with the Edge TPU delegate; use the CPU build of the same model "
            "(the file without '_edgetpu')",
        )
    return content


def _tensor(d: dict[str, Any]) -> TensorInfo:
    scale, zp = d.get("quantization", (0.0, 0))
    return TensorInfo(
        index=int(d["index"]),
        name=str(d["name"]),
        dtype=np.dtype(d["dtype"]).name,
        shape=tuple(int(v) for v in d["shape"]),
        scale=float(scale),
        zero_point=int(zp),
    )


def read_graph(interpreter: Any, ops: list[dict[str, Any]]) -> GraphInfo:
    """A GraphInfo from an interpreter (after allocate_tensors) and its op list."""
    tensors = {t.index: t for t in (_tensor(d) for d in interpreter.get_tensor_details())}
    sig_out: dict[int, str] = {}
    try:
        for sig in interpreter._get_full_signature_list().values():
            for name, idx in sig.get("outputs", {}).items():
                sig_out[int(idx)] = str(name)
    except AttributeError:  # older runtimes have no full signature list
        pass
    op_infos = tuple(
        OpInfo(
            index=int(o["index"]),
            name=str(o["op_name"]),
            inputs=tuple(int(i) for i in o["inputs"]),
            outputs=tuple(int(i) for i in o["outputs"]),
        )
        for o in ops
        if o["op_name"] != "DELEGATE"
    )
    return GraphInfo(
        inputs=tuple(_tensor(d) for d in interpreter.get_input_details()),
        outputs=tuple(_tensor(d) for d in interpreter.get_output_details()),
        tensors=tensors,
        ops=op_infos,
        signature_outputs=sig_out,
    )


def check_input(graph: GraphInfo, model: str) -> TensorInfo:
    """The single image input [1, H, W, 3] of a dtype we can feed, or a clear error."""
    if len(graph.inputs) != 1:
        seen = "; ".join(t.describe() for t in graph.inputs)
        raise UnsupportedInputError(
            f"the model has {len(graph.inputs)} inputs ({seen}); camera_app feeds exactly one "
            "image input [1, height, width, 3]",
            model=model,
        )
    t = graph.inputs[0]
    if len(t.shape) != 4 or t.shape[0] != 1 or t.shape[3] != 3:
        raise UnsupportedInputError(
            f"input {t.describe()} is not an image tensor; expected [1, height, width, 3] (NHWC)",
            model=model,
        )
    if t.dtype not in FEEDABLE_INPUTS:
        raise UnsupportedInputError(
            f"input {t.describe()} has dtype {t.dtype}; the pipeline feeds uint8, int8 or "
            "float32 inputs; re-export the model with inference_input_type=tf.uint8 or tf.int8 "
            "(or float32)",
            model=model,
        )
    if t.dtype != "float32" and not t.quantized:
        raise UnsupportedInputError(
            f"input {t.describe()} is {t.dtype} but has no quantization scale; expected the "
            "scale and zero point the converter writes for quantized inputs",
            model=model,
        )
    return t


@dataclass
class LoadedModel:
    path: Path
    content: bytes
    runtime: Runtime
    interpreter: Any
    graph: GraphInfo
    input: TensorInfo
    layout: Layout
    probes: list[Probe]
    threads: int
    metadata: ExportMetadata = field(default_factory=ExportMetadata)

    @property
    def extra_outputs(self) -> tuple[TensorInfo, ...]:
        """Tensors the loader made graph outputs besides the file's own (read like outputs):
        the int8 source of float scores (see ``expose_quantized_scores``), if any."""
        return self.layout.extra_outputs

    @property
    def name(self) -> str:
        return self.path.parent.name if self.path.parent.name else self.path.stem

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input.shape[1], self.input.shape[2]

    def run(self, model_input: npt.NDArray[np.generic]) -> dict[int, npt.NDArray[np.generic]]:
        """Set the input, invoke, and copy out every output by tensor index."""
        return run_interpreter(self.interpreter, self.graph, model_input, self.extra_outputs)

    @contextmanager
    def input_view(self) -> Iterator[npt.NDArray[np.generic]]:
        """The interpreter's input buffer, to write the next input into, for the block only
        (like the output views: no reference may outlive it, or ``invoke()`` refuses)."""
        view = self._input_reader()
        try:
            yield view
        finally:
            del view

    @functools.cached_property
    def _input_reader(self) -> Callable[[], npt.NDArray[np.generic]]:
        reader: Callable[[], npt.NDArray[np.generic]] = self.interpreter.tensor(self.input.index)
        return reader

    @contextmanager
    def invoke_in_place(
        self, only: Collection[int] | None = None
    ) -> Iterator[dict[int, npt.NDArray[np.generic]]]:
        """``invoke()`` on the input already in the buffer (``input_view``), then lend the
        interpreter's own output buffers for the block: no copy (2.2 MB a frame for a raw model
        with 6820 anchors x 81 classes). Nothing derived from the views may keep one past the
        block, or the next ``invoke()`` refuses; they are dropped on the way out, also when it
        raises. ``only``: the output indices to lend (a view costs a runtime call each)."""
        self.interpreter.invoke()
        with self.output_views(only) as views:
            yield views

    @functools.cached_property
    def _output_readers(self) -> list[tuple[int, Callable[[], npt.NDArray[np.generic]]]]:
        """Per output, the runtime's function that makes a view of its buffer (safe to keep)."""
        outputs = self.graph.outputs + self.extra_outputs
        return [(t.index, self.interpreter.tensor(t.index)) for t in outputs]

    @contextmanager
    def output_views(
        self, only: Collection[int] | None = None
    ) -> Iterator[dict[int, npt.NDArray[np.generic]]]:
        """The last ``invoke()``'s outputs as views of the interpreter's buffers, for the block."""
        views = {
            index: view() for index, view in self._output_readers if only is None or index in only
        }
        try:
            yield views
        finally:
            views.clear()


def run_interpreter(
    interpreter: Any,
    graph: GraphInfo,
    model_input: npt.NDArray[np.generic],
    extra: Sequence[TensorInfo] = (),
) -> dict[int, npt.NDArray[np.generic]]:
    interpreter.set_tensor(graph.inputs[0].index, model_input)
    interpreter.invoke()
    return {t.index: interpreter.get_tensor(t.index) for t in (*graph.outputs, *extra)}


def _probe_inputs(t: TensorInfo) -> list[npt.NDArray[np.generic]]:
    """Two different, valid inputs (mid-grey and a fixed noise pattern) for probe runs."""
    shape = t.shape
    rng = np.random.default_rng(0)
    if t.dtype == "float32":
        return [np.zeros(shape, np.float32), rng.uniform(-1, 1, shape).astype(np.float32)]
    info = np.iinfo(np.dtype(t.dtype))
    mid = np.full(shape, t.zero_point, dtype=t.dtype)
    noise = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(t.dtype)
    return [mid, noise]


def new_interpreter(
    content: bytes, runtime: Runtime, threads: int, where: str, **kw: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """An allocated interpreter and its op list as read before delegation."""
    interp = runtime.interpreter(content, num_threads=threads, where=where, **kw)
    try:
        ops = list(interp._get_ops_details())
    except AttributeError:  # very old runtimes: the layout falls back to names and shapes
        ops = []
    try:
        with runtime_notices_dropped():  # the XNNPACK delegate's INFO line on fd 2
            interp.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"the {runtime.name} runtime cannot prepare the model: {first}", model=where
        ) from exc
    return interp, ops


def _dequantize_is_exact(t: TensorInfo) -> bool:
    """Whether every level of ``t`` dequantizes to the same float32 whether a kernel
    multiplies in float32 (as ``dequantize`` does) or in double and rounds once."""
    info = np.iinfo(np.dtype(t.dtype))
    levels = np.arange(info.min, info.max + 1)
    in_double = ((levels - t.zero_point) * np.float64(t.scale)).astype(np.float32)
    return bool(np.array_equal(dequantize(levels, t.scale, t.zero_point), in_double))


def expose_quantized_scores(model: LoadedModel) -> LoadedModel:
    """The model reading its raw scores before their final DEQUANTIZE, when that is exact.

    A quantized model often ends in DEQUANTIZE ops that turn int8 scores into float32 ones
    (the ST model: 6820 x 81 scores, 2.2 MB of float32 per frame from 552 KB of int8; the
    float-I/O YOLOv8n: its whole [1, 84, 8400] head). The
    loader then adds the int8 tensor to the graph outputs (``flatbuffer.with_extra_outputs``)
    so the threshold runs on it in the quantized domain. Used only when both probe runs give
    bit-identical original outputs and the DEQUANTIZE of the int8 tensor equals the float
    scores, and dequantizing is exact for every level (see ``_dequantize_is_exact``);
    otherwise the model is returned unchanged.
    """
    layout = model.layout
    scores = layout.float_output
    if scores is None:
        return model
    src = quantized_source(model.graph, scores.index)
    if src is None:
        return model
    where = str(model.path)
    if not _dequantize_is_exact(src):
        log.info("model %s: float scores kept (%s does not dequantize exactly)", where, src.name)
        return model
    try:
        content = with_extra_outputs(model.content, [src.index])
        interp, _ = new_interpreter(content, model.runtime, model.threads, where)
        probes: list[Probe] = [
            run_interpreter(interp, model.graph, x, (src,)) for x in _probe_inputs(model.input)
        ]
    except (ValueError, RuntimeError, ModelError) as exc:
        log.info("model %s: float scores kept (exposing %s failed: %s)", where, src.name, exc)
        return model
    same = all(
        np.array_equal(before[t.index], after[t.index])
        for before, after in zip(model.probes, probes, strict=True)
        for t in model.graph.outputs
    ) and all(
        np.array_equal(dequantize(p[src.index], src.scale, src.zero_point), p[scores.index])
        for p in probes
    )
    if not same:
        log.info("model %s: float scores kept (%s does not reproduce them)", where, src.name)
        return model
    return replace(
        model,
        interpreter=interp,
        layout=layout.with_source(src),
        probes=probes,
    )


def load_model(
    spec: str,
    *,
    threads: int = 2,
    runtime: Runtime | None = None,
    search_path: Sequence[Path] | None = None,
    quantized_scores: bool = True,
) -> LoadedModel:
    path = resolve_model(spec, search_path)
    content = read_model_bytes(path)
    rt = runtime or load_runtime()
    where = str(path)
    interp, ops = new_interpreter(content, rt, threads, where)
    graph = read_graph(interp, ops)
    inp = check_input(graph, where)
    try:
        probes: list[Probe] = [run_interpreter(interp, graph, x) for x in _probe_inputs(inp)]
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"the model failed its first run: {exc}", model=where) from exc
    meta = read_metadata(content, path)
    layout = recognise(ModelView(graph, probes, inp, meta.values), model=where)
    model = LoadedModel(path, content, rt, interp, graph, inp, layout, probes, threads, meta)
    if quantized_scores:
        model = expose_quantized_scores(model)
    added = ",".join(f"{t.name}({t.dtype})" for t in model.extra_outputs) or "none"
    log.info(
        "model loaded path=%s runtime=%s/%s threads=%d input=%s family=%s added_outputs=%s",
        path, rt.name, rt.version, threads, inp.describe(), layout.family, added,
    )  # fmt: skip
    return model
