"""Known models and ``camera-app models pull``: download, verify sha256, write atomically.

Each known model lists the files that make it up. A file may be a member of an archive (zip)
at the URL; it is verified by its own sha256 after extraction, so a corrupt or tampered
download never lands in the model folder. Sizes are checked as the bytes stream: a download
past ``MAX_DOWNLOAD_BYTES`` and a member unpacking to more than its known size (a zip bomb)
are refused before they are held in memory. ``CAMERA_APP_MODEL_MIRROR`` (a base URL) replaces
the host part of every URL for boxes that pull from a local mirror.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camera_app.errors import UserError
from camera_app.redact import redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name in the model folder
    url: str
    sha256: str
    size_bytes: int  # the file's exact size: extraction stops past it
    member: str | None = None  # path inside a zip archive at `url`


@dataclass(frozen=True)
class KnownModel:
    name: str
    description: str
    licence: str
    files: tuple[ModelFile, ...]


_V1_ZIP = (
    "https://storage.googleapis.com/download.tensorflow.org/models/tflite/"
    "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.zip"
)

KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in [
        KnownModel(
            name="ssd_mobilenet_v1_coco_quant",
            description="SSD MobileNet v1, COCO, uint8, in-graph PostProcess (detect.tflite)",
            licence="Apache-2.0",
            files=(
                ModelFile(
                    "ssd_mobilenet_v1_1_default_1.tflite",
                    _V1_ZIP,
                    "e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13",
                    4_183_312,
                    member="detect.tflite",
                ),
                ModelFile(
                    "labelmap.txt",
                    _V1_ZIP,
                    "c7e79c855f73cbba9f33d649d60e1676eb0a974021a41696d1ac0d4b7f7e0211",
                    665,
                    member="labelmap.txt",
                ),
            ),
        ),
    ]
}

DEFAULT_MODEL = "ssd_mobilenet_v1_coco_quant"
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
"""A download (an archive) larger than this is refused as it streams."""


class PullError(UserError):
    """A download that failed or did not verify."""


def _mirrored(url: str) -> str:
    mirror = os.environ.get("CAMERA_APP_MODEL_MIRROR")
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def _download(url: str, progress: Callable[[int, int | None], None], timeout_s: float) -> bytes:
    shown = redact_url(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (https/http only)
            total = resp.headers.get("Content-Length")
            size = int(total) if total and total.isdigit() else None
            if size is not None and size > MAX_DOWNLOAD_BYTES:
                raise PullError(f"{shown} is {size} bytes, more than a model download may be "
                                f"({MAX_DOWNLOAD_BYTES} bytes); refused")  # fmt: skip
            buf = io.BytesIO()
            while chunk := resp.read(1 << 16):
                buf.write(chunk)
                if buf.tell() > MAX_DOWNLOAD_BYTES:
                    raise PullError(f"{shown} sent more than {MAX_DOWNLOAD_BYTES} bytes; refused")
                progress(buf.tell(), size)
            return buf.getvalue()
    except urllib.error.HTTPError as exc:
        raise PullError(f"download of {shown} failed: HTTP {exc.code} {exc.reason}") from exc
    except (http.client.InvalidURL, ValueError):  # the message quotes the URL's host part
        raise PullError(
            f"download of {shown} failed: not a URL urllib can fetch (credentials in it, a "
            "space, a bad port); check CAMERA_APP_MODEL_MIRROR"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PullError(
            f"download of {shown} failed: {reason}; check the network, set "
            "CAMERA_APP_MODEL_MIRROR, or point CAMERA_APP_MODEL_PATH at a folder that has "
            "the model (README: Models)"
        ) from exc


def _extract(archive: bytes, name: str, size_bytes: int, shown: str) -> bytes:
    """Member ``name`` of a zip, read in chunks and refused once past ``size_bytes``: the size
    the member declares is checked first, then what it really unpacks to as it streams."""
    too_big = (f"{name} in {shown} unpacks to more than {size_bytes} bytes, the size of the "
               "known file; refused (a damaged archive or a zip bomb)")  # fmt: skip
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            info = zf.getinfo(name)
            if info.file_size > size_bytes:
                raise PullError(too_big)
            out = io.BytesIO()
            with zf.open(info) as member:
                while chunk := member.read(1 << 16):
                    out.write(chunk)
                    if out.tell() > size_bytes:
                        raise PullError(too_big)
            return out.getvalue()
    except (zipfile.BadZipFile, KeyError, NotImplementedError, EOFError) as exc:
        raise PullError(f"{shown} is not a zip archive holding {name}: {exc}") from exc


def pull(
    name: str,
    dest_root: Path,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    timeout_s: float = 60.0,
) -> Path:
    """Download ``name`` into ``dest_root/name`` and return that folder. A pull that fails
    leaves no folder it made behind: an empty or half-filled one would be found as the model
    and refused for a missing file, instead of "not found"."""
    model = KNOWN_MODELS.get(name)
    if model is None:
        raise PullError(f"unknown model {name!r}; known models: {', '.join(sorted(KNOWN_MODELS))}")
    folder = dest_root / name
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _pull_into(folder, model, progress, timeout_s)
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _pull_into(
    folder: Path,
    model: KnownModel,
    progress: Callable[[str, int, int | None], None] | None,
    timeout_s: float,
) -> None:
    cache: dict[str, bytes] = {}
    for f in model.files:
        target = folder / f.name
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == f.sha256:
            log.info("model file already present and verified file=%s", target)
            continue
        url = _mirrored(f.url)
        if url not in cache:
            shown = redact_url(url)

            def report(done: int, total: int | None, shown: str = shown) -> None:
                if progress is not None:
                    progress(shown, done, total)

            cache[url] = _download(url, report, timeout_s)
        data = cache[url]
        if f.member is not None:
            data = _extract(data, f.member, f.size_bytes, redact_url(url))
        elif len(data) != f.size_bytes:
            raise PullError(
                f"{f.name} from {redact_url(url)} is {len(data)} bytes, expected {f.size_bytes}; "
                "nothing was written"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != f.sha256:
            raise PullError(
                f"checksum mismatch for {f.name} from {redact_url(url)}: expected sha256 "
                f"{f.sha256}, got {digest}; nothing was written"
            )
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{f.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        log.info("model file written file=%s sha256=%s", target, digest)
