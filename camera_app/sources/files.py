"""Finite sources: a video file and an image folder, paced like a camera or as fast as possible.

Both end with ``ErrorKind.EOF`` unless ``spec.loop``; the capture thread treats that as final.
A damaged frame or image is skipped with a warning, not taken for the end.
Read as fast as possible (``realtime: false``) they are ``lossless``: the capture thread waits
for each frame to be taken, so every frame is processed and none is decoded in vain.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import cv2

from camera_app.errors import ImageError
from camera_app.sources.base import ImageBGR, Pacer, SourceSpec
from camera_app.sources.errors import ErrorKind, source_error
from camera_app.sources.image_size import read_image
from camera_app.sources.opencv import VideoCaptureSource, as_bgr, check_frame_size

__all__ = ["IMAGE_SUFFIXES", "MAX_FAILED_READS", "ImageFolderSource", "VideoFileSource"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

# Consecutive failed reads that end a video file when its frame count does not say so already.
MAX_FAILED_READS = 30


class VideoFileSource(VideoCaptureSource):
    """A video file, paced at its own fps (or ``spec.fps``) when ``realtime``; optional loop.

    A failed read is the end of the file only when the frame count says so, or after
    ``MAX_FAILED_READS`` in a row (counts can be missing or wrong); otherwise the frame was
    damaged, and it is skipped. ``CAP_PROP_POS_FRAMES`` counts only decoded frames, so the
    position is counted here: decoded frames plus failed reads.
    """

    def __init__(self, path: str, spec: SourceSpec) -> None:
        super().__init__(spec)
        self._path = path
        self.description = f"file {path}"
        self.lossless = not spec.realtime
        self._pacer = Pacer(None)
        self._frame_count: int | None = None
        self._frames_read = 0  # decoded in this pass through the file
        self._failed_reads = 0  # in this pass
        self._unreported = 0  # frames skipped after this pass's warning

    def _create(self, timeout_s: float) -> Any:
        if not os.path.isfile(self._path):
            raise source_error(
                self.description, "no such file", ErrorKind.NOT_FOUND, "check the path"
            )
        if not os.access(self._path, os.R_OK):
            raise source_error(
                self.description,
                "not readable",
                ErrorKind.UNAUTHORIZED,
                "check the file's permissions",
            )
        cap = self._opened(
            cv2.VideoCapture(self._path, cv2.CAP_FFMPEG),
            "OpenCV cannot decode this file",
            ErrorKind.DECODE,
            "convert it to H.264 MP4 or MJPEG AVI",
        )
        fps = self.spec.fps or cap.get(cv2.CAP_PROP_FPS)
        if not (fps and math.isfinite(fps) and 0 < fps <= 1000):
            log.warning("%s: no usable frame rate in the file; pacing at 25 fps", self.description)
            fps = 25.0
        self._pacer = Pacer(fps if self.spec.realtime else None)
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self._frame_count = int(count) if math.isfinite(count) and count >= 1 else None
        self._start_pass()
        return cap

    def _start_pass(self) -> None:
        self._frames_read = 0
        self._failed_reads = 0
        self._unreported = 0

    def _end_pass(self) -> None:
        """Report the damaged frames the pass's first warning did not cover."""
        if self._unreported:
            log.warning(
                "%s: skipped %d more damaged frame(s) before the end",
                self.description,
                self._unreported,
            )
        self._unreported = 0

    def _next_frame(self) -> Any | None:
        """The next frame that decodes, past a bounded run of damaged ones; None at the end."""
        failed = 0
        while True:
            ok, image = self._read_raw()
            if ok and image is not None:
                break
            failed += 1
            self._failed_reads += 1
            at_end = (
                self._frame_count is not None
                and self._frames_read + self._failed_reads >= self._frame_count
            )
            if at_end or failed >= MAX_FAILED_READS:
                return None
        if failed:
            if self._failed_reads == failed:  # the pass's first damage: say it once
                log.warning(
                    "%s: skipped %d damaged frame(s) after %d good one(s); reading on",
                    self.description,
                    failed,
                    self._frames_read,
                )
            else:
                self._unreported += failed
        return image

    def read(self, timeout_s: float) -> ImageBGR:
        self._pacer.wait()
        image = self._next_frame()
        if image is None and self.spec.loop and self._frames_read > 0:
            self._end_pass()
            with self._lock:
                capture = self._capture
            if capture is not None:
                capture.rewind()  # under the capture's own guard: close() may come meanwhile
            self._start_pass()
            image = self._next_frame()
        if image is None:
            self._end_pass()
            if self._frames_read == 0:
                raise source_error(
                    self.description,
                    "no frame could be decoded",
                    ErrorKind.DECODE,
                    "convert it to H.264 MP4 or MJPEG AVI",
                )
            raise source_error(self.description, "end of file", ErrorKind.EOF)
        check_frame_size(self.description, image, self.spec.max_frame_pixels)
        self._frames_read += 1
        return as_bgr(image)


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource:
    """The images of a folder in natural name order, paced at ``spec.fps`` (default 1)."""

    def __init__(self, path: str, spec: SourceSpec) -> None:
        self.spec = spec
        self._path = Path(path)
        self.description = f"folder {path}"
        self.lossless = not spec.realtime
        self._files: list[Path] = []
        self._index = 0
        self._pacer = Pacer(None)
        self._warned: set[Path] = set()

    def open(self, timeout_s: float) -> None:
        if not self._path.is_dir():
            raise source_error(
                self.description, "no such folder", ErrorKind.NOT_FOUND, "check the path"
            )
        try:
            files = [p for p in self._path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        except PermissionError as exc:
            raise source_error(
                self.description,
                "not readable",
                ErrorKind.UNAUTHORIZED,
                "check the folder's permissions",
            ) from exc
        if not files:
            raise source_error(
                self.description,
                "no images in the folder",
                ErrorKind.NOT_FOUND,
                f"expected files ending in {', '.join(sorted(IMAGE_SUFFIXES))}",
            )
        self._files = sorted(files, key=_natural_key)
        self._index = 0
        self._pacer = Pacer((self.spec.fps or 1.0) if self.spec.realtime else None)

    def read(self, timeout_s: float) -> ImageBGR:
        self._pacer.wait()
        for _ in range(len(self._files)):
            if self._index >= len(self._files):
                if not self.spec.loop:
                    break
                self._index = 0
            path = self._files[self._index]
            self._index += 1
            try:
                return as_bgr(read_image(str(path), self.spec.max_frame_pixels))
            except ImageError as exc:
                if path not in self._warned:
                    self._warned.add(path)
                    log.warning("%s: skipping %s: %s", self.description, path.name, exc)
        if self._index >= len(self._files) and not self.spec.loop:
            raise source_error(self.description, "no more images", ErrorKind.EOF)
        raise source_error(
            self.description,
            "none of the images could be decoded",
            ErrorKind.DECODE,
            "use JPEG or PNG files",
        )

    def close(self) -> None:
        self._files = []
