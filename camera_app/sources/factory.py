"""``open_source(spec)``: the one place that turns a source string into a ``FrameSource``."""

from __future__ import annotations

import importlib.util
import os
import re
from urllib.parse import urlsplit

from camera_app.errors import ConfigError
from camera_app.redact import redact_url
from camera_app.sources.base import FrameSource, SourceSpec
from camera_app.sources.demo import DemoSource
from camera_app.sources.files import ImageFolderSource, VideoFileSource
from camera_app.sources.opencv import HttpMjpegSource, RtspSource, WebcamSource

__all__ = ["open_source"]

_DEVICE = re.compile(r"/dev/video\d+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_source(spec: SourceSpec) -> FrameSource:
    """Build the source ``spec.source`` names. It is not opened yet: ``CaptureThread`` opens it
    (with ``spec.open_timeout_s``) and reopens it after failures.

    Raises ``ConfigError`` for a source string that names no kind of source we know.
    """
    source = spec.source
    if isinstance(source, int):
        return WebcamSource(source, spec)
    text = source.strip()
    if text == "demo":
        if importlib.util.find_spec("skimage") is None:
            raise ConfigError(
                "source: 'demo' needs scikit-image, which is not installed; "
                "install it with: pip install scikit-image"
            )
        return DemoSource(spec)
    if text.isdigit():
        return WebcamSource(int(text), spec)
    if _DEVICE.fullmatch(text):
        return WebcamSource(text, spec)
    match = _SCHEME.match(text)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("rtsp", "rtsps"):
            return RtspSource(text, spec)
        if scheme in ("http", "https"):
            return HttpMjpegSource(text, spec)
        if scheme == "file":
            return _path_source(urlsplit(text).path, spec)
        raise ConfigError(
            f"source: unsupported scheme {scheme!r} in {redact_url(text)}; expected 'demo', a "
            "webcam index, /dev/videoN, rtsp://, rtsps://, http://, https://, a file or a folder"
        )
    return _path_source(text, spec)


def _path_source(path: str, spec: SourceSpec) -> FrameSource:
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        return ImageFolderSource(path, spec)
    return VideoFileSource(path, spec)
