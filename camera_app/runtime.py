"""The one place that imports a TFLite runtime.

ai-edge-litert (LiteRT) is preferred; tflite-runtime is the fallback for boxes where LiteRT has
no wheel. ``CAMERA_APP_RUNTIME=tflite-runtime`` (or ``litert``) forces one of them.

The runtime writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to file
descriptor 2 (C++, once per process, at the first ``allocate_tensors``; no option or variable
turns it off), which breaks the CLI's one-line errors and clutters the journal:
``runtime_notices_dropped`` catches fd 2 around that call, drops that line and passes the
rest on.

A damaged model can crash the runtime itself (SIGSEGV inside ``Interpreter()`` or ``invoke()``:
custom-op options and tensor data are not all verified). So the first time this process sees
a model's bytes, a child process loads and runs it once (``_vet``); a crash there is one clear
``ModelError`` here instead of the death of the service.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from camera_app.errors import ModelError, RuntimeMissingError
from camera_app.modes import RuntimeName

log = logging.getLogger(__name__)

_CANDIDATES: dict[RuntimeName, tuple[str, str]] = {
    # name -> (module holding Interpreter, distribution name for its version), preferred first
    RuntimeName.LITERT: ("ai_edge_litert.interpreter", "ai-edge-litert"),
    RuntimeName.TFLITE_RUNTIME: ("tflite_runtime.interpreter", "tflite-runtime"),
}


@dataclass(frozen=True)
class Runtime:
    name: RuntimeName
    version: str
    module: Any

    def interpreter(
        self,
        model_content: bytes,
        *,
        num_threads: int | None = None,
        preserve_all_tensors: bool = False,
        without_delegates: bool = False,
        where: str | None = None,
    ) -> Any:
        """Build an interpreter, turning runtime failures into one clear ModelError."""
        _vet(self, model_content, where)
        kwargs: dict[str, Any] = {"model_content": model_content, "num_threads": num_threads}
        if preserve_all_tensors:
            kwargs["experimental_preserve_all_tensors"] = True
        if without_delegates:
            kwargs["experimental_op_resolver_type"] = (
                self.module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        try:
            with warnings.catch_warnings():
                # preserve_all_tensors is asked for on purpose (inspection, oracle tests);
                # LiteRT warns about its memory cost every time.
                warnings.filterwarnings("ignore", message=".*preserve_all_tensors.*")
                return self.module.Interpreter(**kwargs)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"the {self.name} runtime could not load the model: {_first_line(exc)}; "
                "check that the file is a complete TFLite model built for CPU",
                model=where,
            ) from exc
        except Exception as exc:
            # Not the model: the runtime itself fails on this machine (seen in the wild:
            # LiteRT 2.0.2 raising NameError '_interpreter_wrapper' from Interpreter()).
            other = next(n for n in _CANDIDATES if n != self.name)
            raise RuntimeMissingError(
                f"the {self.name} runtime ({_CANDIDATES[self.name][1]} {self.version}) fails "
                f"on this machine: {type(exc).__name__}: {_first_line(exc)}; reinstall it "
                f"(pip install --force-reinstall {_CANDIDATES[self.name][1]}) or use the "
                f"other one (CAMERA_APP_RUNTIME={other})"
            ) from exc


# Loads and runs the model once on zeros: the child reads the bytes from stdin, so nothing
# about the model (or any camera) is on a command line.
_CHILD = """
import importlib, sys
import numpy as np
interpreter = importlib.import_module(sys.argv[1]).Interpreter(
    model_content=sys.stdin.buffer.read(), num_threads=1)
interpreter.allocate_tensors()
for d in interpreter.get_input_details():
    interpreter.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
