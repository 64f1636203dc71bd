"""String enums shared by the config and the stages (pure: no numpy, no OpenCV).

Each maps one to one onto a YAML value, so the config hands them to the stages unchanged.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A string enum whose members print as their value (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)


class ColourOrder(StrEnum):
    """The channel order the model expects."""

    RGB = "rgb"
    BGR = "bgr"


class ResizeMode(StrEnum):
    """Stretch to the model input (as SSD models are trained), or letterbox and map back."""

    STRETCH = "stretch"
    LETTERBOX = "letterbox"


class Transport(StrEnum):
    """RTSP transport."""

    TCP = "tcp"
    UDP = "udp"


class Activation(StrEnum):
    """What turns a raw model's class scores into probabilities."""

    NONE = "none"  # scores are probabilities already
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"


class RuntimeName(StrEnum):
    """The TFLite runtimes we can import (``runtime``)."""

    LITERT = "litert"
    TFLITE_RUNTIME = "tflite-runtime"


class LogLevel(StrEnum):
    """The logging threshold."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    """Log lines as key=value text or as JSON objects."""

    KV = "kv"
    JSON = "json"


class SourceKind(StrEnum):
    """What a camera's `source` string names; decides which reader opens it."""

    DEMO = "demo"
    WEBCAM = "webcam"  # an integer index
    DEVICE = "device"  # /dev/videoN and other /dev paths
    RTSP = "rtsp"  # rtsp:// and rtsps://
    HTTP = "http"  # http:// and https:// (MJPEG)
    PATH = "path"  # a video file or an image folder
