"""The source seam: what a frame is, what a frame source does, and how one is described.

A ``FrameSource`` is opened, read and closed by exactly one ``CaptureThread``
(``camera_app.sources.capture``), which also retries it. Its contract:

- ``open(timeout_s)`` returns within about ``timeout_s`` or raises ``SourceError``;
- ``read(timeout_s)`` returns one HxWx3 uint8 BGR image or raises ``SourceError`` (with a
  classified ``kind``, see ``ErrorKind``); it *may* block longer than asked (OpenCV cannot
  always be interrupted), which the capture thread survives;
- ``close()`` is idempotent and may be called from another thread while ``open`` or ``read``
  blocks (an open that returns after it must release what it opened); ``open`` after ``close``
  starts afresh;
- ``description`` names the source without credentials;
- ``lossless``, when true, makes the capture thread wait until each frame is taken before
  reading the next (files read as fast as possible), instead of keeping only the newest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from camera_app.errors import ConfigError
from camera_app.modes import Transport
from camera_app.sources.errors import ErrorKind, classify

__all__ = [
    "ErrorKind",
    "Frame",
    "FrameSource",
    "ImageBGR",
    "Pacer",
    "SourceSpec",
    "Transport",
    "classify",
]

ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Frame:
    """One captured image and when it was captured (for per-frame end-to-end latency)."""

    image_bgr: ImageBGR  # HxWx3 uint8, BGR channel order
    camera: str
    sequence: int  # per camera, increasing across reconnects
    capture_monotonic_s: float  # time.monotonic() right after the read returned
    capture_wall_s: float  # time.time() at the same moment, for display and events


@runtime_checkable
class FrameSource(Protocol):
    """Anything that yields BGR frames: cameras, streams, files, folders, the demo, fakes."""

    @property
    def description(self) -> str:
        """A short, credential-free name for logs and status, e.g. ``rtsp://host:554/path``."""
        ...

    @property
    def lossless(self) -> bool:
        """True for a source whose every frame must be processed (a file read as fast as
        possible): the capture thread waits for each frame to be taken."""
        ...

    def open(self, timeout_s: float) -> None: ...

    def read(self, timeout_s: float) -> ImageBGR: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from and how to ask for them; built by the config module.

    ``source`` is ``"demo"``, a webcam index (``0`` or ``"0"``), ``/dev/videoN``,
    ``rtsp://``/``rtsps://``, ``http://``/``https://`` (MJPEG), a video file or an image folder.
    ``fps`` asks a webcam for that rate and paces folders and the demo (files use their own rate
    unless it is set). ``realtime=False`` reads files and folders as fast as possible.
    """

    source: str | int = "demo"
    transport: Transport = Transport.TCP
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    fourcc: str | None = None
    realtime: bool = True
    loop: bool = False
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    max_frame_pixels: int = 40_000_000  # a bigger frame is refused (memory: 3 bytes a pixel)

    def __post_init__(self) -> None:
        if isinstance(self.source, bool) or not isinstance(self.source, str | int):
            raise ConfigError(f"source: expected a string or a webcam index, got {self.source!r}")
        if isinstance(self.source, str) and not self.source.strip():
            raise ConfigError("source: expected a source, got an empty string; try 'demo'")
        if isinstance(self.source, int) and self.source < 0:
            raise ConfigError(f"source: a webcam index is >= 0, got {self.source}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{name}: expected a positive integer in pixels, got {value!r}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"fps: expected a positive number, got {self.fps!r}")
        if self.fourcc is not None and (len(self.fourcc) != 4 or not self.fourcc.isascii()):
            raise ConfigError(
                f"fourcc: expected four ASCII characters such as 'MJPG' or 'YUYV', "
                f"got {self.fourcc!r}"
            )
        for name in ("open_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        if isinstance(self.max_frame_pixels, bool) or not (
            isinstance(self.max_frame_pixels, int) and self.max_frame_pixels > 0
        ):
            raise ConfigError(
                f"max_frame_pixels: expected a positive integer, got {self.max_frame_pixels!r}"
            )
        try:
            transport = Transport(self.transport)
        except ValueError:
            raise ConfigError(
                f"transport: expected 'tcp' or 'udp', got {self.transport!r}"
            ) from None
        object.__setattr__(self, "transport", transport)  # also accepts the config's enum


class Pacer:
    """Spaces reads 1/fps apart; after falling behind it starts afresh instead of bursting."""

    def __init__(self, fps: float | None) -> None:
        self.interval_s = 1.0 / fps if fps else 0.0
        self._due: float | None = None

    def reset(self) -> None:
        self._due = None

    def wait(self) -> None:
        if self.interval_s <= 0:
            return
        now = time.monotonic()
        if self._due is None:
            self._due = now
        delay = self._due - now
        if delay > 0:
            time.sleep(delay)
        elif delay < -self.interval_s:
            self._due = now
        self._due += self.interval_s
