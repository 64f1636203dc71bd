"""An image file's width and height read from its header, before anything is decoded.

A small file can claim a huge image: a 389 KB PNG decodes to 2.4 GB, and a header saying
65535x65535 makes OpenCV raise deep inside ``imread``. So ``read_image`` reads the size from
the header (JPEG, PNG, BMP, TIFF, WebP, GIF, PNM), refuses an image over the pixel limit with one
clear error, and only then decodes. Parsing is plain byte arithmetic on at most a few KB per
JPEG segment; nothing in the file is trusted beyond the numbers it states.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

import cv2
import numpy as np

from camera_app._files import open_regular
from camera_app.errors import ImageError
from camera_app.sources.base import ImageBGR

FORMATS = "JPEG, PNG, BMP, TIFF, WebP, GIF or PNM"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})
# A file larger than this for its header's size is not that image (16-bit RGBA TIFF: 8 bytes
# a pixel; EXIF, ICC profiles and a second picture of an MPO fit in the rest).
_MAX_BYTES_PER_PIXEL = 16
_SLACK_BYTES = 1 << 20
_PNM = re.compile(rb"P[1-6](?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)")


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        byte = f.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            marker = f.read(1)
            if marker != b"\xff":
                break
        else:
            return None
        if not marker:
            return None
        code = marker[0]
        if code in _JPEG_NO_LENGTH:
            continue
        head = f.read(2)
        if len(head) < 2:
            return None
        (length,) = struct.unpack(">H", head)
        if code in _JPEG_SOF:
            sof = f.read(5)
            if len(sof) < 5:
                return None
            height, width = struct.unpack(">HH", sof[1:5])
            return width, height
        if length < 2:
            return None
        f.seek(length - 2, 1)


def _tiff_size(head: bytes, f: BinaryIO) -> tuple[int, int] | None:
    order = "<" if head[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", head[4:8])
    f.seek(ifd)
    raw = f.read(2)
    if len(raw) < 2:
        return None
    (count,) = struct.unpack(order + "H", raw)
    entries = f.read(12 * min(count, 4096))
    found: dict[int, int] = {}
    for i in range(len(entries) // 12):
        tag, kind, _, value = struct.unpack(order + "HHI4s", entries[12 * i : 12 * i + 12])
        if tag in (256, 257) and kind in (3, 4):
            short = kind == 3  # SHORT: the first 2 of the 4 value bytes; LONG: all 4
            found[tag] = struct.unpack(
                order + ("H" if short else "I"), value[:2] if short else value
            )[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and head[20:21] == b"\x2f":
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    return None


def image_size_wh(f: BinaryIO) -> tuple[int, int] | None:
    """(width, height) the header of the open file states, or None when it states none."""
    head = f.read(64)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(f)
    if head.startswith(b"BM") and len(head) >= 26:
        if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
            w, h = struct.unpack("<HH", head[18:22])
            return int(w), int(h)
        w, h = struct.unpack("<ii", head[18:26])
        return abs(int(w)), abs(int(h))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(head, f)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return int(w), int(h)
    match = _PNM.match(head)
    if match:
        return int(match.group(1)), int(match.group(2))
    return None


def read_image(path: str, max_pixels: int) -> ImageBGR:
    """Decode the image at ``path`` as BGR after its header passed the size limit.

    Raises ImageError (one line naming the file) for a missing file, an unknown or damaged
    header, an image over ``max_pixels``, or data OpenCV cannot decode.
    """
    try:
        with open_regular(path) as f:  # a pipe would block, a device never end
            size = image_size_wh(f)
            if size is None:
                raise ImageError(
                    f"{path}: cannot read the image size from its header (expected {FORMATS})"
                )
            w, h = size
            if w * h > max_pixels:
                raise ImageError(
                    f"{path}: the image is {w}x{h} ({w * h / 1e6:.1f} megapixels), over the "
                    f"limit of {max_pixels / 1e6:g}; raise the limit if it is meant to be "
                    "that large"
                )
            f.seek(0)
            limit = _MAX_BYTES_PER_PIXEL * w * h + _SLACK_BYTES
            data = f.read(limit + 1)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the image ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise ImageError(
            f"{path}: the file is larger than {limit >> 20} MiB, more than a {w}x{h} image "
            "can hold; is it an image?"
        )
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageError(f"{path}: OpenCV cannot decode the image ({FORMATS})") from exc
    if decoded is None or decoded.size == 0:
        raise ImageError(f"{path}: the image data is damaged or not {FORMATS}")
    return np.asarray(decoded, dtype=np.uint8)
