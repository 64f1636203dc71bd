"""Files the user names: a named pipe, a directory or an oversized file is a one-line error,
never a start that blocks for ever or reads without end."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from camera_app._files import read_regular
from camera_app.config import load_config
from camera_app.detect.anchors import load_anchors_file
from camera_app.detect.labels import labels_from_file
from camera_app.errors import ConfigError, ImageError, LabelsError
from camera_app.service.credentials import read_credential
from camera_app.sources.image_size import read_image


def _returns(call: Callable[[], object]) -> BaseException | None:
    """What ``call`` raised (None if nothing); fails, not hangs, if it blocks."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            raised.append(None)
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60.0)  # a guard against a hang, not a speed: the call returns at once
    if worker.is_alive():  # left blocked in open(); a daemon, it ends with the run
        pytest.fail("the read blocked on a named pipe")
    return raised[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_read_regular_reads_a_file_and_refuses_the_rest(tmp_path: Path, fifo: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"12345")
    assert read_regular(f, 5) == b"12345"
    with pytest.raises(OSError, match="larger than 4 bytes"):
        read_regular(f, 4)
    with pytest.raises(OSError, match="a directory, not a regular file"):
        read_regular(tmp_path, 10)
    with pytest.raises(OSError, match="a character device, not a regular file"):
        read_regular("/dev/zero", 10)
    error = _returns(lambda: read_regular(fifo, 10))
    assert isinstance(error, OSError)
    assert "a named pipe, not a regular file" in str(error)


@pytest.mark.parametrize(
    ("read", "error", "words"),
    [
        (lambda p: load_config(p), ConfigError, "cannot read the config file (a named pipe"),
        (lambda p: labels_from_file(p), LabelsError, "cannot read labels: a named pipe"),
        (lambda p: load_anchors_file(p), ValueError, "cannot read anchors: "),
        (lambda p: read_image(str(p), 10**6), ImageError, "cannot read the image (a named pipe"),
        (
            lambda p: read_credential(p.name, directory=p.parent),
            ConfigError,
            "cannot be read from",
        ),
    ],
    ids=["config", "labels", "anchors", "image", "credential"],
)
def test_a_named_pipe_is_refused_at_once(
    fifo: Path, read: Callable[[Path], object], error: type[Exception], words: str
) -> None:
    raised = _returns(lambda: read(fifo))
    assert isinstance(raised, error), raised
    assert words in str(raised)
    assert "\n" not in str(raised)


def test_an_oversized_labels_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "labels.txt"
    with big.open("wb") as f:
        f.truncate(5 << 20)  # sparse: 5 MiB of zeros, over the 4 MiB bound
    with pytest.raises(LabelsError, match="larger than 4 MiB"):
        labels_from_file(big)


def test_a_config_over_the_bound_is_refused_by_its_bytes(tmp_path: Path) -> None:
    # 400,000 three-byte characters: 1.2 MB, fewer than 1 Mi characters.
    path = tmp_path / "big.yaml"
    path.write_text("# " + "€" * 400_000 + "\ncameras: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_config(path)


def test_an_image_file_far_larger_than_its_header_says_is_refused(tmp_path: Path) -> None:
    # A valid 2x2 PNM header followed by 2 MiB: no 2x2 image is that large.
    path = tmp_path / "tiny.pgm"
    path.write_bytes(b"P5\n2 2\n255\n" + bytes(2 << 20))
    with pytest.raises(ImageError, match="more than a 2x2 image can hold"):
        read_image(str(path), 10**6)
