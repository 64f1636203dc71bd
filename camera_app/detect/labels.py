"""Label files: plain lists (with a '???'/background placeholder), 'id name' files, metadata."""

from __future__ import annotations

import difflib
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from camera_app._files import read_regular
from camera_app.detect.metadata import ZIP_MEMBERS, ExportMetadata, class_names
from camera_app.errors import LabelsError

MAX_LABELS_BYTES = 4 << 20  # 1000 class names take ~30 KB
PLACEHOLDERS = frozenset({"???", "background", "__background__", "bg", "none", "unlabeled"})
_ID_LINE = re.compile(r"^\s*(\d+)\s*[:,\s]\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Labels:
    """class id (background excluded, as the PostProcess op counts) -> name."""

    names: Mapping[int, str]
    source: str
    offset: int = 0
    exact: bool = False  # the export's own names: their count must equal the head's classes

    def name(self, class_id: int) -> str:
        return self.names.get(class_id, f"class_{class_id}")

    @property
    def count(self) -> int:
        return (max(self.names) + 1) if self.names else 0

    def ids_for(self, wanted: list[str] | tuple[str, ...]) -> frozenset[int]:
        """Class ids for an allow-list of names; unknown names are an error."""
        by_name = self._by_name()
        self.check_names(wanted)
        return frozenset(by_name[w] for w in wanted)

    def check_names(self, wanted: list[str] | tuple[str, ...]) -> None:
        """Raise ``LabelsError`` for names the model never reports, with the nearest known
        name for each (a typo in a config otherwise filters out everything, or makes a Home
        Assistant entity that never changes)."""
        by_name = self._by_name()
        missing = [w for w in wanted if w not in by_name]
        if not missing:
            return
        if not by_name:
            raise LabelsError(
                f"class names {missing} cannot be matched: the model has no labels; set "
                "model.labels (--labels) to a file of one name a line"
            )
        known = sorted(n for n in by_name if n.lower() not in PLACEHOLDERS)
        close = [difflib.get_close_matches(w, known, n=1) for w in missing]
        hint = ", ".join(f"'{c[0]}'" for c in close if c)
        one = len(missing) == 1
        what = f"class name {missing[0]!r} is" if one else f"class names {missing} are"
        tail = f"did you mean {hint}?" if hint else f"known names include {known[:8]}"
        raise LabelsError(f"{what} not in the labels ({self.source}); {tail}")

    def _by_name(self) -> dict[str, int]:
        by_name: dict[str, int] = {}
        for cid, nm in sorted(self.names.items()):
            by_name.setdefault(nm, cid)
        return by_name

    @classmethod
    def none(cls) -> Labels:
        return cls(names={}, source="none (class ids shown as class_N)")


def parse_labels(text: str, source: str, offset: int | None = None) -> Labels:
    """Plain list (one name a line) or 'id name' lines. ``offset`` None = detect."""
    lines = [ln.strip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise LabelsError(f"{source}: the labels file is empty; expected one class name a line")
    matches = [_ID_LINE.match(ln) for ln in lines if ln]
    if all(m is not None for m in matches) and len(matches) > 1:
        shift = offset or 0
        names = {int(m.group(1)) - shift: m.group(2) for m in matches if m is not None}
        return Labels(names=names, source=source, offset=shift)
    if offset is None:
        offset = 1 if lines[0].lower() in PLACEHOLDERS else 0
    names = {i - offset: nm for i, nm in enumerate(lines) if i >= offset}
    return Labels(names=names, source=source, offset=offset)


def labels_from_file(path: Path, offset: int | None = None) -> Labels:
    try:
        text = read_regular(path, MAX_LABELS_BYTES).decode("utf-8")
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read labels: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabelsError(f"{path}: labels file is not UTF-8 text") from exc
    return parse_labels(text, str(path), offset)


def labels_from_metadata(
    model_bytes: bytes, model_name: str, offset: int | None = None
) -> Labels | None:
    """Labels packed in a model's TFLite metadata (the .tflite is also a zip archive)."""
    if b"PK\x03\x04" not in model_bytes:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as zf:
            names = [
                n for n in zf.namelist()
                if n.lower().endswith(".txt") and n not in ZIP_MEMBERS  # not label lists
            ]  # fmt: skip
            names.sort(key=lambda n: (0 if "label" in n.lower() else 1, n))
            if not names:
                return None
            text = zf.read(names[0]).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError, KeyError):
        return None
    return parse_labels(text, f"{model_name} (embedded metadata: {names[0]})", offset)


def find_labels_beside(model_path: Path) -> Path | None:
    """A labels file in the model's folder: labels.txt, labelmap.txt, then any *label*.txt."""
    folder = model_path.parent
    for name in ("labels.txt", "labelmap.txt"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.glob("*.txt") if "label" in p.name.lower())
    return found[0] if found else None


def labels_from_export(meta: ExportMetadata) -> Labels | None:
    """The class names an export's metadata carries (see ``metadata``), if any."""
    if meta.problem:
        raise LabelsError(
            f"{meta.problem}; its class names cannot be read: pass a labels file (--labels or "
            "model.labels)"
        )
    names = class_names(meta)
    if names is None:
        return None
    if isinstance(names, str):
        raise LabelsError(f"{names}; pass a labels file (--labels or model.labels)")
    return Labels(names=names, source=f"{meta.source}: names", exact=True)


def check_fits(labels: Labels, num_classes: int, model: str) -> None:
    """Labels must name at least every class the model scores (an export's own: exactly)."""
    if labels.exact and labels.names and num_classes and labels.count != num_classes:
        raise LabelsError(
            f"labels from {labels.source} name {labels.count} classes but {model} scores "
            f"{num_classes}; the metadata belongs to another export: pass the model's own "
            "labels file (--labels or model.labels)",
        )
    if labels.names and labels.count < num_classes:
        raise LabelsError(
            f"labels from {labels.source} name {labels.count} classes (offset {labels.offset}) "
            f"but {model} scores {num_classes}; use the labels file that came with the model "
            "or set model.label_offset",
        )
