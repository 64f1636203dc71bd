"""Options -> the detector's types, once: from the config (``run``) and from the command line
(``detect``, ``inspect``). The config's and the CLI's enums are the detector's own
(``camera_app.modes``), so values pass through unchanged. Loading is
``camera_app.detect.detector.load_detectors``, for every command."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from camera_app.config import AppConfig
from camera_app.detect.anchors import AnchorConfig
from camera_app.detect.detector import DetectorOptions
from camera_app.modes import ColourOrder, ResizeMode, RuntimeName

__all__ = ["detector_options", "options_from_args"]


def detector_options(cfg: AppConfig) -> DetectorOptions:
    """The config's model and detection sections as the detector's options."""
    m, d = cfg.model, cfg.detection
    anchors: Path | AnchorConfig | None
    if m.anchors is None or isinstance(m.anchors, str):
        anchors = None if m.anchors is None else Path(m.anchors)
    else:
        anchors = AnchorConfig(**asdict(m.anchors))
    return DetectorOptions(
        threshold=d.threshold,
        iou_threshold=d.iou_threshold,
        max_detections=d.max_detections,
        classes=tuple(d.classes),
        colour_order=m.colour_order,
        resize=m.resize,
        mean=m.normalization.mean,
        std=m.normalization.std,
        score_activation=m.score_activation,
        background=m.background_class,
        anchors=anchors,
        labels=Path(m.labels) if m.labels else None,
        label_offset=m.label_offset,
        threads=m.threads,
        runtime=m.runtime,
    )


def options_from_args(args: argparse.Namespace) -> DetectorOptions:
    """What the CLI's model flags parsed (``camera_app.cli``), as the detector's options."""
    return DetectorOptions(
        threshold=args.threshold,
        iou_threshold=args.iou,
        max_detections=args.max_detections,
        classes=tuple(c.strip() for c in (args.classes or "").split(",") if c.strip()),
        colour_order=ColourOrder(args.colour_order),
        resize=ResizeMode(args.resize) if args.resize else None,
        labels=Path(args.labels) if args.labels else None,
        label_offset=args.label_offset,
        threads=args.threads,
        runtime=None if args.runtime is None else RuntimeName(args.runtime),
    )
