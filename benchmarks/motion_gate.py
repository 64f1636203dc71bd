"""Motion gating's acceptance benchmark (issue 18), side by side in one run.

    export CAMERA_APP_MODEL_PATH=../shared/models
    python benchmarks/motion_gate.py gating [--seconds 20] [--rounds 2] [--keepalive S]
        [--motion KEY=VALUE ...]   # other motion: settings for the gating arm, e.g. alpha=0.2
    python benchmarks/motion_gate.py detector [--frames 300]

``gating``: the real ``App`` (one interpreter, two threads, the default detect_fps) with four
cameras, each playing the same 60 s clip of a mostly still scene (tests/clips.py: the rocket
photo with sensor noise and a JPEG round trip on every frame, 1280x720 at 15 fps, no decode)
15 s apart, so their entries come at different times: a person walks in at 5 s, stands still
from 6.5 s, is gone at 20 s; a cat comes at 35 s and is gone at 50 s. With motion gating and
without it alternate in rounds (``--rounds``, each ``--seconds`` long), so a busy machine slows
both alike. Per arm: the process's CPU seconds per minute (user + system), inference runs, and
for every entry in the rounds the delay from the entry frame's capture to the first result that
finds it (label, IoU >= 0.3 with the pasted photo), against one inference plus one frame
interval (the bound in the issue). A third arm, "today", runs without a detect_fps limit too
(every frame as fast as the interpreter allows, as before issue 18).

``detector``: the motion detector alone on 1080p frames of the clip (still frames and frames
with the person walking): CPU time per frame, beside a bare ``cv2.resize`` of the same frame to
the model's 300x300 (the cheapest thing the pipeline does to a frame anyway).
"""

from __future__ import annotations

# camera_app.sources sets OpenCV's environment; it must come before anything imports cv2.
import camera_app.sources  # noqa: F401

# isort: split

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camera_app.app import App
from camera_app.config import (
    AppConfig,
    CameraConfig,
    HttpConfig,
    MetricsConfig,
    default_config,
)
from camera_app.config_motion import MotionConfig
from camera_app.pipeline.motion import MotionDetector
from camera_app.pipeline.types import Result
from camera_app.sources.base import Pacer
from camera_app.sources.capture import DropReason
from tests.clips import Camera, Entry, SceneClip

