"""The systemd unit, the sd_notify protocol, the progress watchdog and credentials.

The unit is checked by systemd's own tools (``systemd-analyze verify`` and ``security``); the
notifier talks to real AF_UNIX datagram sockets that the tests own.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from camera_app.config import parse_config
from camera_app.errors import ConfigError
from camera_app.service import (
    Notifier,
    Watchdog,
    read_credential,
    watchdog_interval_s,
)
from tests.shared import IMAGES, MODELS

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "camera-app.service"
SERVICE_DOC = REPO / "docs" / "SERVICE.md"
INSTALLED_EXEC = "/opt/camera-app/venv/bin/camera-app"
SSD_V1 = MODELS / "ssd_mobilenet_v1_coco_quant" / "ssd_mobilenet_v1_1_default_1.tflite"
IMAGE = IMAGES / "grace_hopper.bmp"


# ---------------------------------------------------------------------------------------------
# The unit file, checked by systemd-analyze


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment; systemd allows repeated keys."""
    entries = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key: str) -> list[str]:
    return [v for _, k, v in unit_entries(UNIT.read_text()) if k == key]


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        if os.environ.get("CI") or sys.platform.startswith("linux"):
            pytest.fail(
                "systemd-analyze is missing: apt-get install the packages in .ci/apt-packages.txt"
            )
        pytest.skip("systemd-analyze exists on Linux only")
    return path


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """The unit in tmp_path, its ExecStart pointing at an executable that exists here.

    ``systemd-analyze verify`` fails when ExecStart's program is missing, and the real one
    (the install's venv) is not on a test machine. Everything else is the shipped unit.
    """
    text = UNIT.read_text()
    assert text.count(INSTALLED_EXEC) == 1, "ExecStart no longer names the documented venv path"
    stub = tmp_path / "bin" / "camera-app"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copy = tmp_path / "camera-app.service"
    copy.write_text(text.replace(INSTALLED_EXEC, str(stub)))
    return copy


