"""A plain description of a TFLite graph (tensors, ops) and analyses on it (numpy only).

``model.read_graph`` fills these from an interpreter; everything here works on the values,
so it is tested without LiteRT.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

INTEGER_DTYPES = frozenset({"uint8", "int8", "int16", "int32", "int64"})
_PASSTHROUGH = frozenset(
    {"RESHAPE", "CONCATENATION", "SQUEEZE", "QUANTIZE", "DEQUANTIZE", "EXPAND_DIMS", "IDENTITY"}
)
_QRANGE = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767)}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.dtype in _QRANGE and self.scale > 0

    def real_range(self) -> tuple[float, float] | None:
        """The real values a quantized tensor can represent."""
        if not self.quantized:
            return None
        lo, hi = _QRANGE[self.dtype]
        return self.scale * (lo - self.zero_point), self.scale * (hi - self.zero_point)

    def describe(self) -> str:
        q = f" scale={self.scale:.6g} zero_point={self.zero_point}" if self.quantized else ""
        return f"'{self.name}' {self.dtype}{list(self.shape)}{q}"


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class GraphInfo:
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    tensors: Mapping[int, TensorInfo]
    ops: tuple[OpInfo, ...]
    signature_outputs: Mapping[int, str] = field(default_factory=dict)

    def producer(self, tensor: int) -> OpInfo | None:
        for op in self.ops:
            if tensor in op.outputs:
                return op
        return None

    def hint_name(self, t: TensorInfo) -> str:
        """Signature output name when there is one (more meaningful), else the tensor name."""
        return self.signature_outputs.get(t.index, t.name)

    def walk_back(
        self, tensor: int, through: Callable[[OpInfo], Iterable[int]]
    ) -> Iterator[OpInfo]:
        """The ops met walking from ``tensor`` back through producers, each tensor once;
        ``through(op)`` names the inputs of ``op`` the walk goes on to (-1: no tensor)."""
        seen: set[int] = set()
        frontier = [tensor]
        while frontier:
            t = frontier.pop()
            if t in seen:
                continue
            seen.add(t)
            op = self.producer(t)
            if op is None:
                continue
            yield op
            frontier.extend(i for i in through(op) if i >= 0)

    def find_activation(self, tensor: int) -> OpInfo | None:
        """The LOGISTIC/SOFTMAX op behind ``tensor``, looking through reshapes and requantizes."""
        for op in self.walk_back(tensor, lambda op: op.inputs if op.name in _PASSTHROUGH else ()):
            if op.name in ("LOGISTIC", "SOFTMAX"):
                return op
        return None


@dataclass(frozen=True)
class ScoreCap:
    cap: float
    op: OpInfo
    logit_tensor: TensorInfo

    def explain(self) -> str:
        lo_hi = self.logit_tensor.real_range()
        hi = lo_hi[1] if lo_hi else float("nan")
        return (
            f"scores cannot exceed {self.cap:.3f}: the input of {self.op.name} "
            f"(op {self.op.index}, tensor {self.logit_tensor.describe()}) is quantized to at "
            f"most {hi:.3f}; a threshold above {self.cap:.3f} never matches"
        )


def quantized_source(graph: GraphInfo, tensor: int) -> TensorInfo | None:
    """The int8/uint8 tensor that ``tensor`` is the DEQUANTIZE of, shape for shape, if any.

    Such a float output carries nothing its source does not; reading the source instead is
    four times less memory per frame, and a threshold on it needs no float at all.
    """
    out = graph.tensors.get(tensor)
    op = graph.producer(tensor)
    if out is None or out.dtype != "float32" or op is None or op.name != "DEQUANTIZE":
        return None
    if len(op.inputs) != 1 or _is_constant(graph, op.inputs[0]):
        return None
    src = graph.tensors.get(op.inputs[0])
    if src is None or src.dtype not in ("int8", "uint8") or not src.quantized:
        return None
    return src if src.shape == out.shape else None


def score_cap(graph: GraphInfo, scores_tensor: int) -> ScoreCap | None:
    """The highest score a quantized sigmoid can produce, if its input range limits it."""
    op = graph.find_activation(scores_tensor)
    if op is None or op.name != "LOGISTIC" or not op.inputs:
        return None
    logits = graph.tensors.get(op.inputs[0])
    if logits is None or (rng := logits.real_range()) is None:
        return None
    return ScoreCap(cap=1.0 / (1.0 + math.exp(-rng[1])), op=op, logit_tensor=logits)


@dataclass(frozen=True)
class FloatIsland:
    """Float ops between DEQUANTIZE and QUANTIZE inside a quantized graph."""

    dequantize_ops: tuple[OpInfo, ...]
    float_ops: tuple[OpInfo, ...]
    quantize_op: OpInfo

    def explain(self, graph: GraphInfo) -> str:
        body = ", ".join(f"{op.name}#{op.index}" for op in self.float_ops)
        src = ", ".join(graph.tensors[op.inputs[0]].name for op in self.dequantize_ops if op.inputs)
        return (
            f"float island: DEQUANTIZE({src}) -> {body} -> QUANTIZE#{self.quantize_op.index}; "
            "these ops run in float32 between quantized ops (slower, and a sign the quantizer "
            "could not convert them)"
        )


def _is_constant(graph: GraphInfo, tensor: int) -> bool:
    return graph.producer(tensor) is None and tensor not in {t.index for t in graph.inputs}


def _float_inputs(graph: GraphInfo, op: OpInfo) -> list[int]:
    """The float32 inputs of ``op``; none for a DEQUANTIZE, where a float island begins."""
    if op.name == "DEQUANTIZE":
        return []
    return [i for i in op.inputs if (t := graph.tensors.get(i)) and t.dtype == "float32"]


def float_islands(graph: GraphInfo) -> list[FloatIsland]:
    """Every QUANTIZE fed (through float ops) by DEQUANTIZE of a quantized activation."""
    islands: list[FloatIsland] = []
    for q in graph.ops:
        if q.name != "QUANTIZE" or not q.inputs:
            continue
        src = graph.tensors.get(q.inputs[0])
        if src is None or src.dtype != "float32":
            continue
        float_ops: dict[int, OpInfo] = {}
        dequants: dict[int, OpInfo] = {}
        for op in graph.walk_back(q.inputs[0], lambda op: _float_inputs(graph, op)):
            if op.name != "DEQUANTIZE":
                float_ops[op.index] = op
            elif op.inputs and not _is_constant(graph, op.inputs[0]):
                dequants[op.index] = op
        if dequants and float_ops:
            islands.append(
                FloatIsland(
                    dequantize_ops=tuple(sorted(dequants.values(), key=lambda o: o.index)),
                    float_ops=tuple(sorted(float_ops.values(), key=lambda o: o.index)),
                    quantize_op=q,
                )
            )
    return islands


def custom_ops(graph: GraphInfo) -> list[str]:
    """Names of ops that are not TFLite builtins (builtins are upper-case by convention)."""
    return sorted({op.name for op in graph.ops if not op.name.isupper() or "-" in op.name})
