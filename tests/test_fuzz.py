"""Fuzzing the parts that read untrusted files: the config loader, ``inspect`` and ``detect``.

Every outcome must be success or one ``camera-app: error:`` line with exit 2: never a traceback
(exit 1). The CLI runs in-process, and the number of examples is bounded, so this stays quick;
CI replays a fixed set (the "ci" hypothesis profile in conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from camera_app import cli
from camera_app.config import parse_config
from camera_app.errors import ConfigError
from tests.shared import REPO, TEST_MODELS

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
# A raw-output model (anchors, sigmoid scores) and one with the detection post-process op.
MODELS = [TEST_MODELS / "blobs_int8_raw_sigmoid", TEST_MODELS / "blobs_uint8_postprocess"]
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# Pieces of YAML that reach the parser's corners: anchors, merges, tags, flow, block scalars.
YAML_PIECES = st.sampled_from([
    "\n", " ", "  ", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "<<: ", "!!str ",
    "!!binary ", "!x ", "|\n", ">-\n", "'", '"', "#", "?", "---\n", "...\n", "%YAML 1.1\n",
    "cameras", "name", "source", "demo", "rtsp://u:p@h/", "${A}", "${A:-1}", "${credential:c}",
    "x-d", "1e9", "-1", ".nan", "null", "true", "0x1F", "2024-01-01", "\t", "\x00", "\ufeff",
])  # fmt: skip


def _mutate(text: str, data: st.DataObject) -> str:
    """``text`` with a few pieces of YAML cut, inserted or replaced at random places."""
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        text = text[:at] + data.draw(YAML_PIECES) + text[at + cut :]
    return text


def _one_line_error(message: str) -> None:
    assert message.strip(), "an error with no message"
    assert "\n" not in message, message
    assert "Traceback" not in message


@FUZZ
@given(data=st.data())
def test_the_config_loader_says_one_line_or_loads(data: st.DataObject) -> None:
    base = CONFIGS[data.draw(st.integers(0, len(CONFIGS) - 1))].read_text(encoding="utf-8")
    text = _mutate(base, data)
    try:
        parse_config(text, "fuzz.yaml", env={"A": "x"})
    except ConfigError as exc:
        _one_line_error(str(exc))


@FUZZ
@given(text=st.lists(YAML_PIECES, max_size=40).map("".join))
@example(text="\x00")  # PyYAML's ReaderError spoke over two lines
@example(text="cameras\n\n- ")  # a multi-line value shown in "got ..."
@example(text="cameras: [{name: a, source: demo}]\ndetection: |\n  threshold: 1\n  iou: 2\n")
def test_the_config_loader_survives_yaml_made_of_pieces(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml", env={})
    except ConfigError as exc:
        _one_line_error(str(exc))


def _run(*args: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(list(args))
    return code, err.getvalue()


def _mutated_model(data: st.DataObject, original: bytes) -> bytes:
    content = bytearray(original)
    edits = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(content) - 1), st.integers(0, 255)),
            min_size=1,
            max_size=16,
        )
    )
    for at, value in edits:
        content[at] = value
    if data.draw(st.booleans()) and data.draw(st.integers(0, 9)) == 0:
        content = content[: data.draw(st.integers(0, len(content)))]  # sometimes cut short
    return bytes(content)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_inspect_and_detect_on_mutated_models_say_one_line_or_run(data: st.DataObject) -> None:
    folder = data.draw(st.sampled_from(MODELS))
    with tempfile.TemporaryDirectory() as tmp:
        for extra in folder.iterdir():  # anchors and labels beside the model, unchanged
            shutil.copy(extra, tmp)
        model = Path(tmp) / "model.tflite"
        model.write_bytes(_mutated_model(data, (folder / "model.tflite").read_bytes()))
        image = Path(tmp) / "frame.png"
        cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
        for args in (("inspect", str(model)), ("detect", "--model", str(model), str(image))):
            code, err = _run(*args)
            assert code in (0, 2), (args[0], err)
            assert "Traceback" not in err, err
            errors = [ln for ln in err.splitlines() if ln.startswith("camera-app: error:")]
            if args[0] == "detect" and code == 2:
                assert len(errors) == 1, err
