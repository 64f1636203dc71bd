"""The runtime is chosen in one place; CI runs the model tests once per runtime."""

from __future__ import annotations

import os

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
