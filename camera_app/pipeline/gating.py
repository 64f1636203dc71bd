"""From the config to each camera's gate (detect_fps, motion), and from the gates to the status.

Kept apart from ``app`` (the composition root) and ``gate`` (pure bookkeeping): this is where a
camera's own settings fall back on the defaults for all cameras.
"""

from __future__ import annotations

from typing import Any

from camera_app.config import AppConfig
from camera_app.pipeline.board import MotionCheck
from camera_app.pipeline.gate import GatePolicy, GateSnapshot
from camera_app.pipeline.motion import MotionDetector
from camera_app.sources.capture import CaptureSnapshot, DropReason

__all__ = ["camera_gates", "gate_status"]


def camera_gates(cfg: AppConfig) -> tuple[dict[str, GatePolicy], dict[str, MotionCheck]]:
    """Each camera's detect_fps and motion settings (its own, else the defaults for all)."""
    policies: dict[str, GatePolicy] = {}
    checks: dict[str, MotionCheck] = {}
    for cam in cfg.cameras:
        motion = cam.motion if cam.motion is not None else cfg.motion
        fps = cam.detect_fps if cam.detect_fps is not None else cfg.detection.detect_fps
        policies[cam.name] = GatePolicy(fps or None, motion.enabled, motion.keepalive_s)
        if motion.enabled:
            checks[cam.name] = MotionDetector(motion).moving
    return policies, checks


def gate_status(gate: GateSnapshot, snap: CaptureSnapshot) -> dict[str, Any]:
    """A camera's detect limit, motion and skipped runs, as the status page shows them."""
    motion = "off"
    if gate.gated:
        share = f"{gate.recent_motion_fraction:.0%} of recent frames"
        motion = f"{'active' if gate.active else 'still'}, {share}"
    skipped = ", ".join(f"{r.value} {snap.drops.get(r, 0)}"
                        for r in (DropReason.NO_MOTION, DropReason.RATE_LIMIT))  # fmt: skip
    return {"detect_fps_limit": gate.detect_fps or None, "motion": motion, "skipped": skipped}