interpreter.invoke()
"""
VET_TIMEOUT_S = 120.0
_vetted: set[tuple[str, str]] = set()  # (runtime, sha256) that loaded and ran in a child
_vetted_lock = threading.Lock()


def _vet(runtime: Runtime, model_content: bytes, where: str | None) -> None:
    """Load and run ``model_content`` in a child process once; raise ModelError if the runtime
    crashed or hung there. A Python error in the child is left to the real load to report."""
    key = (runtime.name, hashlib.sha256(model_content).hexdigest())
    with _vetted_lock:
        if key in _vetted:
            return
        module_name = _CANDIDATES[runtime.name][0]
        try:
            child = subprocess.run(
                [sys.executable, "-c", _CHILD, module_name],
                input=model_content, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=VET_TIMEOUT_S, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ModelError(
                f"the {runtime.name} runtime did not load and run the model within "
                f"{VET_TIMEOUT_S:g} s in a test process; the file may be damaged",
                model=where,
            ) from exc
        if child.returncode < 0:
            try:
                how = signal.Signals(-child.returncode).name
            except ValueError:
                how = f"signal {-child.returncode}"
            other = next(n for n in _CANDIDATES if n != runtime.name)
            raise ModelError(
                f"the {runtime.name} runtime crashed ({how}) loading or running the model in a "
                "test process: the file is damaged or not a TFLite model for this runtime; "
                "download or export it again (if every model does this, the runtime does not "
                f"run on this CPU: try CAMERA_APP_RUNTIME={other})",
                model=where,
            )
        _vetted.add(key)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_runtime(preferred: RuntimeName | str | None = None) -> Runtime:
    """Import LiteRT, else tflite-runtime; ``preferred`` (or $CAMERA_APP_RUNTIME) forces one."""
    wanted = preferred or os.environ.get("CAMERA_APP_RUNTIME") or None
    if wanted is not None and wanted not in _CANDIDATES:
        raise RuntimeMissingError(
            f"unknown runtime {wanted!r}: expected one of {', '.join(_CANDIDATES)}"
        )
    order = [RuntimeName(wanted)] if wanted else list(_CANDIDATES)
    failures: list[str] = []
    for name in order:
        module_name, dist = _CANDIDATES[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            failures.append(f"{dist}: {exc}")
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
        if failures:
            # Not forced, and LiteRT did not import: say why, once per load, since the fallback
            # can be far slower (tflite-runtime 2.14 ran these models 10-23x slower than
            # LiteRT on an x86_64 test box: docs/PERFORMANCE.md).
            log.warning(
                "using the %s %s fallback: %s; it can be many times slower than LiteRT "
                "(where LiteRT has no wheel, model.runtime: %s or CAMERA_APP_RUNTIME=%s "
                "chooses it and ends this warning)",
                dist, version, "; ".join(failures), name, name,
            )  # fmt: skip
        return Runtime(name=name, version=version, module=module)
    raise RuntimeMissingError(
        "no TFLite runtime could be imported ("
        + "; ".join(failures)
        + "); install one: pip install ai-edge-litert (or tflite-runtime with numpy<2)"
    )


_NOTICE = re.compile(rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.\r?\n", re.M)
_notice = {"dropped": False}
_notice_lock = threading.Lock()


@contextmanager
def runtime_notices_dropped() -> Iterator[None]:
    """Run the block with fd 2 caught until the XNNPACK notice was seen (it comes once);
    everything else written to fd 2 meanwhile is written on afterwards."""
    with _notice_lock:
        if not _notice["dropped"]:
            with _fd2_caught() as caught:
                yield
            rest, dropped = _NOTICE.subn(b"", caught)
            _notice["dropped"] = dropped > 0
            _write_fd2(rest)
            return
    yield


@contextmanager
def _fd2_caught() -> Iterator[bytearray]:
    """Redirect fd 2 into a temporary file for the block; the bytes are in the yielded array
    once it ends. Without a usable fd 2, nothing is redirected."""
    caught = bytearray()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield caught
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            caught += tmp.read()


def _write_fd2(data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(2, view) :]
        except OSError:
            return
