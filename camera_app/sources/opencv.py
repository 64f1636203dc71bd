"""Frame sources on ``cv2.VideoCapture``: webcams, RTSP and HTTP MJPEG (files: ``files.py``).

Threading: ``read`` may block inside OpenCV (a V4L2 or network read has no timeout of its own),
and ``close`` may be called from the capture thread meanwhile. Releasing a ``VideoCapture`` while
another thread is inside its ``read`` is a use-after-free in C++, so each open capture is wrapped
in a ``_Capture`` that defers ``release`` to the reader when a read is in flight: a hung reader
releases its own capture when (if ever) OpenCV returns, and a new ``open`` gets a new capture.

RTSP transport: OpenCV takes FFmpeg options only from the process-global environment variable
``OPENCV_FFMPEG_CAPTURE_OPTIONS``, read inside each open; ``_ffmpeg_options.FFmpegOptions`` lets
RTSP opens of the same transport overlap and makes those of the other transport wait; HTTP opens
need no option and never wait. Timeouts use the per-capture open parameters
``CAP_PROP_OPEN_TIMEOUT_MSEC`` / ``CAP_PROP_READ_TIMEOUT_MSEC``. OpenCV also serializes all FFmpeg
opens of the process behind one mutex unless ``OPENCV_FFMPEG_IS_THREAD_SAFE=1``, which
``camera_app.sources`` sets: otherwise one silent camera holds up every other camera's open.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from camera_app.redact import redact_url
from camera_app.sources._ffmpeg_options import ffmpeg_options
from camera_app.sources.base import ImageBGR, SourceSpec, Transport
from camera_app.sources.errors import (
    ErrorKind,
    ProbeResult,
    probe_http,
    probe_rtsp,
    probe_tcp,
    source_error,
)

__all__ = ["HttpMjpegSource", "RtspSource", "VideoCaptureSource", "WebcamSource", "as_bgr"]

log = logging.getLogger(__name__)

_OPENCV_LEVELS = {
    "SILENT": "LOG_LEVEL_SILENT",
    "OFF": "LOG_LEVEL_SILENT",
    "FATAL": "LOG_LEVEL_FATAL",
    "ERROR": "LOG_LEVEL_ERROR",
    "WARNING": "LOG_LEVEL_WARNING",
    "INFO": "LOG_LEVEL_INFO",
    "DEBUG": "LOG_LEVEL_DEBUG",
    "VERBOSE": "LOG_LEVEL_VERBOSE",
}


def _apply_opencv_log_level() -> None:
    """Re-apply ``OPENCV_LOG_LEVEL`` (set in ``camera_app.sources``): OpenCV reads the variable
    when it is first imported, which may have happened before our package set it."""
    name = _OPENCV_LEVELS.get(os.environ.get("OPENCV_LOG_LEVEL", "").strip().upper())
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if name is not None and logging_api is not None and hasattr(logging_api, name):
        logging_api.setLogLevel(getattr(logging_api, name))


_apply_opencv_log_level()


def as_bgr(image: Any) -> ImageBGR:
    """Make sure a decoded image is HxWx3 uint8 BGR (some cameras give gray or BGRA)."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = cv2.convertScaleAbs(array)
    if array.ndim == 2:
        return np.asarray(cv2.cvtColor(array, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if array.ndim == 3 and array.shape[2] == 4:
        return np.asarray(cv2.cvtColor(array, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return array


def check_frame_size(where: str, image: Any, max_pixels: int) -> None:
    """Refuse a frame over the camera's pixel limit before the pipeline holds copies of it."""
    shape: tuple[int, ...] = tuple(getattr(image, "shape", ()))
    if len(shape) >= 2 and int(shape[0]) * int(shape[1]) > max_pixels:
        h, w = int(shape[0]), int(shape[1])
        raise source_error(
            where,
            f"a {w}x{h} frame ({w * h / 1e6:.1f} megapixels) is over the camera's limit of "
            f"{max_pixels / 1e6:g}",
            ErrorKind.DECODE,
            "lower the camera's resolution, or raise max_frame_megapixels",
        )


class _Capture:
    """One ``cv2.VideoCapture``, released by whichever of ``read`` or ``close`` finishes last."""

    def __init__(self, cap: Any) -> None:
        self.cap = cap
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False

    def read(self) -> tuple[bool, Any]:
        result = self._use(lambda cap: cap.read())
        if result is None:
            return False, None
        ok, image = result
        return bool(ok), image

    def rewind(self) -> bool:
        """Back to the first frame; False when closed or the backend cannot seek."""
        return bool(self._use(lambda cap: cap.set(cv2.CAP_PROP_POS_FRAMES, 0)))

    def _use(self, call: Callable[[Any], Any]) -> Any:
        """``call(cap)`` unless closed (then None); a ``close`` meanwhile waits to release."""
        with self._lock:
            if self._closed:
                return None
            self._reading = True
        try:
            return call(self.cap)
        finally:
            with self._lock:
                self._reading = False
                release = self._closed
            if release:
                self.cap.release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            release = not self._reading
        if release:
            self.cap.release()


class VideoCaptureSource:
    """Shared open/read/close over ``_Capture``; subclasses build the ``VideoCapture``."""

    description: str = "source"
    lossless: bool = False  # live streams keep only their newest frame

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self._capture: _Capture | None = None
        self._generation = 0
        self._lock = threading.Lock()

    def _create(self, timeout_s: float) -> Any:
        raise NotImplementedError

    def _after_open(self, cap: Any) -> None:
        """Hook: configure the opened capture (size, fps...)."""

    def _opened(self, cap: Any, what: str, kind: ErrorKind, advice: str) -> Any:
        """``cap`` when OpenCV opened it; else released, and ``what`` raised as a SourceError."""
        if not cap.isOpened():
            cap.release()
            raise source_error(self.description, what, kind, advice)
        return cap

    def open(self, timeout_s: float) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            old, self._capture = self._capture, None
        if old is not None:
            old.close()
        cap = self._create(timeout_s)
        try:
            self._after_open(cap)
        except Exception:
            cap.release()
            raise
        with self._lock:
            if generation == self._generation:
                self._capture = _Capture(cap)
                return
        # close() (or another open) came while we were opening: this capture is stale.
        cap.release()
        raise source_error(self.description, "closed while opening", ErrorKind.OTHER)

    def _read_raw(self) -> tuple[bool, Any]:
        with self._lock:
            capture = self._capture
        if capture is None:
            raise source_error(self.description, "read before open", ErrorKind.OTHER)
        return capture.read()

    def read(self, timeout_s: float) -> ImageBGR:
        started = time.monotonic()
        ok, image = self._read_raw()
        if not ok or image is None:
            raise self._read_failure(time.monotonic() - started)
        check_frame_size(self.description, image, self.spec.max_frame_pixels)
        return as_bgr(image)

    def _read_failure(self, elapsed_s: float) -> Exception:
        if elapsed_s >= 0.9 * self.spec.read_timeout_s:
            return source_error(
                self.description,
                f"no frame within {self.spec.read_timeout_s:g} s",
                ErrorKind.TIMEOUT,
            )
        return source_error(self.description, "the stream ended or broke", ErrorKind.DISCONNECTED)

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            capture, self._capture = self._capture, None
        if capture is not None:
            capture.close()


def _ffmpeg_capture(
    target: str, timeout_s: float, read_timeout_s: float, options: str
) -> tuple[Any, float, float]:
    """Open with FFmpeg; return (capture, seconds FFmpeg took, the open budget it had)."""
    started = time.monotonic()
    with ffmpeg_options.holding(options, timeout_s, target):
        budget_s = max(1.0, timeout_s - (time.monotonic() - started))
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(budget_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            max(1, int(read_timeout_s * 1000)),
        ]
        opened_at = time.monotonic()
        cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        return cap, time.monotonic() - opened_at, budget_s


class _NetworkSource(VideoCaptureSource):
    """An FFmpeg network stream: a TCP probe first, a request probe when FFmpeg fails."""

    _ffmpeg_options = ""
    _advice = "check the codec (H.264/H.265/MJPEG) and the transport"

    def __init__(self, url: str, spec: SourceSpec) -> None:
        super().__init__(spec)
        self._url = url
        self.description = redact_url(url)
        self._frames_since_open = 0

    def _probe(self, timeout_s: float) -> ProbeResult:
        raise NotImplementedError

    def open(self, timeout_s: float) -> None:
        self._frames_since_open = 0
        super().open(timeout_s)

    def read(self, timeout_s: float) -> ImageBGR:
        image = super().read(timeout_s)
        self._frames_since_open += 1
        return image

    def _read_failure(self, elapsed_s: float) -> Exception:
        if elapsed_s < 0.9 * self.spec.read_timeout_s and self._frames_since_open == 0:
            # Opened (the server answered and FFmpeg found a stream), yet the first read fails
            # at once: FFmpeg could not decode a frame from what the server sends.
            return source_error(
                self.description,
                "the stream opened, but no frame could be decoded from it",
                ErrorKind.DECODE,
                self._advice,
            )
        return super()._read_failure(elapsed_s)

    def _create(self, timeout_s: float) -> Any:
        started = time.monotonic()
        probe_tcp(self._url, timeout_s)  # refused / unreachable: said at once, by us
        cap, took_s, budget_s = _ffmpeg_capture(
            self._url,
            max(1.0, timeout_s - (time.monotonic() - started)),
            self.spec.read_timeout_s,
            self._ffmpeg_options,
        )
        if cap.isOpened():
            return cap
        cap.release()
        if took_s >= 0.9 * budget_s:
            raise source_error(
                self._url,
                f"connected, but no stream came within {budget_s:.1f} s",
                ErrorKind.TIMEOUT,
                "the server accepts connections but does not answer; check the URL and, for "
                "RTSP, try the other transport",
            )
        # FFmpeg gave up quickly: ask the server ourselves why (401, 404, 503...).
        result = self._probe(max(1.0, timeout_s - (time.monotonic() - started)))
        if result.challenged:
            raise source_error(
                self._url,
                "the server rejected the credentials (digest authentication)",
                ErrorKind.UNAUTHORIZED,
                "check the user name and password",
            )
        raise source_error(
            self._url,
            f"the server answers ({result.status}) but FFmpeg could not open the stream",
            ErrorKind.DECODE,
            self._advice,
        )


class RtspSource(_NetworkSource):
    """An RTSP(S) camera through FFmpeg, over TCP or UDP."""

    def __init__(self, url: str, spec: SourceSpec) -> None:
        super().__init__(url, spec)
        self._ffmpeg_options = f"rtsp_transport;{Transport(spec.transport).value}"

    def _probe(self, timeout_s: float) -> ProbeResult:
        return probe_rtsp(self._url, timeout_s)


class HttpMjpegSource(_NetworkSource):
    """An HTTP(S) MJPEG camera through FFmpeg."""

    _advice = "check that the URL serves MJPEG (multipart/x-mixed-replace)"

    def _probe(self, timeout_s: float) -> ProbeResult:
        return probe_http(self._url, timeout_s)


class WebcamSource(VideoCaptureSource):
    """A local camera by index or device path; width, height, fps and FOURCC asked for at open."""

    def __init__(self, device: int | str, spec: SourceSpec) -> None:
        super().__init__(spec)
        self._device = device
        self.description = f"webcam {device}"

    def _create(self, timeout_s: float) -> Any:
        device = self._device
        path = f"/dev/video{device}" if isinstance(device, int) else device
        if sys.platform.startswith("linux"):
            if not os.path.exists(path):
                raise source_error(
                    self.description,
                    f"{path} does not exist",
                    ErrorKind.NOT_FOUND,
                    "is the camera plugged in? see v4l2-ctl --list-devices",
                )
            if not os.access(path, os.R_OK | os.W_OK):
                raise source_error(
                    self.description,
                    f"no permission to open {path}",
                    ErrorKind.UNAUTHORIZED,
                    "add the user to the 'video' group",
                )
            cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(device, cv2.CAP_ANY)
        return self._opened(
            cap, "OpenCV could not open the camera", ErrorKind.OTHER, "is another program using it?"
        )

    def _after_open(self, cap: Any) -> None:
        spec = self.spec
        # FOURCC first: V4L2 picks the sizes and rates available for the pixel format.
        wanted: list[tuple[int, float, str]] = []
        if spec.fourcc:
            wanted.append((cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*spec.fourcc), "fourcc"))
        if spec.width:
            wanted.append((cv2.CAP_PROP_FRAME_WIDTH, spec.width, "width"))
        if spec.height:
            wanted.append((cv2.CAP_PROP_FRAME_HEIGHT, spec.height, "height"))
        if spec.fps:
            wanted.append((cv2.CAP_PROP_FPS, spec.fps, "fps"))
        for prop, value, name in wanted:
            cap.set(prop, value)
            got = cap.get(prop)
            if name != "fourcc" and not math.isclose(got, value, rel_tol=0.01):
                log.warning(
                    "%s: asked for %s=%s, the camera gives %s", self.description, name, value, got
                )
