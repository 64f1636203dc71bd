"""A hostile client against the metrics port: the demo camera's fps before and during, one run.

    python benchmarks/request_flood.py [--seconds 10] [--clients 2] [--chars 65000]
                                       [--log-level info|debug] [--config FILE]

Starts ``camera-app run`` on the demo source, counts frames processed (from ``/metrics``) for
``--seconds``, then again while ``--clients`` threads send ``GET /`` followed by ``--chars``
letters without ``://`` to the metrics port, as fast as it answers (issue 14, finding 1: the
request line was redacted by a quadratic regex while holding the GIL). Prints both rates and
their ratio (goal: during / before >= 0.9). ``--log-level debug`` makes the server log (and so
redact) every request line, the worst case.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

_PROCESSED = re.compile(r'^camera_app_frames_processed_total\{camera="[^"]*"\} ([0-9.e+]+)$', re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processed(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read().decode()
    return sum(float(v) for v in _PROCESSED.findall(body))


def rate(port: int, seconds: float) -> tuple[float, float]:
    """Frames processed per second over ``seconds``, and how many."""
    n0, t0 = processed(port), time.monotonic()
    time.sleep(seconds)
    n1, t1 = processed(port), time.monotonic()
    return (n1 - n0) / (t1 - t0), n1 - n0


def flood(port: int, chars: int, stop: threading.Event, sent: list[int]) -> None:
    line = b"GET /" + b"a" * chars + b" HTTP/1.0\r\n\r\n"
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(line)
                s.recv(1024)
            sent.append(1)
        except OSError:
            time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--chars", type=int, default=65000)
    parser.add_argument("--log-level", default="info", choices=["info", "debug"])
    parser.add_argument("--config", help="camera-app config (default: the demo camera)")
    args = parser.parse_args()

    port = free_port()
    cmd = [sys.executable, "-m", "camera_app", "--log-level", args.log_level, "run"]
    cmd += ["--config", args.config] if args.config else []
    cmd += ["--metrics-address", f"127.0.0.1:{port}", "--http-address", f"127.0.0.1:{free_port()}"]
    quiet = subprocess.DEVNULL
    app = subprocess.Popen(cmd, stdout=quiet, stderr=quiet, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if processed(port) > 0:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or app.poll() is not None:
                sys.exit("request_flood: the app did not start processing within 60 s")
            time.sleep(0.5)
        time.sleep(2)  # past the first frames' warm-up
        before, n_before = rate(port, args.seconds)
        stop = threading.Event()
        sent: list[int] = []
        clients = [
            threading.Thread(target=flood, args=(port, args.chars, stop, sent), daemon=True)
            for _ in range(args.clients)
        ]
        for c in clients:
            c.start()
        during, n_during = rate(port, args.seconds)
        stop.set()
        for c in clients:
            c.join(15)
    finally:
        app.terminate()
        app.wait(30)
    print(f"log level {args.log_level}, {args.clients} clients, lines of {args.chars} chars")
    print(f"frames/s before : {before:6.2f} ({n_before:.0f} frames in {args.seconds:g} s)")
    print(f"frames/s during : {during:6.2f} ({n_during:.0f} frames; {len(sent)} requests answered)")
    ratio = during / before if before else float("nan")
    print(f"during / before : {ratio:6.3f}  ({'MET' if ratio >= 0.9 else 'MISSED'}: goal >= 0.9)")


if __name__ == "__main__":
    main()
