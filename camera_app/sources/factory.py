"""``open_source(spec)``: the one place that turns a source string into a ``FrameSource``."""

from __future__ import annotations

import importlib.util
import os
import re

from camera_app.config import SourceKind, classify_source
from camera_app.errors import ConfigError
from camera_app.redact import redact_url
from camera_app.sources.base import FrameSource, SourceSpec
from camera_app.sources.demo import DemoSource
from camera_app.sources.files import ImageFolderSource, VideoFileSource
from camera_app.sources.opencv import HttpMjpegSource, RtspSource, WebcamSource

__all__ = ["open_source"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMES = {"rtsp", "rtsps", "http", "https"}


def open_source(spec: SourceSpec) -> FrameSource:
    """Build the source ``spec.source`` names, by the kind the config works out
    (``classify_source``). It is not opened yet: ``CaptureThread`` opens it (with
    ``spec.open_timeout_s``) and reopens it after failures.

    Raises ``ConfigError`` for a URL whose scheme names no source we know.
    """
    source = spec.source
    if isinstance(source, int):
        return WebcamSource(source, spec)
    text = source.strip()
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in _SCHEMES:
        raise ConfigError(
            f"source: unsupported scheme {scheme.group(1).lower()!r} in {redact_url(text)}; "
            "expected 'demo', a webcam index, /dev/videoN, rtsp://, rtsps://, http://, "
            "https://, a file or a folder"
        )
    kind = classify_source(text)
    if kind is SourceKind.DEMO:
        if importlib.util.find_spec("skimage") is None:
            raise ConfigError(
                "source: 'demo' needs scikit-image, which is not installed; "
                "install it with: pip install scikit-image"
            )
        return DemoSource(spec)
    if kind is SourceKind.WEBCAM:
        return WebcamSource(int(text), spec)
    if kind is SourceKind.DEVICE:
        return WebcamSource(text, spec)
    if kind is SourceKind.RTSP:
        return RtspSource(text, spec)
    if kind is SourceKind.HTTP:
        return HttpMjpegSource(text, spec)
    path = os.path.expanduser(text)
    return ImageFolderSource(path, spec) if os.path.isdir(path) else VideoFileSource(path, spec)
