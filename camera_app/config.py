"""The configuration: a strict YAML file read into frozen dataclasses.

    load_config(path) / parse_config(text)    YAML -> AppConfig; every error says file:line
    default_config()                          one demo camera (`camera-app run` without --config)

Command-line flags go over it in ``overrides``; the value checks are in ``config_values``.

Unknown keys (with a suggestion), wrong types, out-of-range values, duplicate keys and duplicate
camera names are errors naming the key path (``cameras[1].source``) and the line. ``${NAME}`` and
``${NAME:-default}`` in values come from the environment, so secrets stay out of the file; error
messages never show such values, and every quoted string goes through ``camera_app.redact``.
Top-level keys starting with ``x-`` are ignored, to hold YAML anchors for ``<<:`` merges.
Paths are kept as written. Keys are the dataclass field names below, one to one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

from camera_app._checks import boolean, choice, integer, number, optional, string
from camera_app._files import open_regular
from camera_app._yaml import Context, Node, checked, listed, nested, read_with, section
from camera_app._yaml_limits import MAX_BYTES, compose, oversized
from camera_app.config_motion import MotionConfig, motion_over
from camera_app.config_values import (
    _CLASS,
    _EVENTS,
    _FPS,
    _FRACTION,
    _PATH,
    _PIXELS,
    _PORT,
    _POSITIVE,
    _THREADS,
    _TIMEOUT,
    _address,
    _auto,
    _auto_bool,
    _camera_name,
    _fourcc,
)
from camera_app.config_values import check_source as check_source
from camera_app.config_values import classify_source as classify_source
from camera_app.errors import ConfigError
from camera_app.modes import Activation, ColourOrder, ResizeMode, RuntimeName, Transport
from camera_app.modes import LogFormat as LogFormat  # re-exported, as the enums below
from camera_app.modes import LogLevel as LogLevel
from camera_app.modes import SourceKind as SourceKind
from camera_app.mqtt.config import MqttConfig, read_mqtt
from camera_app.objects.config import EventsMode, ObjectsConfig, read_objects
from camera_app.redact import redact_url

T = TypeVar("T")


_DETECT_FPS = number(0, 1000)  # 0: as often as the model can


# ---- sections: each field says how its key is read (see camera_app._yaml) --------------------


@dataclass(frozen=True)
class Normalization:
    """``(x - mean) / std`` before the input tensor's own quantization; None (null or
    omitted): the model family's convention (SSD 127.5/127.5, YOLO 0/255)."""

    mean: float | None = field(default=None, metadata=checked(optional(number())))
    std: float | None = field(default=None, metadata=checked(optional(number(0, lo_open=True))))


@dataclass(frozen=True)
class AnchorsConfig:
    """Settings of the TF Object Detection API's ``ssd_anchor_generator``."""

    num_layers: int = field(default=6, metadata=checked(integer(1, 16)))
    min_scale: float = field(default=0.2, metadata=checked(_POSITIVE))
    max_scale: float = field(default=0.95, metadata=checked(_POSITIVE))
    aspect_ratios: tuple[float, ...] = field(
        default=(1.0, 2.0, 0.5, 3.0, 0.3333), metadata=read_with(listed(_POSITIVE, min_items=1))
    )
    interpolated_scale_aspect_ratio: float = field(default=1.0, metadata=checked(number(0)))
    reduce_boxes_in_lowest_layer: bool = field(default=True, metadata=checked(boolean))
    feature_map_sizes: tuple[int, ...] | None = field(
        default=None, metadata=read_with(listed(integer(1), nullable=True))
    )


def _anchors(node: Node) -> str | AnchorsConfig | None:
    if not node.is_mapping:
        expected = "a path to an anchors file or a mapping of ssd_anchor_generator settings"
        return node.check(optional(string(expected)))
    cfg, children = section(node, AnchorsConfig)
    if cfg.max_scale < cfg.min_scale:
        raise children.get("max_scale", node).error(
            f"expected a number >= min_scale ({cfg.min_scale:g}), got {cfg.max_scale:g}"
        )
    sizes = cfg.feature_map_sizes
    if sizes is not None and len(sizes) != cfg.num_layers:
        raise children["feature_map_sizes"].error(
            f"expected {cfg.num_layers} sizes (one per layer, as num_layers), got {len(sizes)}"
        )
    return cfg


