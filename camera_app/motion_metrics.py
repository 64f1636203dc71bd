"""Prometheus families of each camera's gate, read from the frame board at scrape time.

    camera_app_motion_fraction{camera}         of the recent frames, the fraction with motion
    camera_app_motion_frames_total{camera}     frames in which the motion detector saw motion
    camera_app_detect_active{camera}           1 while motion (or tracks) keep inference running
    camera_app_detect_fps_limit{camera}        the camera's detect_fps (0: none)

Inference runs left out are ``camera_app_frames_dropped_total{reason="no_motion"|"rate_limit"}``
(``camera_app.metrics``), and each camera's detect rate is ``camera_app_fps``. Kept apart from
``camera_app.metrics`` so that module needs nothing of the board.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_app.pipeline.gate import GateSnapshot
from camera_app.redact import redact_text

__all__ = ["GateCollector"]

log = logging.getLogger(__name__)


class GateCollector(Collector):
    """Register on the metrics' registry with the board's ``gate_snapshots``."""

    def __init__(self, snapshots: Callable[[], Iterable[GateSnapshot]]) -> None:
        self._snapshots = snapshots

    def describe(self) -> list[Metric]:
        return list(self._families([]))

    def collect(self) -> Iterator[Metric]:
        try:
            snaps = list(self._snapshots())
        except Exception:  # a scrape must not fail because one part did
            log.exception("reading the gates for /metrics failed")
            snaps = []
        yield from self._families(snaps)

    @staticmethod
    def _families(snaps: list[GateSnapshot]) -> Iterator[Metric]:
        fraction = GaugeMetricFamily(
            "camera_app_motion_fraction",
            "Of the camera's recent frames, the fraction in which motion was seen.",
            labels=["camera"],
        )
        moving = CounterMetricFamily(
            "camera_app_motion_frames", "Frames in which motion was seen.", labels=["camera"]
        )
        active = GaugeMetricFamily(
            "camera_app_detect_active",
            "1 while motion (or tracks) keep inference running at the camera's rate; 0 while "
            "only the keep-alive runs.",
            labels=["camera"],
        )
        limit = GaugeMetricFamily(
            "camera_app_detect_fps_limit",
            "The camera's detect_fps: results per second at most (0: no limit).",
            labels=["camera"],
        )
        for snap in snaps:
            cam = [redact_text(snap.camera)]
            if snap.gated:
                fraction.add_metric(cam, snap.recent_motion_fraction)
                moving.add_metric(cam, snap.frames_moving)
            active.add_metric(cam, 1.0 if snap.active or not snap.gated else 0.0)
            limit.add_metric(cam, snap.detect_fps)
        yield from (fraction, moving, active, limit)
