"""Loopback servers for the tests: a scripted RTSP/HTTP responder, a silent one, a real RTSP one.

``TinyServer(handler)`` accepts connections on 127.0.0.1 and, for every request head it reads
(up to a blank line), sends ``handler(request)``; ``None`` means say nothing and keep the
connection open (a server that accepts but never answers). Every socket has a timeout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

Handler = Callable[[str], bytes | None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rtsp_reply(status: int, reason: str, *headers: str, cseq: str = "1") -> bytes:
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {cseq}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def cseq_of(request: str) -> str:
    for line in request.split("\r\n"):
        if line.lower().startswith("cseq:"):
            return line.split(":", 1)[1].strip()
    return "0"


class TinyServer:
    def __init__(self, handler: Handler, *, hang_up: bool = False) -> None:
        self.handler = handler
        self.hang_up = hang_up  # close the connection after a reply (a camera that drops)
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="tiny-accept", daemon=True)

    def __enter__(self) -> TinyServer:
        self._accepter.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._accepter.join(5.0)
        for thread in self._threads:
            thread.join(5.0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            data = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, _, data = data.partition(b"\r\n\r\n")
                    request = head.decode("latin-1")
                    self.requests.append(request)
                    reply = self.handler(request)
                    if reply is not None:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            return
                        if self.hang_up:
                            return


def mjpeg_reply(frames: list[bytes], boundary: str = "frame") -> bytes:
    """An HTTP MJPEG camera's answer: ``multipart/x-mixed-replace`` with these JPEGs."""
    head = (
        f"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary={boundary}\r\n\r\n"
    ).encode()
    parts = [
        f"--{boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + b"\r\n"
        for jpeg in frames
    ]
    return head + b"".join(parts)


# -- the real RTSP server (tests/rtsp_server.py under the system python) ---------------------

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "rtsp_server.py"
GST_ELEMENTS = ("multifilesrc", "jpegdec", "videoconvert", "openh264enc", "h264parse", "rtph264pay")
_CHECK_GST = """
import sys, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in sys.argv[1:] if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""


def gst_rtsp_status() -> tuple[bool, str]:
    """(importable, missing elements or the import error) for the system python."""
    if not os.path.exists(SYSTEM_PYTHON):
        return False, f"{SYSTEM_PYTHON} does not exist"
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", _CHECK_GST, *GST_ELEMENTS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return False, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    return True, done.stdout.strip()


def rtsp_answers(port: int, timeout_s: float) -> bool:
    """True if an RTSP server on 127.0.0.1:port answers OPTIONS within timeout_s."""
    request = f"OPTIONS rtsp://127.0.0.1:{port}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(request)
            return sock.recv(64).startswith(b"RTSP/1.0")
    except OSError:
        return False


class RtspServerProcess:
    """One tests/rtsp_server.py process serving ``frames`` (a printf pattern) on loopback, or
    with ``videos`` (H.264 MP4s, ``frames`` then unused) each one as it is at /cam0, /cam1, ..."""

    def __init__(
        self,
        frames: str,
        workdir: Path,
        *,
        path: str = "/cam",
        fps: int = 15,
        user: str | None = None,
        password: str | None = None,
        videos: Sequence[Path] = (),
    ) -> None:
        self.frames, self.workdir, self.path, self.fps = frames, workdir, path, fps
        self.videos = tuple(videos)
        self.user, self.password = user, password
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def url(self, path: str | None = None, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"rtsp://{at}127.0.0.1:{self.port}{path if path is not None else self.path}"

    def log_tail(self) -> str:
        logs = sorted(self.workdir.glob("rtsp-server-*.log"))
        return logs[-1].read_text(errors="replace")[-2000:] if logs else ""

    def start(self, timeout_s: float = 30.0) -> RtspServerProcess:
        """Start (again, on the same port once it has one) and wait until it answers."""
        self._starts += 1
        ready = self.workdir / f"rtsp-server-{self._starts}.ready"
        log = self.workdir / f"rtsp-server-{self._starts}.log"
        what = [a for v in self.videos for a in ("--video", str(v))] or ["--frames", self.frames]
        args = [
            SYSTEM_PYTHON,
            str(RTSP_SERVER_SCRIPT),
            *what,
            "--port",
            str(self.port),
            "--path",
            self.path,
            "--fps",
            str(self.fps),
            "--ready-file",
            str(ready),
        ]
        env = dict(os.environ)
        if self.user is not None:
            args += ["--user", self.user]
            env["RTSP_TEST_PASSWORD"] = self.password or ""
        with open(log, "wb") as out:
            self._proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"rtsp_server.py exited early:\n{self.log_tail()}")
            if ready.exists() and ready.read_text().strip():
                self.port = int(ready.read_text())
                if rtsp_answers(self.port, 2.0):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rtsp_server.py did not answer in {timeout_s} s:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """Terminate (or kill at once), wait with a timeout, kill if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            if proc is not None:
                proc.wait(5.0)
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10.0)
