"""Every check of a config that needs no model and changes nothing, before anything starts.

``camera-app run`` (``App``) and ``camera-app check-config`` both run ``check``: a config that
check-config calls ok is not refused by run for any of these, and run refuses them before a
file is created, a folder made or a port bound (the sinks and servers check again when they
are built, for callers that build them alone). Each error names the key path of the camera.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from camera_app._files import kind_of
from camera_app.config import AppConfig, CameraConfig, SourceKind, ports_clash, same_file
from camera_app.detect.decode import Thresholds
from camera_app.detect.detector import Detector
from camera_app.errors import ConfigError, LabelsError
from camera_app.objects.config import EventsMode, ObjectsConfig
from camera_app.objects.snapshots import check_snapshot_folder
from camera_app.outputs._paths import check_output_path
from camera_app.outputs.events import STDOUT
from camera_app.outputs.recorder import checked_settings
from camera_app.pipeline.gating import camera_policy


def check(cfg: AppConfig) -> None:
    """Raise the first ``ConfigError`` a run of ``cfg`` would meet before its model loads."""
    if not cfg.cameras:
        raise ConfigError("no cameras configured; add one under 'cameras:' or use --source")
    check_ports(cfg)
    check_modes(cfg)
    for cam in cfg.cameras:
        _check_camera(cfg, cam)


def check_ports(cfg: AppConfig) -> None:
    """http and metrics on one port of one address (the config file's own check names the
    line; this one also covers --http-address and --metrics-address)."""
    if ports_clash(cfg):
        raise ConfigError(
            f"metrics and http both listen on port {cfg.http.port}; pick another port"
        )


def _check_source_path(source: str, where: str) -> None:
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(
            f"{where}.source: {source}: no such file or folder; "
            "expected demo, a webcam, a stream URL, a video file or an image folder"
        )
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # FFmpeg's open of a pipe nobody writes never returns, and nothing can stop it.
        raise ConfigError(
            f"{where}.source: {source} is {kind_of(mode)}; expected a video file or an image "
            "folder (a live feed: serve it over RTSP or HTTP)"
        )


def _check_camera(cfg: AppConfig, cam: CameraConfig) -> None:
    where = f"cameras.{cam.name}"
    # A camera may come online later; a file or folder that is not there will not.
    if cam.source_kind is SourceKind.PATH:
        _check_source_path(cam.source, where)
    out = cam.outputs
    if out.events is not None and out.events != STDOUT:
        check_output_path(out.events, f"{where}.outputs.events")
    if out.record:
        checked_settings(out.record, cam.fps or 15.0, out.record_segment_s, out.record_max_mb,
                         what=f"{where}.outputs")  # fmt: skip
    objects = objects_for(cfg, cam)
    if objects is None:
        return
    check_tracking_rate(cfg, cam, objects)
    if objects.snapshots is not None:
        check_snapshot_folder(objects.snapshots, f"{where}.objects.snapshots")


def thresholds(first: Detector, cfg: AppConfig) -> dict[str, Thresholds]:
    """Each camera's thresholds from the loaded model: its score and its ``classes``, which
    must be names of the model's labels (the error names the camera)."""
    out = {}
    for cam in cfg.cameras:
        try:
            out[cam.name] = first.thresholds_for(cam.threshold, cam.classes)
        except LabelsError as exc:
            raise ConfigError(f"cameras.{cam.name}.classes: {exc}") from None
    return out


def home_assistant_labels(first: Detector, cfg: AppConfig) -> None:
    """``mqtt.home_assistant.labels`` must be names the model reports: a typo would make
    entities that never change (always "off", always 0) and look like a quiet camera."""
    ha = cfg.mqtt.home_assistant if cfg.mqtt is not None else None
    if ha is None or not ha.enabled:
        return
    if not first.labels.names:  # no label file: the model's classes are named class_<id>
        wanted = [w for w in ha.labels if not re.fullmatch(r"class_\d+", w)]
    else:
        wanted = list(ha.labels)
    try:
        first.labels.check_names(wanted)
    except LabelsError as exc:
        raise ConfigError(f"mqtt.home_assistant.labels: {exc}") from None


def objects_for(cfg: AppConfig, cam: CameraConfig) -> ObjectsConfig | None:
    if cam.objects is not None:
        return cam.objects
    if cam.outputs.events_mode is EventsMode.OBJECTS or cfg.mqtt is not None:
        return ObjectsConfig()
    return None


def check_modes(cfg: AppConfig) -> None:
    """Cameras sharing an events file must share its mode (called before any output opens)."""
    modes: dict[str, tuple[str, EventsMode]] = {}
    for cam in cfg.cameras:
        if cam.outputs.events is None:
            continue
        key = same_file(cam.outputs.events)
        other = modes.setdefault(key, (cam.name, cam.outputs.events_mode))
        if other[1] is not cam.outputs.events_mode:
            raise ConfigError(
                f"cameras '{other[0]}' and '{cam.name}' write events to {cam.outputs.events} "
                "with different events_mode; give them the same mode or separate files"
            )


def check_tracking_rate(cfg: AppConfig, cam: CameraConfig, objects: ObjectsConfig) -> None:
    """A camera's results must come more often than its tracks end: while it has live tracks it
    runs at its detect_fps (motion or not, see ``ObjectsSink.keeps_active``), so a gap of one
    detect_fps interval must stay under ``end_after_s``, or every object would end and start
    again between two results. (The keep-alive does not matter: it applies only once the
    camera has no tracks.)"""
    interval_s = camera_policy(cfg, cam)[0].interval_s
    if interval_s >= objects.end_after_s:
        raise ConfigError(
            f"cameras.{cam.name}: detect_fps {1 / interval_s:g} gives a result every "
            f"{interval_s:g} s, not less than objects.end_after_s ({objects.end_after_s:g} s): "
            "every object would end between two results; raise detect_fps or end_after_s"
        )
