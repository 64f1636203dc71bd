"""The configuration: a strict YAML file read into frozen dataclasses.

    load_config(path) / parse_config(text)    YAML -> AppConfig; every error says file:line
    apply_overrides(cfg, sources=..., ...)    command-line flags, checked by the same rules
    default_config()                          one demo camera (`camera-app run` without --config)

Unknown keys (with a suggestion), wrong types, out-of-range values, duplicate keys and duplicate
camera names are errors naming the key path (``cameras[1].source``) and the line. ``${NAME}`` and
``${NAME:-default}`` in values come from the environment, so secrets stay out of the file; error
messages never show such values, and every quoted string goes through ``camera_app.redact``.
Top-level keys starting with ``x-`` are ignored, to hold YAML anchors for ``<<:`` merges.
Paths are kept as written. Keys are the dataclass field names below, one to one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar
from urllib.parse import urlsplit

from camera_app._yaml import (
    CheckError,
    Context,
    Node,
    boolean,
    checked,
    choice,
    describe,
    integer,
    listed,
    nested,
    number,
    optional,
    read_with,
    section,
    string,
)
from camera_app._yaml_limits import MAX_BYTES, compose
from camera_app.errors import ConfigError
from camera_app.modes import ColourOrder, ResizeMode, StrEnum, Transport
from camera_app.mqtt.config import MqttConfig, read_mqtt
from camera_app.objects.config import EventsMode, ObjectsConfig, read_objects
from camera_app.redact import redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")


class RuntimeChoice(StrEnum):
    AUTO = "auto"
    LITERT = "litert"
    TFLITE_RUNTIME = "tflite-runtime"


class ScoreActivation(StrEnum):
    AUTO = "auto"
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    NONE = "none"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    KV = "kv"
    JSON = "json"


class SourceKind(StrEnum):
    DEMO = "demo"
    WEBCAM = "webcam"  # an integer index
    DEVICE = "device"  # /dev/videoN and other /dev paths
    RTSP = "rtsp"  # rtsp:// and rtsps://
    HTTP = "http"  # http:// and https:// (MJPEG)
    PATH = "path"  # a video file or an image folder


# ---- value checks (shared by the YAML reader and apply_overrides) ---------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SOURCE_EXPECTED = (
    "demo, a webcam index, /dev/videoN, an rtsp://, rtsps://, http:// or https:// URL, "
    "or a video file or image folder path"
)


def classify_source(source: str) -> SourceKind:
    """What kind of source a (checked) source string is."""
    match = _SCHEME.match(source)
    if match:
        return SourceKind.RTSP if match.group(1).lower().startswith("rtsp") else SourceKind.HTTP
    if source == "demo":
        return SourceKind.DEMO
    if source.isdigit():
        return SourceKind.WEBCAM
    return SourceKind.DEVICE if source.startswith("/dev/") else SourceKind.PATH


def check_source(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise CheckError(_SOURCE_EXPECTED)
    match = _SCHEME.match(value)
    if match:
        if match.group(1).lower() not in {"rtsp", "rtsps", "http", "https"}:
            raise CheckError(_SOURCE_EXPECTED)
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise CheckError(f"a URL with a host after {match.group(1).lower()}://")
    return value


def _camera_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise CheckError("a name of 1 to 64 letters, digits, '_' or '-'")
    return value


def _fourcc(value: object) -> str:
    if not isinstance(value, str) or len(value) != 4 or not value.isascii():
        raise CheckError("a 4-character code such as MJPG")
    return value


def _auto_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value != "auto":
        raise CheckError("auto, true or false")
    return None


def _auto_resize(value: object) -> ResizeMode | None:
    if value == "auto":
        return None
    try:
        return choice(ResizeMode)(value)
    except CheckError as exc:
        raise CheckError(f"auto or {exc.expected}") from exc


def _address(value: object) -> str:
    if not isinstance(value, str) or not value or re.search(r"[\s/]", value):
        raise CheckError("a listen address such as 127.0.0.1, 0.0.0.0 or ::")
    return value


_THREADS = integer(1, 64)
_PORT = integer(0, 65535)
_PIXELS = integer(1, 16384)
_POSITIVE = number(0, lo_open=True)
_FRACTION = number(0, 1, lo_open=True)
_FPS = number(0, 1000, lo_open=True)
_TIMEOUT = number(0, 3600, lo_open=True)
_EVENTS = optional(string("'-' for stdout or a file path"))
_PATH = string("a non-empty path")
_CLASS = string("a class name")


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
    # Preprocess the next frame on a thread of its own while invoke() runs (pipeline/worker)
    prepare_ahead: bool = field(default=False, metadata=checked(boolean))
    runtime: RuntimeChoice = field(
        default=RuntimeChoice.AUTO, metadata=checked(choice(RuntimeChoice))
    )
    colour_order: ColourOrder = field(
        default=ColourOrder.RGB, metadata=checked(choice(ColourOrder))
    )
    # None (auto): the model family's convention (SSD stretch, YOLO letterbox)
    resize: ResizeMode | None = field(default=None, metadata=checked(_auto_resize))
    normalization: Normalization = field(
        default_factory=Normalization, metadata=nested(Normalization)
    )
    score_activation: ScoreActivation = field(
        default=ScoreActivation.AUTO, metadata=checked(choice(ScoreActivation))
    )
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


@dataclass(frozen=True)
class BackoffConfig:
    initial_s: float = field(default=0.5, metadata=checked(_POSITIVE))
    max_s: float = field(default=30.0, metadata=checked(_POSITIVE))
    multiplier: float = field(default=2.0, metadata=checked(number(1)))
    jitter: float = field(default=0.2, metadata=checked(number(0, 1)))


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
    record_segment_s: float = field(default=600.0, metadata=checked(number(0, 86400, lo_open=True)))
    # None: keep every file; else delete this camera's oldest recordings above this size
    record_max_mb: float | None = field(default=None, metadata=checked(optional(_POSITIVE)))
    # None: one growing file; else rotate to <events>.1 before it passes this size
    events_max_mb: float | None = field(default=None, metadata=checked(optional(_POSITIVE)))
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


def _events_limits_differ(cameras: tuple[CameraConfig, ...], cam: CameraConfig) -> str | None:
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
        other_events = _events_limits_differ(tuple(cameras), cam)
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
        with open(name, encoding="utf-8") as f:
            text = f.read(MAX_BYTES + 1)
    except UnicodeDecodeError as exc:
        raise ConfigError("the file is not UTF-8 text", path=name) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the config file ({reason})", path=name) from exc
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
    return cfg


def _check_ports(cfg: AppConfig, root: Node, children: Mapping[str, Node]) -> None:
    """http and metrics cannot listen on the same port of the same address."""
    http, metrics = cfg.http, cfg.metrics
    wildcard = {http.address, metrics.address} & {"0.0.0.0", "::"}
    same_host = http.address == metrics.address or bool(wildcard)
    if not (http.enabled and metrics.enabled and http.port == metrics.port != 0 and same_host):
        return
    for name, other in (("metrics", "http"), ("http", "metrics")):
        node = children.get(name)
        keys = {} if node is None or node.is_null else node.mapping(("enabled", "address", "port"))
        if "port" in keys:
            raise keys["port"].error(f"{http.port} is also {other}.port; pick another port")
    raise root.error(f"metrics.port and http.port are both {http.port}; pick another port")


def _flag(flag: str, value: object, check: Callable[[object], T]) -> T:
    try:
        return check(value)
    except CheckError as exc:
        raise ConfigError(f"{flag}: expected {exc.expected}, got {describe(value)}") from exc


def _warn_if_password_on_the_command_line(camera: str, source: str) -> None:
    """A password in ``--source`` is readable by every local user (``ps``, /proc/PID/cmdline)."""
    try:
        password = urlsplit(source).password
    except ValueError:
        return  # check_source says what is wrong with it
    if password:
        log.warning(
            "--source for %s has a password in it, which every user of this machine can read "
            "in the process list (ps); put the camera in a config file and write the password "
            "as ${credential:NAME} (systemd LoadCredential=) or ${ENV_VAR} instead",
            camera,
        )


def apply_overrides(
    cfg: AppConfig,
    *,
    sources: list[str] | None = None,
    model: str | None = None,
    threads: int | None = None,
    events: str | None = None,
) -> AppConfig:
    """Apply command-line flags. ``sources`` (``--source``, repeatable) replaces the cameras
    with cam0, cam1, ... on default settings; ``events`` is set on every camera."""
    if sources:
        for i, s in enumerate(sources):
            _warn_if_password_on_the_command_line(f"cam{i}", s)
        cameras = tuple(
            CameraConfig(name=f"cam{i}", source=_flag("--source", s, check_source))
            for i, s in enumerate(sources)
        )
        cfg = replace(cfg, cameras=cameras)
    if model is not None:
        cfg = replace(cfg, model=replace(cfg.model, path=_flag("--model", model, _PATH)))
    if threads is not None:
        cfg = replace(cfg, model=replace(cfg.model, threads=_flag("--threads", threads, _THREADS)))
    if events is not None:
        out = _flag("--events", events, string("'-' for stdout or a file path"))
        cameras = tuple(replace(c, outputs=replace(c.outputs, events=out)) for c in cfg.cameras)
        for i, cam in enumerate(cameras):
            other = _events_limits_differ(cameras[:i], cam)
            if other is not None:
                raise ConfigError(
                    f"--events: cameras '{other}' and '{cam.name}' would write events to {out} "
                    "with different events_max_mb; give them the same value in the config"
                )
        cfg = replace(cfg, cameras=cameras)
    return cfg


def default_config() -> AppConfig:
    """The config of ``camera-app run`` without ``--config``: one demo camera."""
    return AppConfig(cameras=(CameraConfig(name="demo", source="demo"),))
