"""The process-global ``OPENCV_FFMPEG_CAPTURE_OPTIONS``, shared by concurrent FFmpeg opens."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from camera_app.sources.errors import ErrorKind, source_error

_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


class FFmpegOptions:
    """Shares the process-global ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` between concurrent opens.

    OpenCV reads the variable at some moment inside each open, so it must hold our value for the
    whole open. Opens that need the same value run together; an open that needs another value
    (the other RTSP transport) waits until they are done, at most its own timeout. An open that
    needs no option (HTTP: FFmpeg's HTTP demuxer ignores ``rtsp_transport``) neither waits nor
    touches the variable. So a camera whose open hangs delays only RTSP cameras of the other
    transport, and only up to their timeout. A value the user exported with ``rtsp_transport``
    in it is left alone.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: str | None = None
        self._users = 0
        self._saved: str | None = None

    @contextmanager
    def holding(self, options: str, timeout_s: float, where: str) -> Iterator[None]:
        if not options:  # any value suits this open: wait for nobody
            yield
            return
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._users and self._value != options:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise source_error(
                        where,
                        f"waited {timeout_s:g} s for cameras of another RTSP transport to open",
                        ErrorKind.TIMEOUT,
                    )
                self._cond.wait(remaining)
            if self._users == 0:
                self._saved = os.environ.get(_FFMPEG_OPTIONS_ENV)
                self._value = options
                user = self._saved or ""
                merged = (
                    user if "rtsp_transport" in user else "|".join(x for x in (user, options) if x)
                )
                if merged:
                    os.environ[_FFMPEG_OPTIONS_ENV] = merged
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if self._users == 0:
                    if self._saved is None:
                        os.environ.pop(_FFMPEG_OPTIONS_ENV, None)
                    else:
                        os.environ[_FFMPEG_OPTIONS_ENV] = self._saved
                    self._value = None
                    self._cond.notify_all()


ffmpeg_options = FFmpegOptions()
