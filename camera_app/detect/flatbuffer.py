"""Read and patch the few fields of a TFLite flatbuffer we need (bytes only, no runtime).

The only edit is adding graph outputs to the first subgraph: a new int32 vector is appended
to the file and the subgraph's ``outputs`` offset is pointed at it. Nothing else moves, so
buffers, metadata and an appended zip of associated files stay where they were; the runtime's
own verifier checks the result when it loads it.

Field numbers are the TFLite schema's (schema.fbs): Model.subgraphs is field 2,
SubGraph.outputs is field 2. A flatbuffer table starts with a signed offset back to its
vtable; the vtable lists, per field, the field's offset inside the table (0 = absent); an
offset field holds an unsigned distance forward from itself to its target.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_MODEL_SUBGRAPHS = 2
_SUBGRAPH_OUTPUTS = 2


def _read(fmt: str, buf: bytes | bytearray, pos: int) -> int:
    if pos < 0 or pos + struct.calcsize(fmt) > len(buf):
        raise ValueError(f"offset {pos} is outside the {len(buf)}-byte flatbuffer")
    return int(struct.unpack_from(fmt, buf, pos)[0])


def _u32(buf: bytes | bytearray, pos: int) -> int:
    return _read("<I", buf, pos)


def _field(buf: bytes | bytearray, table: int, field: int) -> int:
    """Absolute position of ``field`` inside the table at ``table``, or 0 when absent."""
    vtable = table - _read("<i", buf, table)
    vt_size = _read("<H", buf, vtable)
    slot = 4 + 2 * field
    if slot + 2 > vt_size:
        return 0
    off = _read("<H", buf, vtable + slot)
    return table + off if off else 0


def _deref(buf: bytes | bytearray, pos: int) -> int:
    return pos + _u32(buf, pos)


def _outputs_field(buf: bytes | bytearray) -> int:
    """Position of the first subgraph's ``outputs`` offset field."""
    if len(buf) < 8 or bytes(buf[4:8]) != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no 'TFL3' identifier)")
    model = _deref(buf, 0)
    subgraphs_at = _field(buf, model, _MODEL_SUBGRAPHS)
    if not subgraphs_at:
        raise ValueError("the model has no subgraphs")
    subgraphs = _deref(buf, subgraphs_at)
    if _u32(buf, subgraphs) < 1:
        raise ValueError("the model has no subgraphs")
    first = _deref(buf, subgraphs + 4)
    at = _field(buf, first, _SUBGRAPH_OUTPUTS)
    if not at:
        raise ValueError("the first subgraph has no outputs field to extend")
    return at


def subgraph_outputs(content: bytes) -> list[int]:
    """Tensor indices of the first subgraph's outputs, in order."""
    vec = _deref(content, _outputs_field(content))
    n = _u32(content, vec)
    if vec + 4 + 4 * n > len(content):
        raise ValueError("the outputs vector runs past the end of the flatbuffer")
    return list(struct.unpack_from(f"<{n}i", content, vec + 4))


def with_extra_outputs(content: bytes, tensors: Sequence[int]) -> bytes:
    """The same model with ``tensors`` appended to the first subgraph's outputs."""
    field_at = _outputs_field(content)
    current = subgraph_outputs(content)
    added = [t for t in tensors if t not in current]
    out = bytearray(content)
    out.extend(b"\0" * (-len(out) % 4))  # int32 vectors are 4-byte aligned
    vec = len(out)
    values = current + added
    out.extend(struct.pack(f"<I{len(values)}i", len(values), *values))
    if vec - field_at >= 2**31:
        raise ValueError("the model is too large to extend in place")
    struct.pack_into("<I", out, field_at, vec - field_at)
    return bytes(out)