MODEL = "ssd_mobilenet_v1_coco_quant"
FPS = 15.0
CLIP_S = 60
CAMERAS = 4
ENTRIES = (
    Entry(75, 300, "person", "astronaut", height=0.5, walk=22, speed=0.01),
    Entry(525, 750, "cat", "chelsea", height=0.45, x0=0.5, y=0.45, walk=20, speed=0.008),
)
WARMUP_S = 2.0


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def q(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class ClipSource:
    """Plays the rendered clip from ``offset`` at 15 fps, remembering when each frame was read."""

    description = "clip"
    lossless = False

    def __init__(self, frames: list[np.ndarray], offset: int) -> None:
        self._frames = frames
        self.offset = offset
        self._pacer = Pacer(FPS)
        self.read_s: list[float] = []

    def open(self, timeout_s: float) -> None:
        self._pacer.reset()

    def read(self, timeout_s: float) -> np.ndarray:
        self._pacer.wait()
        k = len(self.read_s)
        self.read_s.append(time.monotonic())
        return self._frames[(self.offset + k) % len(self._frames)]

    def close(self) -> None:
        """Nothing to release."""


KEEPALIVE_S: list[float] = []  # --keepalive, else the default
MOTION: dict[str, float] = {}  # --motion KEY=VALUE: other motion settings


def app_config(gated: bool, limited: bool = True) -> AppConfig:
    cfg = default_config()
    if not limited:
        cfg = replace(cfg, detection=replace(cfg.detection, detect_fps=0.0))
    cams = tuple(CameraConfig(name=f"cam{i}", source="demo") for i in range(CAMERAS))
    keepalive_s = KEEPALIVE_S[0] if KEEPALIVE_S else cfg.motion.keepalive_s
    return replace(
        cfg,
        model=replace(cfg.model, path=MODEL, threads=2, interpreters=1),
        motion=replace(cfg.motion, enabled=gated, keepalive_s=keepalive_s, **MOTION),
        cameras=cams,
        http=HttpConfig(enabled=False),
        metrics=MetricsConfig(enabled=False),
    )


@dataclass
class Arm:
    name: str
    cpu_s: float = 0.0
    seconds: float = 0.0
    runs: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    delays_s: list[float] = field(default_factory=list)
    missed: int = 0
    invoke_s: list[float] = field(default_factory=list)
    frames_seen: int = 0  # by the motion detector (gating only)
    frames_moving: int = 0


def collect_results(app: App) -> dict[str, list[Result]]:
    """Each camera's results, appended as they come (from the dispatcher thread)."""
    results: dict[str, list[Result]] = {c.name: [] for c in app.cfg.cameras}
    lock = threading.Lock()

    def observe(r: Result) -> None:
        with lock:
            results[r.camera].append(r)

    app.telemetry.hooks.on_result.append(observe)
    return results


def one_round(arm: Arm, frames: list[np.ndarray], clip: SceneClip, seconds: float) -> None:
    sources: list[ClipSource] = []

    def source_for(cam: CameraConfig) -> ClipSource:
        src = ClipSource(frames, offset=len(sources) * len(frames) // CAMERAS)
        sources.append(src)
        return src

    app = App(app_config(arm.name == "gating", limited=arm.name != "today"), source_for=source_for)
    results = collect_results(app)
    app.start()
    try:
        time.sleep(WARMUP_S)
        t0, c0, runs0 = time.monotonic(), cpu_s(), app.telemetry.frames_processed
        drops0 = [c.snapshot().drops for c in app.captures]
        gates0 = app.board.gate_snapshots()
        time.sleep(seconds)
        t1, c1, runs1 = time.monotonic(), cpu_s(), app.telemetry.frames_processed
        drops1 = [c.snapshot().drops for c in app.captures]
        gates1 = app.board.gate_snapshots()
    finally:
        hung = app.stop()
        if hung:
            print(f"WARNING: still running after stop: {', '.join(hung)}", flush=True)
    arm.cpu_s += c1 - c0
    arm.seconds += t1 - t0
    arm.runs += runs1 - runs0
    arm.frames_seen += sum(g.frames_seen for g in gates1) - sum(g.frames_seen for g in gates0)
    arm.frames_moving += sum(g.frames_moving for g in gates1) - sum(g.frames_moving for g in gates0)
    for reason in (DropReason.NO_MOTION, DropReason.RATE_LIMIT):
        n = sum(
            d1.get(reason, 0) - d0.get(reason, 0) for d0, d1 in zip(drops0, drops1, strict=True)
        )
        arm.skipped[reason.value] = arm.skipped.get(reason.value, 0) + n
    n_frames = len(frames)
    for src, cam in zip(sources, app.cfg.cameras, strict=True):
        got = sorted(results[cam.name], key=lambda r: r.frame.sequence)
        arm.invoke_s += [r.times.invoke_s for r in got]
        for k, read_s in enumerate(src.read_s):
            idx = (src.offset + k) % n_frames
            for e in ENTRIES:
                # entries whose frame was read in the window, with time left to be found
                if idx != e.start or not t0 <= read_s <= t1 - 2.0:
                    continue
                found = None
                for r in got:
                    seq = r.frame.sequence
                    if seq < k or seq >= k + (e.end - e.start):
                        continue
                    truth = [b for x, b in clip.truth((src.offset + seq) % n_frames) if x is e]
                    boxes = r.detections.boxes_xyxy
                    if truth and any(
                        label == e.label and iou(tuple(map(float, boxes[j])), truth[0]) >= 0.3
                        for j, label in enumerate(r.detections.labels)
                    ):
                        found = r
                        break
                if found is None:
                    arm.missed += 1
                else:
                    arm.delays_s.append(found.done_monotonic_s - read_s)


def cmd_gating(args: argparse.Namespace) -> int:
    print(f"rendering the {CLIP_S} s clip (1280x720, {FPS:g} fps) ...", flush=True)
    clip = SceneClip((1280, 720), ENTRIES, Camera(6.0, 70, noise_bank=16))
    frames = clip.frames(int(CLIP_S * FPS))
    arms = {name: Arm(name) for name in ("today", "no gating", "gating")}
    print(f"load average {os.getloadavg()[0]:.2f} before; {args.rounds} rounds of "
          f"{args.seconds:g} s per arm, arms alternating", flush=True)  # fmt: skip
    for r in range(args.rounds):
        for arm in arms.values():
            one_round(arm, frames, clip, args.seconds)
            print(f"  round {r + 1} {arm.name}: {arm.cpu_s:.1f} CPU s so far", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} after")
    invoke_s = statistics.median(arms["no gating"].invoke_s + arms["gating"].invoke_s)
    bound_s = invoke_s + 1 / FPS
    cfg = app_config(True)
    print(f"\n{CAMERAS} cameras x {FPS:g} fps, detect_fps {cfg.detection.detect_fps:g}, "
          f"keepalive_s {cfg.motion.keepalive_s:g}, alpha {cfg.motion.alpha:g}, "
          f"threshold {cfg.motion.threshold}"
          f"; invoke() p50 {invoke_s * 1e3:.1f} ms; bound one inference + one frame = "
          f"{bound_s * 1e3:.1f} ms")  # fmt: skip
    for arm in arms.values():
        per_min = arm.cpu_s / arm.seconds * 60
        d = arm.delays_s
        delays = (
            f"p50 {q(d, 0.5) * 1e3:.0f} ms, p99 {q(d, 0.99) * 1e3:.0f} ms, "
            f"max {max(d) * 1e3:.0f} ms, "
            f"{sum(x <= bound_s for x in d)}/{len(d)} within the bound"
            if d
            else "none"
        )
        moving = f", motion in {arm.frames_moving / arm.frames_seen:.1%} of frames" if (
            arm.frames_seen) else ""  # fmt: skip
        print(f"{arm.name:>10}: {per_min:5.1f} CPU s/min, {arm.runs / arm.seconds:5.2f} runs/s, "
              f"skipped {arm.skipped}{moving}; entries found {len(d)} of {len(d) + arm.missed}: "
              f"{delays}")  # fmt: skip
    gated = arms["gating"].cpu_s / arms["gating"].seconds
    for name in ("no gating", "today"):
        ratio = arms[name].cpu_s / arms[name].seconds / gated
        print(f"CPU ratio, {name} / gating: {ratio:.2f}x (target >= 3x)")
    return 0


def cmd_detector(args: argparse.Namespace) -> int:
    clip = SceneClip((1920, 1080), (Entry(args.frames // 2, 10**6, walk=10**6, speed=0.002),),
                     Camera(6.0, 70, noise_bank=8))  # fmt: skip
    frames = clip.frames(args.frames)
    half = args.frames // 2
    for threads in (cv2.getNumThreads(), 1):
        cv2.setNumThreads(threads)
        det = MotionDetector(MotionConfig())
        still, moving = [], []
        for i, f in enumerate(frames):
            c0 = time.process_time()
            m = det.detect(f)
            (moving if i >= half else still).append(time.process_time() - c0)
            if i >= half + 1 and not m.moving:
                print(f"WARNING: frame {i} shows no motion")
        resize = []
        for f in frames[:50]:
            c0 = time.process_time()
            cv2.resize(f, (300, 300), interpolation=cv2.INTER_LINEAR)
            resize.append(time.process_time() - c0)
        print(f"OpenCV threads {threads}: 1920x1080 frames, CPU ms per frame")
        for name, xs in (
            ("still", still[1:]),
            ("moving", moving),
            ("cv2.resize to 300x300", resize),
        ):
            print(f"  {name:>22}: p50 {q(xs, 0.5) * 1e3:.3f}  p99 {q(xs, 0.99) * 1e3:.3f}  "
                  f"mean {statistics.fmean(xs) * 1e3:.3f}")  # fmt: skip
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gating")
    g.add_argument("--seconds", type=float, default=20.0)
    g.add_argument("--rounds", type=int, default=2)
    g.add_argument("--keepalive", type=float, help="motion.keepalive_s (default: the config's)")
    g.add_argument("--motion", action="append", default=[], metavar="KEY=VALUE",
                   help="another motion: setting (a number), e.g. alpha=0.2")  # fmt: skip
    d = sub.add_parser("detector")
    d.add_argument("--frames", type=int, default=300)
    args = p.parse_args()
    if getattr(args, "keepalive", None):
        KEEPALIVE_S.append(args.keepalive)
    known = {f.name for f in fields(MotionConfig)} - {"enabled", "keepalive_s", "masks"}
    for item in getattr(args, "motion", []):
        key, _, value = item.partition("=")
        if key not in known:
            p.error(f"--motion {item}: expected KEY=VALUE with KEY one of {sorted(known)}")
        MOTION[key] = int(value) if key == "threshold" else float(value)
    return cmd_gating(args) if args.cmd == "gating" else cmd_detector(args)


if __name__ == "__main__":
    sys.exit(main())