@dataclass(frozen=True)
class ModelConfig:
    path: str = field(default="ssd_mobilenet_v1_coco_quant", metadata=checked(_PATH))
    # None: beside the model, or embedded in it
    labels: str | None = field(default=None, metadata=checked(optional(_PATH)))
    # None: worked out from the labels
    label_offset: int | None = field(default=None, metadata=checked(optional(integer())))
    threads: int = field(default=2, metadata=checked(_THREADS))
    interpreters: int = field(default=1, metadata=checked(integer(1, 16)))
    runtime: RuntimeName | None = field(default=None, metadata=checked(_auto(RuntimeName)))
    colour_order: ColourOrder = field(
        default=ColourOrder.RGB, metadata=checked(choice(ColourOrder))
    )
    # None (auto): the model family's convention (SSD stretch, YOLO letterbox)
    resize: ResizeMode | None = field(default=None, metadata=checked(_auto(ResizeMode)))
    normalization: Normalization = field(
        default_factory=Normalization, metadata=nested(Normalization)
    )
    score_activation: Activation | None = field(default=None, metadata=checked(_auto(Activation)))
    # Raw outputs: is column 0 background? None: auto
    background_class: bool | None = field(default=None, metadata=checked(_auto_bool))
    # None, a path to an anchors file, or generator settings
    anchors: str | AnchorsConfig | None = field(default=None, metadata=read_with(_anchors))


@dataclass(frozen=True)
class DetectionConfig:
    threshold: float = field(default=0.5, metadata=checked(_FRACTION))
    iou_threshold: float = field(default=0.5, metadata=checked(_FRACTION))
    max_detections: int = field(default=20, metadata=checked(integer(1)))
    # label names; empty: all classes
    classes: tuple[str, ...] = field(default=(), metadata=read_with(listed(_CLASS)))
    # Results per second per camera at most (README: Detection rate); 0: as often as the model can
    detect_fps: float = field(default=5.0, metadata=checked(_DETECT_FPS))


@dataclass(frozen=True)
class BackoffConfig:
    initial_s: float = field(default=0.5, metadata=checked(_POSITIVE))
    max_s: float = field(default=30.0, metadata=checked(_POSITIVE))
    multiplier: float = field(default=2.0, metadata=checked(number(1)))
    jitter: float = field(default=0.2, metadata=checked(number(0, 1)))
    stable_s: float = field(default=30.0, metadata=checked(number(0)))


def _backoff(node: Node) -> BackoffConfig:
    cfg, children = section(node, BackoffConfig)
    if cfg.max_s < cfg.initial_s:
        raise children.get("max_s", node).error(
            f"expected a number >= initial_s ({cfg.initial_s:g}), got {cfg.max_s:g}"
        )
    return cfg


@dataclass(frozen=True)
class OutputsConfig:
    # "-" for stdout, or a JSON-lines file path
    events: str | None = field(default=None, metadata=checked(_EVENTS))
    record: str | None = field(default=None, metadata=checked(optional(_PATH)))
    # A new recording file every this many seconds of capture time (outputs/recorder.py)
    # (from 1 s: less would start a file per result)
    record_segment_s: float = field(default=600.0, metadata=checked(number(1, 86400)))
    # None: keep every file; else delete this camera's oldest recordings above this size
    record_max_mb: float | None = field(default=None, metadata=checked(optional(_POSITIVE)))
    # None: one growing file; else rotate to <events>.1 before it passes this size
    # (from 0.01 MB: a smaller file would hold a line or two)
    events_max_mb: float | None = field(default=None, metadata=checked(optional(number(0.01))))
    window: bool = field(default=False, metadata=checked(boolean))
    stream: bool = field(default=True, metadata=checked(boolean))
    # frames: one line per processed frame; objects: start/update/end per object (objects/)
    events_mode: EventsMode = field(default=EventsMode.FRAMES, metadata=checked(choice(EventsMode)))


@dataclass(frozen=True)
class CameraConfig:
    """One camera. ``source`` holds the full URL (needed to connect); repr shows it redacted."""

    name: str = field(metadata=checked(_camera_name))  # YAML default: cam<index>
    source: str = field(default="demo", metadata=checked(check_source))
    transport: Transport = field(default=Transport.TCP, metadata=checked(choice(Transport)))
    width: int | None = field(default=None, metadata=checked(optional(_PIXELS)))
    height: int | None = field(default=None, metadata=checked(optional(_PIXELS)))
    fps: float | None = field(default=None, metadata=checked(optional(_FPS)))
    fourcc: str | None = field(default=None, metadata=checked(optional(_fourcc)))
    realtime: bool = field(default=True, metadata=checked(boolean))
    loop: bool = field(default=False, metadata=checked(boolean))
    # None: detection.threshold / detection.classes
    threshold: float | None = field(default=None, metadata=checked(optional(_FRACTION)))
    classes: tuple[str, ...] | None = field(
        default=None, metadata=read_with(listed(_CLASS, nullable=True))
    )
    open_timeout_s: float = field(default=10.0, metadata=checked(_TIMEOUT))
    read_timeout_s: float = field(default=5.0, metadata=checked(_TIMEOUT))
    max_frame_megapixels: float = field(default=40.0, metadata=checked(_POSITIVE))
    stall_timeout_s: float = field(default=10.0, metadata=checked(_TIMEOUT))
    backoff: BackoffConfig = field(default_factory=BackoffConfig, metadata=read_with(_backoff))
    # None: detection.detect_fps / the top-level motion settings (read key by key under these)
    detect_fps: float | None = field(default=None, metadata=checked(optional(_DETECT_FPS)))
    motion: MotionConfig | None = field(default=None, metadata=nested(MotionConfig))
    outputs: OutputsConfig = field(default_factory=OutputsConfig, metadata=nested(OutputsConfig))
    # tracking, zones, masks, object events (camera_app/objects/config.py)
    objects: ObjectsConfig | None = field(default=None, metadata=read_with(read_objects))

    @property
    def display_source(self) -> str:
        return redact_url(self.source)

    @property
    def source_kind(self) -> SourceKind:
        return classify_source(self.source)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = self.display_source if f.name == "source" else getattr(self, f.name)
            shown.append(f"{f.name}={value!r}")
        return f"CameraConfig({', '.join(shown)})"


