"""An export's own metadata (class names, task, input size), read as data, never run.

Ultralytics embeds it in the .tflite, which is also a zip archive: ``temp_meta.txt`` (a Python
dict literal: ``ast.literal_eval``) in older exports, ``metadata.json`` in newer ones; an export
folder may hold ``metadata.yaml`` beside the model (the YAML safe loader). Members are read up
to a size limit; anything malformed is recorded as one sentence in ``problem`` and the rest of
the model still loads (a labels file, when there is one, does not need the metadata).
"""

from __future__ import annotations

import ast
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # real metadata is a few KB
ZIP_MEMBERS = ("metadata.json", "temp_meta.txt")  # newest first
BESIDE = "metadata.yaml"


@dataclass(frozen=True)
class ExportMetadata:
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # where it was read from ("" when there is none)
    problem: str = ""  # one sentence when it was there but could not be read

    @property
    def found(self) -> bool:
        return bool(self.source)


def _parse(text: str, member: str) -> Any:
    if member.endswith(".json"):
        return json.loads(text)
    if member.endswith((".yaml", ".yml")):
        return yaml.safe_load(text)
    return ast.literal_eval(text)  # literals only: names, numbers, lists, dicts


def _decode(raw: bytes, source: str, member: str) -> ExportMetadata:
    if len(raw) > MAX_BYTES:
        return ExportMetadata({}, source, f"{source} is larger than {MAX_BYTES} bytes")
    try:
        value = _parse(raw.decode("utf-8"), member)
    except UnicodeDecodeError:
        return ExportMetadata({}, source, f"{source} is not UTF-8 text")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        return ExportMetadata(
            {}, source, f"{source} is not a plain literal dict ({type(exc).__name__}: {first})"
        )
    if not isinstance(value, dict):
        return ExportMetadata({}, source, f"{source} holds a {type(value).__name__}, not a dict")
    return ExportMetadata(value, source)


def _from_zip(content: bytes, where: str) -> ExportMetadata | None:
    if b"PK\x03\x04" not in content:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            for member in ZIP_MEMBERS:
                info = infos.get(member)
                if info is None:
                    continue
                source = f"{where} (embedded {member})"
                if info.file_size > MAX_BYTES:
                    return ExportMetadata({}, source, f"{source} is larger than {MAX_BYTES} bytes")
                with zf.open(info) as f:
                    raw = f.read(MAX_BYTES + 1)  # bounded even if the header lies
                return _decode(raw, source, member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, NotImplementedError, EOFError):
        return None  # not an archive after all (the bytes only looked like one)
    return None


def read_metadata(content: bytes, model_path: Path) -> ExportMetadata:
    """The export's metadata: embedded in the file first, else ``metadata.yaml`` beside."""
    embedded = _from_zip(content, str(model_path))
    if embedded is not None:
        return embedded
    beside = model_path.parent / BESIDE
    if beside.is_file():
        try:
            with beside.open("rb") as f:
                raw = f.read(MAX_BYTES + 1)
        except OSError as exc:
            return ExportMetadata({}, str(beside), f"cannot read {beside}: {exc.strerror or exc}")
        return _decode(raw, str(beside), BESIDE)
    return ExportMetadata()


def class_names(meta: ExportMetadata) -> dict[int, str] | str | None:
    """The ``names`` of the metadata as {id: name}, a sentence saying why not, or None."""
    names = meta.values.get("names")
    if names is None:
        return None
    items: list[tuple[Any, Any]]
    if isinstance(names, dict):
        items = list(names.items())
    elif isinstance(names, list):
        items = list(enumerate(names))
    else:
        return f"{meta.source}: 'names' is a {type(names).__name__}, expected a dict or list"
    out: dict[int, str] = {}
    for key, name in items:
        if isinstance(key, str) and key.isdigit() and len(key) <= 9:
            key = int(key)  # JSON object keys are strings
        if not isinstance(key, int) or isinstance(key, bool) or key < 0:
            return f"{meta.source}: class id {key!r} in 'names' is not a whole number >= 0"
        if not isinstance(name, str) or not name or len(name) > 200:
            return f"{meta.source}: the name of class {key} is not a short string"
        out[key] = name
    if not out:
        return f"{meta.source}: 'names' is empty"
    return out
