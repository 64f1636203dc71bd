"""Motion gating at scale (issue 18): 1, 2, 4 and 8 cameras of 15 fps live RTSP streams.

    export CAMERA_APP_MODEL_PATH=../shared/models
    python benchmarks/motion_scale.py [--sizes 1,2,4,8] [--seconds 20] [--workdir DIR]
    python benchmarks/motion_scale.py --detect-fps 15    # every frame: more than the model can

The real ``App`` with its defaults (one interpreter x 2 threads, detect_fps 5, motion gating on)
on N RTSP streams from one real server (tests/rtsp_server.py under the system python): each
camera its own H.264 MP4, encoded once before anything is timed and served as it is (no
re-encoding, so the server stays cheap), 640x360 at 15 fps. The scene (tests/clips.py: the rocket
photo, sensor noise, JPEG round trip) always has something moving: a person walks across for
10 s, then a cat walks back for 10 s; camera k's clip starts ``k / 8`` of that 20 s period later.
The sizes run one after another in one run, each with a fresh App and fresh RTSP sessions.

Per size, over ``--seconds`` (one period by default, so every camera shows the same scene) after
every camera's first result and 2 s of warm-up: each camera's frames processed (results) and
frames captured, its motion fraction; the fairness ratio, slowest over fastest among the
cameras with motion (in at least half of their frames; target >= 0.8); and the pipeline's own
share of the latency, end to end (capture to results) minus that frame's ``invoke()``, p50 and
p99 over all results, against one frame interval (target p99 <= 66.7 ms). Also the process's
CPU and the other processes' (the RTSP server among them).
"""

from __future__ import annotations

# camera_app.sources sets OpenCV's environment; it must come before anything imports cv2.
import camera_app.sources  # noqa: F401

# isort: split

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.motion_gate import collect_results
from benchmarks.pipeline import OtherLoad, cpu_seconds, loadavg, q
from camera_app.app import App
from camera_app.config import AppConfig, CameraConfig, HttpConfig, MetricsConfig, default_config
from tests.clips import Camera, Entry, SceneClip
from tests.sources.servers import RtspServerProcess

MODEL = "ssd_mobilenet_v1_coco_quant"
FPS = 15
SIZE_WH = (640, 360)
PERIOD = 300  # frames: 20 s
MAX_CAMERAS = 8
FILE_PERIODS = 3  # each file 60 s: connect, warm-up and the window fit in one play
WARMUP_S = 2.0
WITH_MOTION = 0.5  # a camera with motion in at least this fraction of its frames
ENTRIES = (
    Entry(0, 150, "person", "astronaut", height=0.5, x0=0.05, speed=0.0045, walk=150),
    Entry(150, 300, "cat", "chelsea", height=0.45, x0=0.6, y=0.45, speed=-0.0035, walk=150),
)


def encode(frames: list[np.ndarray], path: Path) -> None:
    """``frames`` (BGR) as an H.264 MP4 at 15 fps, by GStreamer's openh264 (raw frames on stdin)."""
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        raise RuntimeError("gst-launch-1.0 is needed to encode the clips (gstreamer1.0-tools)")
    w, h = SIZE_WH
    tmp = path.with_suffix(".tmp.mp4")
    pipeline = [
        gst, "-q", "-e", "fdsrc", "fd=0", "!", "rawvideoparse", f"width={w}", f"height={h}",
        "format=bgr", f"framerate={FPS}/1", "!", "videoconvert", "!", "video/x-raw,format=I420",
        "!", "openh264enc", "bitrate=800000", f"gop-size={FPS}", "complexity=low", "!",
        "h264parse", "!", "mp4mux", "!", "filesink", f"location={tmp}",
    ]  # fmt: skip
    with subprocess.Popen(pipeline, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for f in frames:
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
        proc.stdin.close()
        if proc.wait(timeout=300) != 0:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"encoding {path} failed: {err[-500:]}")
    tmp.rename(path)


def clips(workdir: Path, count: int) -> list[Path]:
    """Camera k's MP4 for k < ``count``: the period from frame ``k * PERIOD / 8`` on,
    ``FILE_PERIODS`` times (made once per workdir)."""
    paths = [workdir / f"scale_cam{k}.mp4" for k in range(count)]
    if all(p.exists() for p in paths):
        return paths
    print(f"rendering the {PERIOD / FPS:g} s clip and encoding {count} MP4s ...", flush=True)
    clip = SceneClip(SIZE_WH, ENTRIES, Camera(6.0, 70, noise_bank=16))
    period = clip.frames(PERIOD)
    for k, path in enumerate(paths):
        if not path.exists():
            start = k * PERIOD // MAX_CAMERAS
            encode([period[(start + n) % PERIOD] for n in range(FILE_PERIODS * PERIOD)], path)
    return paths


