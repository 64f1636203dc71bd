"""An annotated recording: every processed frame, boxes drawn, into one video file.

The codec follows the extension: ``.mp4`` -> mp4v, ``.avi`` -> MJPG. The writer is opened at
the first frame, with that frame's size; later frames of another size (a camera that
reconnected at another resolution) are resized to it. A writer that cannot be opened is
logged once and the sink turns itself off.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2

from camera_app.detect.draw import draw_detections
from camera_app.errors import ConfigError
from camera_app.outputs._paths import check_output_path
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

FOURCC_BY_EXTENSION = {".mp4": "mp4v", ".avi": "MJPG"}


class RecordSink:
    """Writes annotated frames to ``path`` at ``fps_hint`` frames per second."""

    def __init__(self, path: str, fps_hint: float = 15.0) -> None:
        target = check_output_path(path, "outputs.record")
        fourcc = FOURCC_BY_EXTENSION.get(target.suffix.lower())
        if fourcc is None:
            known = ", ".join(FOURCC_BY_EXTENSION)
            raise ConfigError(
                f"outputs.record: cannot tell the video format of {path}; "
                f"expected a file name ending in {known}"
            )
        if not fps_hint > 0:
            raise ConfigError(f"outputs.record: expected a positive frame rate, got {fps_hint!r}")
        self.path: Path = target
        self.fourcc = fourcc
        self.fps_hint = float(fps_hint)
        self.enabled = True
        self.frames_written = 0
        self.size_wh: tuple[int, int] | None = None
        self._writer: cv2.VideoWriter | None = None

    def _open(self, size_wh: tuple[int, int]) -> bool:
        code = cv2.VideoWriter.fourcc(*self.fourcc)
        writer = cv2.VideoWriter(str(self.path), code, self.fps_hint, size_wh)
        if not writer.isOpened():
            writer.release()
            self.enabled = False
            log.error(
                "cannot record to %s (OpenCV has no %s writer for %dx%d); recording is off",
                self.path, self.fourcc, *size_wh,
            )  # fmt: skip
            return False
        self._writer, self.size_wh = writer, size_wh
        log.info("recording %s (%s, %dx%d, %.1f fps)", self.path, self.fourcc, *size_wh,
                 self.fps_hint)  # fmt: skip
        return True

    def handle(self, result: Result) -> None:
        if not self.enabled:
            return
        image = result.frame.image_bgr
        h, w = image.shape[:2]
        if self._writer is None and not self._open((w, h)):
            return
        writer, size_wh = self._writer, self.size_wh
        if writer is None or size_wh is None:
            return
        # Draw on a copy (the frame is shared with the other outputs), in the frame's own
        # pixels (where the boxes are), then fit the writer's size.
        annotated = draw_detections(image.copy(), result.detections)
        fitted = (
            annotated
            if (w, h) == size_wh
            else cv2.resize(annotated, size_wh, interpolation=cv2.INTER_AREA)
        )
        try:
            writer.write(fitted)
        except cv2.error as exc:
            self.enabled = False
            log.error("recording to %s failed (%s); recording is off", self.path, exc)
            return
        self.frames_written += 1

    def close(self) -> None:
        self.enabled = False
        if self._writer is not None:
            self._writer.release()
            self._writer = None
