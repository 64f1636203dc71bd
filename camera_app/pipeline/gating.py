"""From the config to each camera's gate (detect_fps, motion), and from the gates to the status.

Kept apart from ``app`` (the composition root) and ``gate`` (pure bookkeeping): this is where a
camera's own settings fall back on the defaults for all cameras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from camera_app.config import AppConfig, CameraConfig, reads_every_frame
from camera_app.config_motion import MotionConfig
from camera_app.pipeline.board import FrameBoard, MotionCheck
from camera_app.pipeline.gate import GatePolicy, GateSnapshot
from camera_app.pipeline.motion import MotionDetector
from camera_app.sources.capture import DropReason

__all__ = ["camera_gates", "camera_policy", "gate_status", "gate_status_of", "longest_result_gap_s"]


def camera_policy(cfg: AppConfig, cam: CameraConfig) -> tuple[GatePolicy, MotionConfig]:
    """A camera's detect_fps and motion settings: its own, else the defaults for all; none
    for a file read with ``realtime: false``, which has every frame processed."""
    motion = cam.motion if cam.motion is not None else cfg.motion
    if reads_every_frame(cam):
        motion = replace(motion, enabled=False)
        return GatePolicy(None, False, motion.keepalive_s), motion
    fps = cam.detect_fps if cam.detect_fps is not None else cfg.detection.detect_fps
    return GatePolicy(fps or None, motion.enabled, motion.keepalive_s), motion


def camera_gates(cfg: AppConfig) -> tuple[dict[str, GatePolicy], dict[str, MotionCheck]]:
    """Each camera's gate policy, and a motion check for each camera with motion enabled."""
    policies: dict[str, GatePolicy] = {}
    checks: dict[str, MotionCheck] = {}
    for cam in cfg.cameras:
        policies[cam.name], motion = camera_policy(cfg, cam)
        if motion.enabled:
            checks[cam.name] = MotionDetector(motion).moving
    return policies, checks


def longest_result_gap_s(cfg: AppConfig, cam: CameraConfig) -> float:
    """The longest a healthy camera may go between two results: its keep-alive while nothing
    moves (with motion gating), else one detect_fps interval; 0 without either."""
    policy = camera_policy(cfg, cam)[0]
    return max(policy.keepalive_s if policy.gated else 0.0, policy.interval_s)


def gate_status_of(board: FrameBoard) -> Callable[[str], dict[str, Any]]:
    """A telemetry ``camera_status`` hook: a camera's gate fields, read from ``board``."""

    def status(camera: str) -> dict[str, Any]:
        gate = next(g for g in board.gate_snapshots() if g.camera == camera)
        return gate_status(gate, board.slots[camera].drops())

    return status


def gate_status(gate: GateSnapshot, drops: Mapping[DropReason, int]) -> dict[str, Any]:
    """A camera's detect limit, motion and skipped runs for /api/status, and the one line the
    status page shows of them (``gate``)."""
    skipped = {r.value: drops.get(r, 0) for r in (DropReason.NO_MOTION, DropReason.RATE_LIMIT)}
    parts = [f"at most {gate.detect_fps:g}/s" if gate.detect_fps else "no rate limit"]
    if gate.gated and gate.frames_seen == 0:
        parts.append("motion: no frames yet")  # not "still": nothing was looked at
    elif gate.gated:
        state = "active" if gate.active else "still"
        parts.append(f"motion {state}, {gate.recent_motion_fraction:.0%} of recent frames")
    else:
        parts.append("motion gating off")
    parts.append("skipped " + ", ".join(f"{k} {n}" for k, n in skipped.items()))
    return {
        "detect_fps_limit": gate.detect_fps or None,
        "motion_active": gate.active if gate.gated else None,
        "motion_fraction": round(gate.recent_motion_fraction, 3) if gate.gated else None,
        "skipped": skipped,
        "gate": "; ".join(parts),
    }