def app_config(urls: list[str], detect_fps: float | None) -> AppConfig:
    cfg = default_config()
    if detect_fps is not None:
        cfg = replace(cfg, detection=replace(cfg.detection, detect_fps=detect_fps))
    cams = tuple(CameraConfig(name=f"cam{k}", source=u) for k, u in enumerate(urls))
    return replace(
        cfg,
        model=replace(cfg.model, path=MODEL, threads=2, interpreters=1),
        cameras=cams,
        http=HttpConfig(enabled=False),
        metrics=MetricsConfig(enabled=False),
    )


def one_size(urls: list[str], seconds: float, detect_fps: float | None) -> bool:
    """Runs the App on ``urls``; prints the size's figures; whether both targets were met."""
    app = App(app_config(urls, detect_fps))
    names = [c.name for c in app.cfg.cameras]
    results = collect_results(app)
    app.start()
    try:
        deadline = time.monotonic() + 30.0
        while not all(results.values()):  # every stream opened and gave a result
            if time.monotonic() > deadline:
                raise RuntimeError(f"no result from every camera in 30 s: {app.telemetry.status()}")
            time.sleep(0.1)
        time.sleep(WARMUP_S)
        others = OtherLoad()
        t0, c0 = time.monotonic(), cpu_seconds()
        gates0 = {g.camera: g for g in app.board.gate_snapshots()}
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_seconds()
        gates1 = {g.camera: g for g in app.board.gate_snapshots()}
        other = others.describe()
        status = app.telemetry.status()
    finally:
        hung = app.stop()
        if hung:
            print(f"WARNING: still running after stop: {', '.join(hung)}", flush=True)
    span = t1 - t0
    interval_s = 1.0 / FPS
    print(f"\n{len(urls)} camera(s): {span:.1f} s, process {(c1 - c0) / span:.2f} cores, {other}, "
          f"load {loadavg()}")  # fmt: skip
    processed: dict[str, int] = {}
    shares: list[float] = []
    moving_cams = []
    for cam in names:
        got = [r for r in results[cam] if t0 <= r.done_monotonic_s < t1]
        processed[cam] = len(got)
        shares += [r.latency_s - r.times.invoke_s for r in got]
        seen = gates1[cam].frames_seen - gates0[cam].frames_seen
        moving = gates1[cam].frames_moving - gates0[cam].frames_moving
        fraction = moving / seen if seen else 0.0
        if fraction >= WITH_MOTION:
            moving_cams.append(cam)
        reconnects = next(c["reconnects"] for c in status["cameras"] if c["name"] == cam)
        print(f"  {cam}: processed {len(got):4d} ({len(got) / span:4.2f}/s), captured {seen:4d} "
              f"({seen / span:4.1f} fps), motion in {fraction:4.0%} of frames, "
              f"reconnects {reconnects}")  # fmt: skip
    counts = [processed[c] for c in moving_cams]
    fair = min(counts) / max(counts) if counts and max(counts) > 0 else float("nan")
    p50, p99 = q(shares, 0.5), q(shares, 0.99)
    fair_ok, share_ok = fair >= 0.8, p99 <= interval_s
    print(f"  fairness (slowest / fastest of the {len(counts)} with motion): {fair:.2f} "
          f"(target >= 0.8: {'met' if fair_ok else 'NOT met'})")  # fmt: skip
    worst = max(shares, default=float("nan"))
    print(f"  pipeline share (end to end - invoke), {len(shares)} results: p50 {p50 * 1e3:.1f} "
          f"ms, p99 {p99 * 1e3:.1f} ms, max {worst * 1e3:.1f} ms against a frame's "
          f"{interval_s * 1e3:.1f} ms ({'met' if share_ok else 'NOT met'})")  # fmt: skip
    return fair_ok and share_ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1,2,4,8", help="numbers of cameras, run in this order")
    p.add_argument("--seconds", type=float, default=PERIOD / FPS, help="window per size")
    p.add_argument("--workdir", help="keep the encoded clips here for the next run")
    p.add_argument("--detect-fps", type=float, help="detection.detect_fps (default: the config's)")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not all(1 <= n <= MAX_CAMERAS for n in sizes):
        print(f"motion_scale: --sizes: expected numbers from 1 to {MAX_CAMERAS}, got {args.sizes}")
        return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cam-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    videos = clips(workdir, max(sizes))
    fps = args.detect_fps if args.detect_fps is not None else default_config().detection.detect_fps
    print(f"load average {loadavg()} before; sizes {sizes}, {args.seconds:g} s each, "
          f"detect_fps {fps:g}", flush=True)  # fmt: skip
    server = RtspServerProcess("", workdir, videos=videos)
    ok = True
    try:
        server.start(timeout_s=30.0)
        for n in sizes:
            urls = [server.url(f"/cam{k}") for k in range(n)]
            ok = one_size(urls, args.seconds, args.detect_fps) and ok
    finally:
        server.stop()
    print(f"\nall targets met: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
