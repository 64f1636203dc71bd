"""The config's value checks (read by ``config`` and the CLI).

Each check returns the value or raises ``CheckError`` saying what was expected; the YAML
reader adds the key path and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

from camera_app._checks import choice, integer, matching, number, optional, string
from camera_app._yaml import CheckError
from camera_app.modes import SourceKind

E = TypeVar("E", bound=Enum)


# ---- value checks (shared by the YAML reader and apply_overrides) ---------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# "rtsp:/cam/x", "http:cam": a URL scheme without its "//", which would be read as a file path.
_SLASHES_MISSING = re.compile(r"(rtsps?|https?):(?!//)", re.IGNORECASE)
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
    missing = _SLASHES_MISSING.match(value)
    if missing:
        raise CheckError(f"a URL written {missing.group(1).lower()}://host/..., with two slashes")
    match = _SCHEME.match(value)
    if match:
        if match.group(1).lower() not in {"rtsp", "rtsps", "http", "https"}:
            raise CheckError(_SOURCE_EXPECTED)
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is not None and "@" in value[match.end() + len(parts.netloc) :]:
            # A raw "/", "?" or "#" in a password ends the authority there: FFmpeg would
            # connect to what is left of the password as a host name.
            raise CheckError(
                "a URL whose user name and password have '/', '?' and '#' percent-encoded "
                "(%2F, %3F, %23), or ${credential:NAME}, which is encoded for you"
            )
        if parts is not None and _RAW_PERCENT.search(parts.netloc.rpartition("@")[0]):
            # "100%sure": FFmpeg decodes "%su" and sends another password.
            raise CheckError("a URL whose user name and password have '%' written as %25")
        if not host:
            raise CheckError(f"a URL with a host after {match.group(1).lower()}://")
    return value


_RAW_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a '%' that starts no %XX escape


_camera_name = matching(r"[A-Za-z0-9_-]{1,64}", "a name of 1 to 64 letters, digits, '_' or '-'")
_fourcc = matching(r"[\x00-\x7f]{4}", "a 4-character code such as MJPG")


def _auto(enum: type[E]) -> Callable[[object], E | None]:
    """``auto`` (None: worked out from the model or the machine) or one of ``enum``'s values."""
    named = choice(enum)

    def check(value: object) -> E | None:
        if value == "auto":
            return None
        try:
            return named(value)
        except CheckError:
            raise CheckError("one of: auto, " + ", ".join(str(m.value) for m in enum)) from None

    return check


def _auto_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value != "auto":
        raise CheckError("auto, true or false")
    return None


_address = matching(r"[^\s/]+", "a listen address such as 127.0.0.1, 0.0.0.0 or ::")
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
