"""Image sizes read from the header, and images refused by size before they are decoded."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app import cli
from camera_app.errors import ImageError
from camera_app.sources.image_size import image_size_wh, read_image

W, H = 37, 23


def picture() -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2] = (0, 0, 255)
    return image


def png_claiming(w: int, h: int) -> bytes:
    """A valid small PNG whose IHDR (CRC fixed up) claims ``w`` x ``h``."""
    ok, data = cv2.imencode(".png", picture())
    assert ok
    raw = bytearray(data.tobytes())
    raw[16:24] = struct.pack(">II", w, h)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    return bytes(raw)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp", ".gif", ".ppm", ".pgm"])
def test_the_header_gives_the_size_opencv_decodes(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"x{ext}"
    image = picture() if ext != ".pgm" else picture()[:, :, 2]
    assert cv2.imwrite(str(path), image)
    with open(path, "rb") as f:
        assert image_size_wh(f) == (W, H)
    assert read_image(str(path), W * H).shape == (H, W, 3)


def test_a_jpeg_with_a_large_exif_segment_first() -> None:
    ok, data = cv2.imencode(".jpg", picture())
    assert ok
    app1 = b"\xff\xe1" + struct.pack(">H", 60_002) + b"\x00" * 60_000
    jpeg = data.tobytes()[:2] + app1 + data.tobytes()[2:]
    assert image_size_wh(io.BytesIO(jpeg)) == (W, H)


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a\x00", b"\x00" * 20, b"\xff\xd8\xff", b"II*\x00\xff\xff\xff\x7f", b"BM"]
)
def test_unknown_or_cut_headers_state_no_size(data: bytes) -> None:
    assert image_size_wh(io.BytesIO(data)) is None


def test_an_image_over_the_limit_is_refused_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(65535, 65535))
    with pytest.raises(ImageError) as info:
        read_image(str(path), 64_000_000)
    assert str(info.value).startswith(f"{path}: the image is 65535x65535 (4294.8 megapixels)")
    path.write_bytes(png_claiming(W, H))
    with pytest.raises(ImageError, match=r"over the limit of 0\.0008"):
        read_image(str(path), W * H - 1)
    assert read_image(str(path), W * H).shape == (H, W, 3)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (png_claiming(65535, 65535), ["65535x65535", "over the limit of 64"]),
        (b"not an image at all", ["cannot read the image size from its header"]),
        (png_claiming(W, H)[:60], ["damaged"]),
        (None, ["cannot read the image", "No such file"]),
    ],
)
def test_detect_says_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, words: list[str]
) -> None:
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["detect", "--model", "blobs_float_raw", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"camera-app: error: {path}: ")
    for word in words:
        assert word in err


def test_detect_takes_a_larger_limit_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.png"
    assert cv2.imwrite(str(path), picture())
    args = ["detect", "--model", "blobs_float_raw", "--max-image-megapixels", "0.0005", str(path)]
    assert cli.main(args) == 2
    assert "over the limit of 0.0005" in capsys.readouterr().err
    assert cli.main([*args[:4], "0.001", str(path)]) == 0
    assert f"{path}: " in capsys.readouterr().out
