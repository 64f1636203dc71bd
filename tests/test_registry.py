"""`camera-app models pull` against a real HTTP server on loopback."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import struct
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app import registry
from camera_app.registry import KNOWN_MODELS, PullError, pull
from tests.shared import MODELS, need_shared


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 5
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=5)


def _archive(root: Path, *, corrupt: bool = False) -> None:
    """The v1 model archive as its upstream zip lays it out, from the shared copy."""
    need_shared()
    v1 = MODELS / "ssd_mobilenet_v1_coco_quant"
    model = (v1 / "ssd_mobilenet_v1_1_default_1.tflite").read_bytes()
    if corrupt:
        model = model[:-1] + bytes([model[-1] ^ 0xFF])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("detect.tflite", model)
        zf.writestr("labelmap.txt", (v1 / "labelmap.txt").read_bytes())
    url = KNOWN_MODELS["ssd_mobilenet_v1_coco_quant"].files[0].url
    (root / url.rsplit("/", 1)[-1]).write_bytes(buf.getvalue())


@pytest.mark.realmodel
def test_pull_verifies_and_writes(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    _archive(root)
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", base)
    seen: list[tuple[int, int | None]] = []
    folder = pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache",
                  progress=lambda _u, d, t: seen.append((d, t)))  # fmt: skip
    for f in KNOWN_MODELS["ssd_mobilenet_v1_coco_quant"].files:
        assert hashlib.sha256((folder / f.name).read_bytes()).hexdigest() == f.sha256
    assert seen
    assert seen[-1][0] == seen[-1][1]  # progress reached the Content-Length
    assert not list(folder.glob("*.part"))


@pytest.mark.realmodel
def test_checksum_mismatch_writes_nothing(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    _archive(root, corrupt=True)
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", base)
    with pytest.raises(PullError, match=r"checksum mismatch.*nothing was written"):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def _bomb(root: Path, *, lie: bool) -> None:
    """An archive whose detect.tflite unpacks to 32 MB of zeros from a few KB; with ``lie``,
    its headers claim the known size instead."""
    member = KNOWN_MODELS["ssd_mobilenet_v1_coco_quant"].files[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("detect.tflite", bytes(32 << 20))
    data = buf.getvalue()
    assert len(data) < 100_000
    if lie:  # the 4-byte uncompressed size in the local header (at 22) and the central one
        real = struct.pack("<I", 32 << 20)
        data = data.replace(real, struct.pack("<I", member.size_bytes))
    (root / member.url.rsplit("/", 1)[-1]).write_bytes(data)


@pytest.mark.parametrize(
    ("lie", "message"),
    [(False, r"unpacks to more than 4183312 bytes.*zip bomb"), (True, r"not a zip archive")],
)
def test_a_zip_bomb_is_refused_as_it_unpacks(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lie: bool,
    message: str,
) -> None:  # fmt: skip
    base, root = server
    _bomb(root, lie=lie)
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", base)
    with pytest.raises(PullError, match=message):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_download_past_the_limit_is_refused_as_it_streams(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    monkeypatch.setattr(registry, "MAX_DOWNLOAD_BYTES", 100_000)
    url = KNOWN_MODELS["ssd_mobilenet_v1_coco_quant"].files[0].url
    (root / url.rsplit("/", 1)[-1]).write_bytes(bytes(200_000))
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", base)
    with pytest.raises(PullError, match=r"is 200000 bytes, more than a model download may be"):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")


def test_http_error_and_unknown_name(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = server
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", base)
    with pytest.raises(PullError, match="HTTP 404"):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")
    # No empty folder is left to be found as the model ("no .tflite file in the model
    # folder" instead of "not found"); a folder that was there before stays.
    assert list((tmp_path / "cache").iterdir()) == []
    (tmp_path / "cache" / "ssd_mobilenet_v1_coco_quant").mkdir()
    with pytest.raises(PullError, match="HTTP 404"):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")
    assert (tmp_path / "cache" / "ssd_mobilenet_v1_coco_quant").is_dir()
    with pytest.raises(PullError, match="unknown model 'nope'; known models"):
        pull("nope", tmp_path / "cache")


def test_a_failed_download_names_the_ways_to_a_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(
        PullError,
        match=r"failed: .*; check the network, set CAMERA_APP_MODEL_"
        r"MIRROR, or point CAMERA_APP_MODEL_PATH at a folder that has the model",
    ):
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache", timeout_s=5)
    assert list((tmp_path / "cache").iterdir()) == []


def test_mirror_credentials_never_printed(tmp_path: Path) -> None:
    env = {**os.environ, "CAMERA_APP_MODEL_MIRROR": "http://user:s3cr%40t@127.0.0.1:9/models"}
    r = subprocess.run(
        [sys.executable, "-m", "camera_app", "models", "pull", "ssd_mobilenet_v1_coco_quant",
         "--dest", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert r.returncode == 2
    assert "download of" in r.stderr
    assert "s3cr" not in r.stderr + r.stdout


@pytest.mark.parametrize(
    "mirror",
    ["http://mirroruser:MirrorPw74@127.0.0.1/", "http://mirroruser:Mirror Pw72@127.0.0.1:1/"],
)
def test_a_mirror_url_urllib_refuses_is_one_line_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: str
) -> None:
    # http.client's InvalidURL quotes the host part ("nonnumeric port: 'MirrorPw74@...'").
    monkeypatch.setenv("CAMERA_APP_MODEL_MIRROR", mirror)
    with pytest.raises(PullError, match="not a URL urllib can fetch") as info:
        pull("ssd_mobilenet_v1_coco_quant", tmp_path / "cache")
    assert "Pw7" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