def test_systemd_analyze_verify_accepts_the_unit(unit_copy: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit_copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Unknown keys (e.g. RestartSteps= before systemd 254) are only warnings: fail on them too.
    assert "camera-app.service" not in output, output


def test_systemd_analyze_security_rates_exposure_at_most_2(unit_copy: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", "--no-pager", str(unit_copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    match = re.search(r"Overall exposure level for camera-app\.service: (\d+(?:\.\d+)?)", output)
    assert match is not None, output
    assert float(match.group(1)) <= 2.0, output


def test_unit_says_what_the_service_relies_on() -> None:
    single = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "SupplementaryGroups": "video",
        "ConfigurationDirectory": "camera-app",
        "CacheDirectory": "camera-app",
        "CapabilityBoundingSet": "",
        # Without it, the mbind() calls of OpenBLAS would kill the process (see the unit).
        "SystemCallErrorNumber": "EPERM",
    }
    for key, expected in single.items():
        assert values(key) == [expected], key
    (exec_start,) = values("ExecStart")
    assert exec_start.split()[:2] == [INSTALLED_EXEC, "run"]
    assert values("LoadCredential") == [
        "camera-password:/etc/camera-app/credentials/camera-password"
    ]
    # The install guide creates the venv and the credential the unit points at.
    doc = SERVICE_DOC.read_text()
    assert INSTALLED_EXEC in doc
    assert "/etc/camera-app/credentials/camera-password" in doc


# ---------------------------------------------------------------------------------------------
# The sandbox against the real runtime: LiteRT and OpenCV under filters that mimic the unit's
# SystemCallFilter= and MemoryDenyWriteExecute= (systemd itself is not PID 1 in test machines).

_SANDBOX_PROBE = r"""
import ctypes, ctypes.util, errno, json, mmap, os, sys

allowed = json.loads(sys.argv[1])
deny_write_execute = sys.argv[2] == "yes"
model, image = sys.argv[3], sys.argv[4]

lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add_array.argtypes = [
    ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
lib.seccomp_load.argtypes = [ctypes.c_void_p]

class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

ALLOW, REFUSE, MASKED_EQ = 0x7FFF0000, 0x00050000 | errno.EPERM, 7

def ok(rc, what):
    if rc != 0:
        raise SystemExit(f"seccomp: {what} failed with {rc}")

def number(name):
    return lib.seccomp_syscall_resolve_name(name.encode())

# MemoryDenyWriteExecute=yes as systemd 252 does it: no W+X mmap, no mprotect/pkey_mprotect
# adding PROT_EXEC, no shmat with SHM_EXEC. Loaded first: the allow list below has no seccomp().
if deny_write_execute:
    mdwe = lib.seccomp_init(ALLOW)
    for name, arg, mask in [("mmap", 2, mmap.PROT_WRITE | mmap.PROT_EXEC),
                            ("mprotect", 2, mmap.PROT_EXEC),
                            ("pkey_mprotect", 2, mmap.PROT_EXEC),
                            ("shmat", 2, 0o100000)]:
        if number(name) >= 0:
            cmp = ArgCmp(arg, MASKED_EQ, mask, mask)
            ok(lib.seccomp_rule_add_array(mdwe, REFUSE, number(name), 1, ctypes.byref(cmp)), name)
    ok(lib.seccomp_load(mdwe), "loading the W^X filter")

# SystemCallFilter= with SystemCallErrorNumber=EPERM: anything not allowed fails with EPERM.
calls = lib.seccomp_init(REFUSE)
for name in allowed:
    if number(name) >= 0:
        ok(lib.seccomp_rule_add_array(calls, ALLOW, number(name), 0, None), name)
ok(lib.seccomp_load(calls), "loading the allow list")

refused = []
try:
    os.setpriority(os.PRIO_PROCESS, 0, 5)
except PermissionError:
    refused.append("setpriority")
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    refused.append("wx-mmap")

import socket
import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

interpreter = Interpreter(model_path=model, num_threads=2)
interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
frame = cv2.imread(image)
frame = cv2.cvtColor(cv2.resize(frame, (int(inp["shape"][2]), int(inp["shape"][1]))),
                     cv2.COLOR_BGR2RGB)
interpreter.set_tensor(inp["index"], frame[np.newaxis].astype(inp["dtype"]))
for _ in range(3):
    interpreter.invoke()
outputs = {o["name"]: interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()}
scores = [v for v in outputs.values() if v.shape == (1, 10) and v.dtype == np.float32
          and float(v.max()) <= 1.0]
encoded, jpeg = cv2.imencode(".jpg", frame)
server = socket.create_server(("127.0.0.1", 0))
server.close()
print(json.dumps({"refused": refused, "top_score": max(float(s.max()) for s in scores),
                  "jpeg_bytes": int(len(jpeg)) if encoded else 0}))
"""


def syscall_groups(analyze: str) -> dict[str, list[str]]:
    out = subprocess.run(
        [analyze, "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in out.splitlines():
        line = raw.strip()
        if raw.startswith("@"):
            current = groups.setdefault(line.split("#")[0].strip(), [])
        elif line and not line.startswith("#") and current is not None:
            current.append(line)
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    calls: set[str] = set()
    for name in names:
        calls |= expand(groups[name], groups) if name.startswith("@") else {name}
    return calls


def unit_syscall_allow_list(groups: dict[str, list[str]]) -> set[str]:
    """The unit's SystemCallFilter= lines, applied in order (the first must be an allow list)."""
    filters = values("SystemCallFilter")
    assert filters, "the unit has no SystemCallFilter="
    assert not filters[0].startswith("~"), "the first SystemCallFilter= is expected to allow"
    allowed: set[str] = set()
    for spec in filters:
        if spec.startswith("~"):
            allowed -= expand(spec[1:].split(), groups)
        else:
            allowed |= expand(spec.split(), groups)
    return allowed


@pytest.mark.realmodel
def test_litert_and_opencv_tolerate_the_unit_sandbox() -> None:
    if not SSD_V1.is_file() or not IMAGE.is_file():
        pytest.skip(f"needs {SSD_V1} and {IMAGE}")
    if not sys.platform.startswith("linux"):
        pytest.skip("seccomp is Linux only")
    allowed = unit_syscall_allow_list(syscall_groups(systemd_analyze()))
    (deny_write_execute,) = values("MemoryDenyWriteExecute")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _SANDBOX_PROBE,
            json.dumps(sorted(allowed)),
            deny_write_execute,
            str(SSD_V1),
            str(IMAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The filters are really in force ...
    expected_refused = ["setpriority"] + (["wx-mmap"] if deny_write_execute == "yes" else [])
    assert report["refused"] == expected_refused
    # ... and the model still runs: Grace Hopper is a person at about 0.72.
    assert report["top_score"] >= 0.6
    assert report["jpeg_bytes"] > 1000


_XNNPACK_PROBE = r"""
import json, sys
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=2)
interpreter.allocate_tensors()
ops = {op["op_name"] for op in interpreter._get_ops_details()}
print(json.dumps({"xnnpack": "DELEGATE" in ops}))
"""


def _xnnpack_probe(*, proc_subset_pid: bool) -> dict[str, bool]:
    probe = [sys.executable, "-c", _XNNPACK_PROBE, str(SSD_V1)]
    if proc_subset_pid:  # a /proc as ProcSubset=pid mounts it, in a mount namespace of its own
        script = 'mount -t proc -o subset=pid proc /proc && exec "$@"'
        probe = ["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh", *probe]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.realmodel
def test_proc_subset_pid_is_not_set_because_litert_would_lose_xnnpack() -> None:
    """ProcSubset=pid hides /proc/cpuinfo; XNNPACK's cpuinfo then fails and LiteRT runs the model
    without its delegate. Should a runtime keep XNNPACK without it, this fails: set the line."""
    if not SSD_V1.is_file():
        pytest.skip(f"needs {SSD_V1}")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a /proc with subset=pid needs root and unshare (CI runs as root)")
    assert values("ProcSubset") == []
    assert _xnnpack_probe(proc_subset_pid=False)["xnnpack"] is True
    assert _xnnpack_probe(proc_subset_pid=True)["xnnpack"] is False


def test_videodev_is_loaded_at_boot_before_the_unit_starts() -> None:
    """DeviceAllow=char-video4linux is resolved when the unit starts; with videodev not yet
    loaded (no webcam at boot) a webcam plugged in later would be refused until a restart."""
    assert "char-video4linux rw" in values("DeviceAllow")
    assert "systemd-modules-load.service" in " ".join(values("After"))
    modules = (REPO / "systemd" / "camera-app-modules.conf").read_text().splitlines()
    assert [m for m in modules if m and not m.startswith("#")] == ["videodev"]
    doc = SERVICE_DOC.read_text()
    assert "/etc/modules-load.d/camera-app.conf" in doc
    assert "plugged in after boot" in doc


# ---------------------------------------------------------------------------------------------
# sd_notify against sockets the tests own


class Receiver:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, sock: socket.socket, notify_socket: str) -> None:
        self.sock = sock
        self.notify_socket = notify_socket

    def messages(self, window_s: float) -> list[str]:
        """Every datagram that arrives within window_s."""
        return self._collect(lambda got: False, window_s)

    def until(self, line: str, n: int, timeout_s: float = 10.0) -> list[str]:
        """Every datagram until ``line`` has come ``n`` times (at most ``timeout_s``)."""
        return self._collect(lambda got: count(got, line) >= n, timeout_s)

    def _collect(self, done: Callable[[list[str]], bool], timeout_s: float) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + timeout_s
        while not done(got) and (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(4096).decode())
            except TimeoutError:
                break
        return got

    def next(self, timeout_s: float = 5.0) -> str:
        self.sock.settimeout(timeout_s)
        return self.sock.recv(4096).decode()


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[Receiver]:
    directory = tmp_path
    short = None
    if len(str(tmp_path / "notify.sock")) > 100:  # AF_UNIX paths are limited to 108 bytes
        short = tempfile.mkdtemp(prefix="notify-")
        directory = Path(short)
    path = directory / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        yield Receiver(sock, str(path))
    finally:
        sock.close()
        if short is not None:
            shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"camera-app-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    fixture = "path_receiver" if request.param == "path" else "abstract_receiver"
    got: Receiver = request.getfixturevalue(fixture)
    return got


def test_ready_status_stopping_arrive_in_order(receiver: Receiver) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": receiver.notify_socket}) as notifier:
        assert notifier.enabled
        assert notifier.ready()
        assert notifier.status("2 cameras, 14.8 fps")
        assert notifier.watchdog()
        assert notifier.stopping()
    assert [receiver.next() for _ in range(4)] == [
        "READY=1",
        "STATUS=2 cameras, 14.8 fps",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_ready_with_status_and_other_messages(path_receiver: Receiver) -> None:
    with Notifier(path_receiver.notify_socket) as notifier:
        notifier.ready(status="1 camera")
        # A newline must not start a second assignment (here a forged READY=1).
        notifier.status("ok\nREADY=1")
    assert path_receiver.next() == "READY=1\nSTATUS=1 camera"
    assert path_receiver.next() == "STATUS=ok READY=1"


def test_without_notify_socket_everything_is_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": "30000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    assert not notifier.ready()
    assert not notifier.status("x")
    assert not notifier.stopping()
    watchdog = Watchdog(notifier, progress=lambda: 1, stop_event=threading.Event(), interval_s=0.01)
    watchdog.start()
    assert watchdog.join(timeout_s=0.1)
    assert not [t for t in threading.enumerate() if t.name == "sd-watchdog"]
    assert notifier.send_failures == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_missing_socket_logs_one_warning_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such.sock"
    notifier = Notifier(str(missing), send_timeout_s=0.5)
    with caplog.at_level(logging.DEBUG, logger="camera_app.service.notify"):
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.stopping()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(missing) in warnings[0].getMessage()
    assert notifier.send_failures == 3
    notifier.close()


@pytest.mark.parametrize("value", ["relative/notify.sock", "vsock:2:1234", "@"])
def test_an_unusable_notify_socket_turns_notifications_off(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(value)
    assert not notifier.enabled
    assert not notifier.ready()
    assert any(value in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


OUR_PID = 4242


@pytest.mark.parametrize(
    ("usec", "pid", "expected_s"),
    [
        ("30000000", None, 30.0),
        ("30000000", str(OUR_PID), 30.0),
        ("500000", "", 0.5),
        ("30000000", str(OUR_PID + 1), None),  # inherited, meant for another process
        ("30000000", "not-a-pid", None),
        (None, None, None),
        ("", None, None),
        ("0", None, None),
        ("-1", None, None),
        ("30s", None, None),
    ],
)
def test_watchdog_interval_from_the_environment(
    usec: str | None, pid: str | None, expected_s: float | None
) -> None:
    env = {}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        env["WATCHDOG_PID"] = pid
    assert watchdog_interval_s(env, pid=OUR_PID) == expected_s


def test_notifier_reads_the_watchdog_interval_for_our_own_pid(path_receiver: Receiver) -> None:
    env = {
        "NOTIFY_SOCKET": path_receiver.notify_socket,
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    notifier = Notifier.from_env(env)
    assert notifier.watchdog_interval_s == 30.0
    watchdog = Watchdog(notifier, progress=lambda: 0, stop_event=threading.Event())
    assert watchdog.interval_s == 15.0  # pings at half of WatchdogSec=


class FakePipeline:
    """Counts frames on its own thread while flowing; `hang()` stops the count."""

    def __init__(self, stop: threading.Event) -> None:
        self.frames_processed = 0
        self.flowing = threading.Event()
        self.flowing.set()
        self._lock = threading.Lock()  # once hang() returns, the count no longer moves
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name="fake-pipeline")

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            with self._lock:
                if self.flowing.is_set():
                    self.frames_processed += 1

    def hang(self) -> None:
        with self._lock:
            self.flowing.clear()

    def __enter__(self) -> FakePipeline:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()

    def status_line(self) -> str:
        return f"1 camera, {self.frames_processed} frames"


STATUS = "STATUS=1 camera, "


def count(messages: list[str], line: str) -> int:
    """Datagrams holding ``line`` (a whole line, or the start of one ending in a space)."""
    return sum(
        any(x == line or (line.endswith(" ") and x.startswith(line)) for x in m.split("\n"))
        for m in messages
    )


def test_watchdog_pings_only_while_frames_flow(path_receiver: Receiver) -> None:
    stop = threading.Event()
    notifier = Notifier(path_receiver.notify_socket)
    with FakePipeline(stop) as pipeline:
        watchdog = Watchdog(
            notifier,
            progress=lambda: pipeline.frames_processed,
            status=pipeline.status_line,
            stop_event=stop,
            interval_s=0.05,
            status_interval_s=0.2,
        )
        watchdog.start()
        flowing = path_receiver.until("WATCHDOG=1", 3)
        pipeline.hang()
        # A check that read the count before the hang may still ping, once; turns after a
        # STATUS= sent after the hang cannot (a turn checks, then may send STATUS=). Three
        # STATUS= (0.2 s apart) cannot all have been waiting in the socket from before it.
        path_receiver.until(STATUS, 3)
        hung = path_receiver.until(STATUS, 3)  # several turns of the watchdog, hung
        pipeline.flowing.set()  # and recovers
        recovered = path_receiver.until("WATCHDOG=1", 3)
        stop.set()
        assert watchdog.join(timeout_s=5.0)
    notifier.close()

    assert count(flowing, "WATCHDOG=1") >= 3, flowing
    assert count(hung, STATUS) == 3, hung  # STATUS= keeps coming, hung or not
    assert count(hung, "WATCHDOG=1") == 0, hung
    assert count(recovered, "WATCHDOG=1") >= 3, recovered


def test_watchdog_does_not_ping_when_not_alive(path_receiver: Receiver) -> None:
    stop = threading.Event()
    healthy = threading.Event()
    notifier = Notifier(path_receiver.notify_socket)
    with FakePipeline(stop) as pipeline:
        watchdog = Watchdog(
            notifier,
            progress=lambda: pipeline.frames_processed,
            alive=healthy.is_set,
            stop_event=stop,
            interval_s=0.05,
        )
        watchdog.start()
        unhealthy = path_receiver.messages(1.0)  # alive() says no from the start
        healthy.set()
        well = path_receiver.until("WATCHDOG=1", 3)
        stop.set()
        assert watchdog.join(timeout_s=5.0)
    notifier.close()
    assert count(unhealthy, "WATCHDOG=1") == 0, unhealthy
    assert count(well, "WATCHDOG=1") >= 3, well


def test_watchdog_check_decides_on_progress_alone(
    path_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    readings: list[int | Exception] = [5, 5, 6, 6, 7, 3, 4, RuntimeError("capture died"), 4, 5]
    expected = [False, False, True, False, True, False, True, False, False, True]

    def progress() -> int:
        reading = readings.pop(0)
        if isinstance(reading, Exception):
            raise reading
        return reading

    with Notifier(path_receiver.notify_socket) as notifier:
        watchdog = Watchdog(notifier, progress=progress, stop_event=threading.Event(), interval_s=1)
        # 5 is the baseline; 3 after 7 is a reset counter (a new baseline); the exception is
        # "no progress", and so is the next reading, 4, which equals the last ping's.
        assert [watchdog.check() for _ in expected] == expected
    assert watchdog.pings == expected.count(True)
    assert [path_receiver.next() for _ in range(watchdog.pings)] == ["WATCHDOG=1"] * watchdog.pings
    raised = [r for r in caplog.records if "progress() callable raised" in r.getMessage()]
    assert len(raised) == 1
    assert raised[0].levelno == logging.WARNING


def test_watchdog_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Watchdog(
            Notifier("/run/x.sock"), progress=lambda: 0, stop_event=threading.Event(), interval_s=0
        )


# ---------------------------------------------------------------------------------------------
# Credentials

SECRET = "hunter2-Sup3r-s3cret"


@pytest.fixture
def credentials_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "camera-password").write_text(SECRET + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    return directory


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", "s3cret"),
        (b"s3cret", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"two\n\n", "two\n"),  # only one newline is stripped
        (b" spaced \n", " spaced "),
        (b"", ""),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
)
def test_read_credential_strips_one_trailing_newline(
    credentials_dir: Path, content: bytes, expected: str
) -> None:
    (credentials_dir / "cam1_password").write_bytes(content)
    assert read_credential("cam1_password") == expected


def test_read_credential_from_a_given_directory_or_environment(
    credentials_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert read_credential("camera-password", directory=credentials_dir) == SECRET
    environ = {"CREDENTIALS_DIRECTORY": str(credentials_dir)}
    assert read_credential("camera-password", environ=environ) == SECRET


def assert_secret_not_in(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    assert SECRET not in text
    assert SECRET[:6] not in text


def source_of(text: str, credentials_dir: Path) -> str:
    """The first camera's source, as the config reads it (credentials filled in)."""
    yaml = f"cameras:\n  - name: a\n    source: '{text}'\n"
    cfg = parse_config(yaml, "cfg.yaml", env={"CREDENTIALS_DIRECTORY": str(credentials_dir)})
    return str(cfg.cameras[0].source)


def test_a_missing_credential_is_a_config_error_naming_it(credentials_dir: Path) -> None:
    with pytest.raises(ConfigError, match="'cam2_password'") as info:
        source_of("rtsp://b:${credential:cam2_password}@h/2", credentials_dir)
    assert "LoadCredential=cam2_password:" in str(info.value)
    assert_secret_not_in(info.value)


def test_no_credentials_directory_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match=r"'camera-password'.*CREDENTIALS_DIRECTORY is not set"):
        read_credential("camera-password")


def test_a_credential_that_is_not_utf8_never_shows_its_bytes(credentials_dir: Path) -> None:
    (credentials_dir / "binary").write_bytes(SECRET.encode() + b"\xff" + SECRET.encode())
    with pytest.raises(ConfigError, match=r"'binary'.*not UTF-8") as info:
        read_credential("binary")
    assert_secret_not_in(info.value)
    assert "xff" not in "".join(traceback.format_exception(info.value))


def test_an_unreadable_credential_is_a_config_error(credentials_dir: Path) -> None:
    (credentials_dir / "adir").mkdir()
    with pytest.raises(ConfigError, match="'adir' cannot be read"):
        read_credential("adir")


@pytest.mark.parametrize("name", ["", "../camera-password", "a/b", ".hidden", "sp ace"])
def test_a_credential_name_that_is_not_a_plain_file_name_is_refused(
    credentials_dir: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match="invalid credential name"):
        read_credential(name)


def test_an_error_names_a_credential_and_never_shows_its_content(credentials_dir: Path) -> None:
    yaml = "mqtt: {host: h, port: '${credential:camera-password}'}\ncameras: [{name: a}]\n"
    with pytest.raises(ConfigError) as info:
        parse_config(yaml, "cfg.yaml", env={"CREDENTIALS_DIRECTORY": str(credentials_dir)})
    assert "mqtt.port: expected an integer" in str(info.value)
    assert "the value of ${credential:camera-password} (not shown)" in str(info.value)
    assert_secret_not_in(info.value)


def test_a_credential_in_a_source_url(credentials_dir: Path) -> None:
    source = "rtsp://user:${credential:camera-password}@192.168.1.20/stream"
    assert source_of(source, credentials_dir) == f"rtsp://user:{SECRET}@192.168.1.20/stream"


def test_a_credential_in_a_url_is_percent_encoded(credentials_dir: Path) -> None:
    (credentials_dir / "odd").write_text("p@ss:w/rd\n")
    assert source_of("rtsp://u:${credential:odd}@h/s", credentials_dir) == (
        "rtsp://u:p%40ss%3Aw%2Frd@h/s"
    )


def test_a_credential_is_not_expanded_twice(credentials_dir: Path) -> None:
    (credentials_dir / "tricky").write_text("${credential:camera-password}")
    assert source_of("rtsp://u:${credential:tricky}@h/s", credentials_dir) == (
        "rtsp://u:" + quote("${credential:camera-password}", safe="") + "@h/s"
    )


def test_text_without_placeholders_needs_no_credentials() -> None:
    cfg = parse_config("cameras:\n  - {name: a, source: 'rtsp://cam/stream'}\n", "c.yaml", env={})
    assert cfg.cameras[0].source == "rtsp://cam/stream"


def test_credential_values_never_reach_the_log(
    credentials_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        source_of("rtsp://u:${credential:camera-password}@h/s", credentials_dir)
        with pytest.raises(ConfigError):
            source_of("rtsp://u:${credential:camera-password}${credential:x}@h/", credentials_dir)
    assert SECRET not in caplog.text
