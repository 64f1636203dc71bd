"""The runtime is chosen in one place; CI runs the model tests once per runtime."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from camera_app.errors import RuntimeMissingError
from camera_app.runtime import load_runtime


def test_the_runtime_this_run_asked_for_is_the_one_in_use() -> None:
    wanted = os.environ.get("CAMERA_APP_RUNTIME", "litert")
    rt = load_runtime()
    assert rt.name == wanted
    assert rt.version != "unknown"
    assert hasattr(rt.module, "Interpreter")


def test_unknown_runtime_is_a_clear_error() -> None:
    with pytest.raises(RuntimeMissingError, match="unknown runtime 'tensorflow'"):
        load_runtime("tensorflow")


def test_missing_runtime_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from camera_app import runtime

    monkeypatch.setattr(
        runtime,
        "_CANDIDATES",
        {
            "litert": ("camera_app_no_such_module.interpreter", "ai-edge-litert"),
            "tflite-runtime": ("camera_app_no_such_module_either.interpreter", "tflite-runtime"),
        },
    )
    monkeypatch.delenv("CAMERA_APP_RUNTIME", raising=False)
    with pytest.raises(RuntimeMissingError, match="pip install ai-edge-litert"):
        load_runtime()


def test_a_runtime_broken_on_this_machine_is_one_line_naming_it() -> None:
    """An Interpreter() that fails with something other than a model error (LiteRT 2.0.2 on
    some machines: NameError '_interpreter_wrapper') is the runtime's fault, said as such."""
    from camera_app.runtime import Runtime

    class Broken:
        class Interpreter:
            def __init__(self, **kwargs: object) -> None:
                raise NameError("name '_interpreter_wrapper' is not defined")

    rt = Runtime(name="litert", version="2.0.2", module=Broken)
    with pytest.raises(RuntimeMissingError) as info:
        rt.interpreter(b"model bytes", num_threads=1, where="m.tflite")
    msg = str(info.value)
    assert "\n" not in msg
    assert "litert runtime (ai-edge-litert 2.0.2) fails on this machine: NameError" in msg
    assert "_interpreter_wrapper" in msg
    assert "CAMERA_APP_RUNTIME=tflite-runtime" in msg


def test_a_model_the_runtime_refuses_stays_a_model_error() -> None:
    from camera_app.errors import ModelError
    from camera_app.runtime import Runtime

    class Refusing:
        class Interpreter:
            def __init__(self, **kwargs: object) -> None:
                raise ValueError("Could not open 'm.tflite'.\nmore detail")

    rt = Runtime(name="tflite-runtime", version="2.14.0", module=Refusing)
    with pytest.raises(ModelError, match=r"^m.tflite: the tflite-runtime runtime could not load "
                       r"the model: Could not open 'm.tflite'.; check"):  # fmt: skip
        rt.interpreter(b"x", where="m.tflite")


def test_falling_back_says_why_and_what_it_costs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """LiteRT that does not import is not a quiet switch to a much slower runtime."""
    import logging

    from camera_app import runtime

    monkeypatch.setattr(
        runtime,
        "_CANDIDATES",
        {
            "litert": ("camera_app_no_such_module.interpreter", "ai-edge-litert"),
            "tflite-runtime": ("json", "pyyaml"),  # any importable module stands in for it
        },
    )
    monkeypatch.delenv("CAMERA_APP_RUNTIME", raising=False)
    with caplog.at_level(logging.WARNING, logger="camera_app.runtime"):
        rt = load_runtime()
    assert rt.name == "tflite-runtime"
    (record,) = caplog.records
    msg = record.getMessage()
    assert msg.startswith("using the pyyaml ")
    assert "ai-edge-litert: No module named 'camera_app_no_such_module'" in msg
    assert "slower than LiteRT" in msg
    assert "model.runtime: tflite-runtime or CAMERA_APP_RUNTIME=tflite-runtime" in msg


def test_the_preferred_runtime_loads_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING, logger="camera_app.runtime"):
        load_runtime()
    assert caplog.records == []


def test_the_xnnpack_notice_is_dropped_and_other_fd2_output_kept(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from camera_app import runtime

    monkeypatch.setitem(runtime._notice, "dropped", False)
    with runtime.runtime_notices_dropped():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ERROR: something the runtime says\n")
    assert capfd.readouterr().err == "ERROR: something the runtime says\n"
    with runtime.runtime_notices_dropped():  # seen once: fd 2 is left alone from now on
        os.write(2, b"later\n")
    assert capfd.readouterr().err == "later\n"


def test_the_cli_prints_nothing_on_stderr_when_all_is_well() -> None:
    """LiteRT's own 'INFO: Created TensorFlow Lite XNNPACK delegate' line used to reach stderr."""
    import subprocess
    import sys

    import cv2
    import numpy as np

    from tests.shared import TEST_MODELS

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "grey.png"
        cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
        env = {**os.environ, "CAMERA_APP_MODEL_PATH": str(TEST_MODELS)}
        result = subprocess.run(
            [sys.executable, "-m", "camera_app", "detect", "--model", "blobs_float_raw",
             str(image)],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "detections" in result.stdout


# Bytes of a generated test model with three bytes changed (found by tests/test_fuzz.py):
# LiteRT 2.3.0 and tflite-runtime 2.14 both die with SIGSEGV inside Interpreter() on them.
CRASHER = Path(__file__).parent / "data" / "crashers" / "postprocess_mutated.tflite"


def test_a_model_that_crashes_the_runtime_is_one_model_error() -> None:
    from camera_app.errors import ModelError

    with pytest.raises(ModelError, match=r"crashed \(SIGSEGV\) loading or running the model"):
        load_runtime().interpreter(CRASHER.read_bytes(), where=str(CRASHER))


def test_inspect_and_detect_say_so_in_one_line_and_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    import cv2
    import numpy as np

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    for args in (["inspect", str(CRASHER)], ["detect", "--model", str(CRASHER), str(image)]):
        r = subprocess.run(
            [sys.executable, "-m", "camera_app", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert "crashed (SIGSEGV)" in lines[0]
        assert "if every model does this, the runtime does not run on this CPU" in lines[0]
        assert str(CRASHER) in lines[0]


def test_a_model_that_loads_is_run_in_a_child_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from camera_app import runtime

    model = (Path(__file__).parent / "data" / "models" / "blobs_uint8_postprocess").joinpath(
        "model.tflite"
    )
    children: list[object] = []
    real_run = runtime.subprocess.run

    def counting_run(*args: object, **kwargs: object) -> object:
        children.append(args)
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(runtime.subprocess, "run", counting_run)
    monkeypatch.setattr(runtime, "_vetted", set())
    rt = load_runtime()
    for _ in range(3):
        rt.interpreter(model.read_bytes())
    assert len(children) == 1
