"""When a camera's newest frame may go to inference: its detection rate, and motion gating.

A ``CameraGate`` is plain bookkeeping with the time passed in (the board calls it under its
lock, tests call it with made-up times). A camera may run when

- with ``gated``: it is *active* (motion within ``hold_s``, or its ``KeepActive`` says so: live
  tracks) or its keep-alive is due (``keepalive_s`` since its last run), else the reason is
  ``no_motion``;
- with ``detect_fps``: its next run on a ``1 / detect_fps`` cadence is due, else
  ``rate_limit``. A cadence (due times one interval apart, started afresh after a pause), not
  "an interval since the last run": frames come at the camera's rate, and a frame a hair early
  would otherwise wait for the next one, making the rate fall short (5 of 15 fps would give
  3.75). So results come at most ``detect_fps`` a second on average. The first frame of a
  motion *onset* (motion after a spell without, live tracks or not) is exempt and starts the
  cadence afresh, so that neither a keep-alive run just before the motion nor the cadence of a
  tracked object standing still can delay the first result of what just moved.

Nothing here waits: ``reason(now)`` says why not now (None: now), ``due_s(now)`` when at the
earliest, so the board can sleep exactly until then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from camera_app.sources.capture import DropReason

__all__ = ["CameraGate", "GatePolicy", "GateSnapshot", "KeepActive"]


class KeepActive(Protocol):
    """Something besides motion that needs a camera's inference now (the objects output: its
    live tracks). Called under the board's lock from capture and inference threads, so it must
    be quick, must not block and must not use the board."""

    def keeps_active(self, camera: str) -> bool: ...


@dataclass(frozen=True)
class GatePolicy:
    detect_fps: float | None = None  # None or 0: as often as the model can
    gated: bool = False  # motion gating on
    keepalive_s: float = 5.0
    hold_s: float = 0.5  # a camera stays active this long after its last frame with motion

    def __post_init__(self) -> None:
        if self.detect_fps is not None and self.detect_fps < 0:
            raise ValueError(f"detect_fps: expected >= 0, got {self.detect_fps!r}")
        if not self.keepalive_s > 0:
            raise ValueError(f"keepalive_s: expected > 0, got {self.keepalive_s!r}")
        if self.hold_s < 0:
            raise ValueError(f"hold_s: expected >= 0, got {self.hold_s!r}")

    @property
    def interval_s(self) -> float:
        """The least time between two runs of a camera (0: no limit)."""
        return 1.0 / self.detect_fps if self.detect_fps else 0.0


@dataclass(frozen=True)
class GateSnapshot:
    """One camera's gate at one moment, for metrics and the status page."""

    camera: str
    detect_fps: float  # the limit; 0: none
    gated: bool
    active: bool  # motion (or tracks) now: inference runs at the camera's rate
    frames_seen: int  # frames the motion detector looked at
    frames_moving: int  # of those, with motion
    recent_motion_fraction: float  # of the last frames, the fraction with motion


class CameraGate:
    """One camera's rate and gating state. Not thread-safe: the board holds its lock."""

    def __init__(
        self,
        camera: str,
        policy: GatePolicy,
        keep_active: KeepActive | None = None,
        recent_frames: int = 150,
    ) -> None:
        self.camera = camera
        self.policy = policy
        self.keep_active = keep_active  # live tracks, say: the camera runs at its rate
        self.last_run_s: float | None = None
        self._rate_due_s: float | None = None  # the next run on the detect_fps cadence
        self.last_motion_s: float | None = None
        self._onset = False  # motion began after a quiet spell and has not been run yet
        self.frames_seen = 0
        self.frames_moving = 0
        self._recent = [False] * max(1, recent_frames)
        self._recent_at = 0
        self._recent_moving = 0

    def moving(self, now_s: float) -> bool:
        """Motion within the last ``hold_s``."""
        last = self.last_motion_s
        return last is not None and now_s - last <= self.policy.hold_s

    def active(self, now_s: float) -> bool:
        """Motion, or its ``keep_active`` needs it: inference runs at the camera's rate."""
        if self.keep_active is not None and self.keep_active.keeps_active(self.camera):
            return True
        return self.moving(now_s)

    def saw(self, moving: bool, now_s: float) -> None:
        """The motion detector's verdict on a new frame of this camera."""
        self.frames_seen += 1
        old = self._recent[self._recent_at]
        self._recent[self._recent_at] = moving
        self._recent_at = (self._recent_at + 1) % len(self._recent)
        self._recent_moving += int(moving) - int(old)
        if moving:
            self.frames_moving += 1
            if not self.moving(now_s):
                self._onset = True
            self.last_motion_s = now_s

    def reason(self, now_s: float) -> DropReason | None:
        """Why this camera's frame may not run now; None: it may."""
        p = self.policy
        last = self.last_run_s
        if p.gated:
            if self.active(now_s):
                if self._onset:
                    return None
            elif last is not None and now_s - last < p.keepalive_s:
                return DropReason.NO_MOTION
        if self._rate_due_s is not None and now_s < self._rate_due_s:
            return DropReason.RATE_LIMIT
        return None

    def due_s(self, now_s: float) -> float:
        """The earliest time this camera may run without new motion (``now_s`` if now)."""
        if self.reason(now_s) is None:
            return now_s
        last = self.last_run_s if self.last_run_s is not None else now_s
        due = self._rate_due_s if self._rate_due_s is not None else now_s
        if self.policy.gated and not self.active(now_s):
            due = max(due, last + self.policy.keepalive_s)
        return max(due, now_s) if math.isfinite(due) else math.inf

    def ran(self, now_s: float) -> None:
        """A frame of this camera was taken for inference."""
        onset, self._onset = self._onset, False
        self.last_run_s = now_s
        interval = self.policy.interval_s
        if interval > 0:  # on the cadence if on time, else (and at an onset) from now
            due = self._rate_due_s
            on_time = due is not None and not onset and now_s - due < interval
            self._rate_due_s = (due if on_time and due is not None else now_s) + interval

    def snapshot(self, now_s: float) -> GateSnapshot:
        return GateSnapshot(
            camera=self.camera,
            detect_fps=self.policy.detect_fps or 0.0,
            gated=self.policy.gated,
            active=self.active(now_s),
            frames_seen=self.frames_seen,
            frames_moving=self.frames_moving,
            recent_motion_fraction=self._recent_moving
            / min(len(self._recent), max(1, self.frames_seen)),
        )
