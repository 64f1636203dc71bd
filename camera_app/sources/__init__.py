"""Frame sources: webcams, RTSP, HTTP MJPEG, files, folders and the demo clip, and their capture.

OpenCV and FFmpeg print their own messages to stderr and stdout, and some of them contain the URL
being opened, credentials included. This package is the one place that sets OpenCV's environment,
before anything here imports ``cv2``: ``OPENCV_LOG_LEVEL=ERROR`` and ``OPENCV_FFMPEG_LOGLEVEL=-8``
(FFmpeg's ``AV_LOG_QUIET``) quiet them, and our own credential-free errors say what went wrong
instead; ``OPENCV_FFMPEG_IS_THREAD_SAFE=1`` lets cameras open concurrently (see below). Values
already in the environment are kept (for debugging; they may then print credentials). Import
``camera_app.sources`` before anything else imports ``cv2``: OpenCV reads its log level at import
(``camera_app.sources.opencv`` re-applies it), the FFmpeg ones at the first FFmpeg open.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# Without this OpenCV holds one process-wide mutex for the whole of every FFmpeg open, so a camera
# that never answers stalls every other camera's (re)connect for its open timeout. The FFmpeg
# inside opencv-python (libavformat >= 59) opens concurrently without that lock.
os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")

from camera_app.sources.base import (
    ErrorKind,
    Frame,
    FrameSource,
    SourceSpec,
    Transport,
    classify,
)
from camera_app.sources.capture import (
    BackoffPolicy,
    CaptureSnapshot,
    CaptureState,
    CaptureThread,
    DropReason,
    LatestFrame,
)
from camera_app.sources.factory import open_source

__all__ = [
    "BackoffPolicy",
    "CaptureSnapshot",
    "CaptureState",
    "CaptureThread",
    "DropReason",
    "ErrorKind",
    "Frame",
    "FrameSource",
    "LatestFrame",
    "SourceSpec",
    "Transport",
    "classify",
    "open_source",
]
