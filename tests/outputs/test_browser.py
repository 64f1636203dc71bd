"""The status page in a real browser: Debian's headless Chromium renders it, runs its script
and shows the MJPEG live view. CI installs chromium (.ci/apt-packages.txt)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.outputs.conftest import SECRET, Web

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TIMEOUT_S = 90.0

pytestmark = pytest.mark.slow


def run_chromium(
    url: str, workdir: Path, size_wh: tuple[int, int] = (1280, 800)
) -> tuple[str, Path]:
    """Loads ``url``; returns the DOM after the scripts ran, and a screenshot of ``size_wh``."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; see .ci/apt-packages.txt)")
    screenshot = workdir / "page.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={workdir / 'profile'}",
        # Virtual time runs once the page has loaded: every <img> needs a first part by then.
        "--virtual-time-budget=3000", f"--screenshot={screenshot}", "--dump-dom",
        f"--window-size={size_wh[0]},{size_wh[1]}", url,
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(workdir)}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=BROWSER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the browser's own process group
            proc.communicate(timeout=10)
            pytest.fail(f"chromium did not finish within {BROWSER_TIMEOUT_S:.0f} s")
    dom = out.decode(errors="replace")
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    assert screenshot.exists(), err.decode(errors="replace")[-2000:]
    return dom, screenshot


def test_status_page_in_headless_chromium(web: Web, tmp_path: Path) -> None:
    web.feeder.start("door")  # solid red frames; "yard" has none (placeholder)
    dom, screenshot = run_chromium(web.base + "/", tmp_path)

    # The page was rendered with door "connecting"; only /api/status says "streaming", so
    # seeing it proves the script ran and fetched the status.
    assert web.status.calls >= 2
    assert 'data-camera="door" data-state="streaming"' in dom
    assert 'data-camera="yard" data-state="backing_off"' in dom
    assert '<p id="updated">updated ' in dom
    assert "refused: &lt;b&gt;refused&lt;/b&gt; &amp; gone" in dom
    assert '<dd data-field="outputs_failing">record, events</dd>' in dom
    assert "rtsp://***:***@10.0.0.5:554/live?token=***" in dom
    assert SECRET not in dom
    assert web.live.jpeg_encodes_total("door") > 0

    image = cv2.imread(str(screenshot))
    assert image is not None
    assert image.shape == (800, 1280, 3)
    b, g, r = (image[..., i].astype(int) for i in range(3))
    red = (r > 200) & (g < 60) & (b < 60)
    left, right = red[:, :640], red[:, 640:]
    # door's card is on the left: its live view fills a large red area, yard's has none.
    assert left.sum() > 100_000, f"{left.sum()} red pixels in door's card"
    assert right.sum() == 0
    placeholder = (np.abs(image[..., :3].astype(int) - 43).max(axis=2) <= 4)[:, 640:]
    assert placeholder.sum() > 50_000, "yard's placeholder is not shown"