def same_file(path: str) -> str:
    """One name for every spelling of an output file (``x.mp4``, ``./x.mp4``, a symlinked
    folder), so cameras that would write one file are found, and share one writer."""
    return path if path == "-" else os.path.realpath(path)


def events_limits_differ(cameras: tuple[CameraConfig, ...], cam: CameraConfig) -> str | None:
    """The first earlier camera writing events to ``cam``'s file with another events_max_mb."""
    target = cam.outputs.events
    if target is None or target == "-":
        return None
    for other in cameras:
        if (
            other.outputs.events is not None
            and same_file(other.outputs.events) == same_file(target)
            and other.outputs.events_max_mb != cam.outputs.events_max_mb
        ):
            return other.name
    return None


def _cameras(node: Node) -> tuple[CameraConfig, ...]:
    if node.is_null:
        return ()
    cameras: list[CameraConfig] = []
    first_seen: dict[str, Node] = {}
    recorded: dict[str, str] = {}  # same_file(record path) -> camera
    for index, item in enumerate(node.items()):
        if not item.is_mapping:
            raise item.error(f"expected a mapping with the camera's settings, got {item.got()}")
        cam, children = section(item, CameraConfig, name=f"cam{index}")
        if cam.transport is Transport.UDP and cam.source_kind is not SourceKind.RTSP:
            raise children["transport"].error("udp applies to rtsp:// and rtsps:// sources only")
        where = children.get("name", item)
        if cam.name in first_seen:
            first = first_seen[cam.name]
            raise where.error(
                f"duplicate camera name '{cam.name}' (also {first.key} at line {first.line}); "
                "camera names must be unique"
            )
        first_seen[cam.name] = where
        out, out_node = cam.outputs, children.get("outputs", item)
        if out.record is not None:
            other = recorded.setdefault(same_file(out.record), cam.name)
            if other != cam.name:
                raise out_node.error(
                    f"cameras '{other}' and '{cam.name}' both record to {out.record}; "
                    "give each camera its own record path"
                )
        other_events = events_limits_differ(tuple(cameras), cam)
        if other_events is not None:
            raise out_node.error(
                f"cameras '{other_events}' and '{cam.name}' write events to {out.events} with "
                "different events_max_mb; give them the same value"
            )
        cameras.append(cam)
    return tuple(cameras)


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = field(default=True, metadata=checked(boolean))
    address: str = field(default="127.0.0.1", metadata=checked(_address))
    port: int = field(default=8080, metadata=checked(_PORT))  # 0: pick a free port
    max_viewers: int = field(default=10, metadata=checked(integer(1, 1000)))


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = field(default=True, metadata=checked(boolean))
    address: str = field(default="127.0.0.1", metadata=checked(_address))
    port: int = field(default=9108, metadata=checked(_PORT))


@dataclass(frozen=True)
class LoggingConfig:
    level: LogLevel = field(default=LogLevel.INFO, metadata=checked(choice(LogLevel)))
    format: LogFormat = field(default=LogFormat.KV, metadata=checked(choice(LogFormat)))


@dataclass(frozen=True)
class AppConfig:
    model: ModelConfig = field(default_factory=ModelConfig, metadata=nested(ModelConfig))
    detection: DetectionConfig = field(
        default_factory=DetectionConfig, metadata=nested(DetectionConfig)
    )
    cameras: tuple[CameraConfig, ...] = field(default=(), metadata=read_with(_cameras))
    motion: MotionConfig = field(default_factory=MotionConfig, metadata=nested(MotionConfig))
    http: HttpConfig = field(default_factory=HttpConfig, metadata=nested(HttpConfig))
    metrics: MetricsConfig = field(default_factory=MetricsConfig, metadata=nested(MetricsConfig))
    logging: LoggingConfig = field(default_factory=LoggingConfig, metadata=nested(LoggingConfig))
    mqtt: MqttConfig | None = field(default=None, metadata=read_with(read_mqtt))


