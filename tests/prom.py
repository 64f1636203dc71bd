"""A real Prometheus server for the tests: ``start_prometheus(targets)`` and ``query(expr)``.

``PrometheusProcess`` runs Debian's ``/usr/bin/prometheus`` on a free loopback port with a
temporary storage folder and a 1 s scrape interval, waits until it is ready, and stops it
(terminate, wait, kill). Use the ``start_prometheus`` fixture (import it into the test module)::

    def test_x(start_prometheus):
        prom = start_prometheus(["127.0.0.1:9108"])
        prom.wait_for_scrapes(5, timeout_s=30)
        value = prom.query_value("rate(camera_app_frames_processed_total[10s])")

Every wait is bounded; every address is loopback.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
JOB = "camera-app"


def have_prometheus() -> bool:
    return Path(PROMETHEUS).is_file() and shutil.which(PROMETHEUS) is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusError(RuntimeError):
    pass


class PrometheusProcess:
    def __init__(
        self, targets: Sequence[str], workdir: Path, scrape_interval_s: float = 1.0
    ) -> None:
        for target in targets:
            host = target.rpartition(":")[0]
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                raise ValueError(f"only loopback targets in tests, got {target!r}")
        self.targets = list(targets)
        self.workdir = workdir
        self.scrape_interval_s = scrape_interval_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        interval = f"{int(self.scrape_interval_s * 1000)}ms"
        return (
            "global:\n"
            f"  scrape_interval: {interval}\n"
            f"  scrape_timeout: {interval}\n"
            f"  evaluation_interval: {interval}\n"
            "scrape_configs:\n"
            f"  - job_name: {JOB}\n"
            "    static_configs:\n"
            f"      - targets: {json.dumps(self.targets)}\n"
        )

    def start(self, ready_timeout_s: float = 30.0) -> PrometheusProcess:
        config = self.workdir / "prometheus.yml"
        config.write_text(self.config_text(), encoding="utf-8")
        for _attempt in range(3):  # a free port can be taken between free_port() and bind
            self.port = free_port()
            storage = self.workdir / f"data-{self.port}"
            with open(self._log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    [
                        PROMETHEUS,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--storage.tsdb.retention.time=1h",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(ready_timeout_s):
                return self
            self.stop()
        raise PrometheusError(f"prometheus did not become ready; its log:\n{self.log_tail()}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as r:
                    if r.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        return False

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- HTTP API ---------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10.0) as r:
                doc = json.loads(r.read())
        except urllib.error.HTTPError as exc:  # 400/422 carry the error as JSON
            doc = json.loads(exc.read() or b"{}")
        if doc.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_value(self, expr: str) -> float:
        """The single value of an instant query; raises if it has not exactly one series."""
        result = self.query(expr)
        if len(result) != 1:
            raise PrometheusError(f"{expr}: expected one series, got {result}")
        return float(result[0]["value"][1])

    def wait_for(
        self, expr: str, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float
    ) -> list[dict[str, Any]]:
        """Query ``expr`` every 0.5 s until ``done(result)``; the last result, or raise."""
        deadline = time.monotonic() + timeout_s
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(0.5)
        raise PrometheusError(
            f"{expr}: still {result} after {timeout_s:g} s; prometheus log:\n{self.log_tail()}"
        )

    def wait_for_scrapes(self, count: int, timeout_s: float) -> None:
        """Wait until every target was scraped successfully at least ``count`` times."""
        expr = f'count_over_time(up{{job="{JOB}"}}[1h]) and up{{job="{JOB}"}} == 1'
        self.wait_for(
            expr,
            lambda r: len(r) == len(self.targets) and all(float(s["value"][1]) >= count for s in r),
            timeout_s,
        )


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusProcess]]:
    """``start_prometheus(targets, scrape_interval_s=1.0)`` -> a ready Prometheus; stopped after."""
    if not have_prometheus():
        pytest.skip(f"{PROMETHEUS} is absent (Debian package prometheus, see .ci/apt-packages.txt)")
    started: list[PrometheusProcess] = []

    def start(targets: Sequence[str], scrape_interval_s: float = 1.0) -> PrometheusProcess:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        prom = PrometheusProcess(targets, workdir, scrape_interval_s)
        started.append(prom)
        return prom.start()

    yield start
    for prom in started:
        prom.stop()