# ---- public API ------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str],
    *,
    require_cameras: bool = True,
    env: Mapping[str, str] | None = None,
) -> AppConfig:
    """Read and check a YAML config file."""
    name = os.fspath(path)
    try:
        with open_regular(name) as f:  # a pipe or a device would block or never end
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the config file ({reason})", path=name) from exc
    if len(raw) > MAX_BYTES:
        raise oversized(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("the file is not UTF-8 text", path=name) from exc
    return parse_config(text, name, require_cameras=require_cameras, env=env)


def parse_config(
    text: str,
    path: str = "<string>",
    *,
    require_cameras: bool = True,
    env: Mapping[str, str] | None = None,
) -> AppConfig:
    """Check YAML text; ``path`` is only used in messages. ``env`` defaults to os.environ."""
    document = compose(text, path)
    if document is None:
        message = "the file is empty; expected a mapping with at least a 'cameras:' list"
        raise ConfigError(message, path=path, line=1)
    root = Node(document, "", Context(path, os.environ if env is None else env))
    cfg, children = section(root, AppConfig, skip_prefix="x-")
    if require_cameras and not cfg.cameras:
        where = children.get("cameras", root)
        raise where.error("expected at least one camera under 'cameras:', got none")
    _check_ports(cfg, root, children)
    cfg = _motion_per_camera(cfg, children.get("cameras"))
    _check_lossless(cfg, children.get("cameras"))
    return cfg


def reads_every_frame(cam: CameraConfig) -> bool:
    """A video file or image folder read with ``realtime: false``: every frame is processed,
    as fast as inference takes them, so neither detect_fps nor motion gating applies (a
    rate in seconds of wall time would let one frame of a fast read through)."""
    return not cam.realtime and cam.source_kind is SourceKind.PATH


def _check_lossless(cfg: AppConfig, node: Node | None) -> None:
    """A camera that reads every frame cannot also have its own detect_fps or motion gating
    (the defaults for all cameras do not apply to it)."""
    if node is None or node.is_null:
        return
    keys = [f.name for f in fields(CameraConfig)]
    for cam, item in zip(cfg.cameras, node.items(), strict=True):
        if not reads_every_frame(cam):
            continue
        given = item.mapping(keys)
        for key, on in (("detect_fps", bool(cam.detect_fps)),
                        ("motion", cam.motion is not None and cam.motion.enabled)):  # fmt: skip
            if on:
                raise given[key].error(
                    "a file read with realtime: false has every frame processed, so it takes "
                    f"no {key}; remove it, or set realtime: true to read the file at its own "
                    "frame rate"
                )


def _motion_per_camera(cfg: AppConfig, node: Node | None) -> AppConfig:
    """Each camera's ``motion:`` read again over the top-level ``motion:``, key by key."""
    if node is None or node.is_null:
        return cfg
    keys = [f.name for f in fields(CameraConfig)]
    cameras = []
    for cam, item in zip(cfg.cameras, node.items(), strict=True):
        motion = item.mapping(keys).get("motion")
        if motion is not None:
            cam = replace(cam, motion=motion_over(motion, cfg.motion))
        cameras.append(cam)
    return replace(cfg, cameras=tuple(cameras))


def ports_clash(cfg: AppConfig) -> bool:
    """Whether http and metrics would listen on the same port of the same address."""
    http, metrics = cfg.http, cfg.metrics
    wildcard = {http.address, metrics.address} & {"0.0.0.0", "::"}
    same_host = http.address == metrics.address or bool(wildcard)
    return http.enabled and metrics.enabled and http.port == metrics.port != 0 and same_host


def _check_ports(cfg: AppConfig, root: Node, children: Mapping[str, Node]) -> None:
    """http and metrics cannot listen on the same port of the same address."""
    http = cfg.http
    if not ports_clash(cfg):
        return
    for name, other in (("metrics", "http"), ("http", "metrics")):
        node = children.get(name)
        keys = {} if node is None or node.is_null else node.mapping(("enabled", "address", "port"))
        if "port" in keys:
            raise keys["port"].error(f"{http.port} is also {other}.port; pick another port")
    raise root.error(f"metrics.port and http.port are both {http.port}; pick another port")


def default_config() -> AppConfig:
    """The config of ``camera-app run`` without ``--config``: one demo camera."""
    return AppConfig(cameras=(CameraConfig(name="demo", source="demo"),))
