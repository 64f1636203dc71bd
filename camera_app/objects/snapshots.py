"""Best snapshots: one per object event, chosen by score and size, written once, folder capped.

While an event is young, each frame where the object was matched is a candidate; the best
(score times the square root of the box's share of the frame: a sharp, large view beats a
tiny, confident one) is kept by reference (frames are never changed after capture, so no copy).
``snapshot_delay_s`` after the start (or at the end, if sooner) the best candidate is written:
``<camera>-<event id>.jpg`` (the frame with the box drawn) and ``<camera>-<event id>-crop.jpg``
(the box with a margin). Once. When the folder's snapshots pass ``max_mb`` the oldest go.
A write that fails is logged and the event goes on without a snapshot.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camera_app.errors import ConfigError
from camera_app.sources.base import ImageBGR

log = logging.getLogger(__name__)

CROP_MARGIN = 0.15  # of the box's size, on each side


def quality(
    score: float, box_xyxy: tuple[float, float, float, float], frame_wh: tuple[int, int]
) -> float:
    area = max(0.0, box_xyxy[2] - box_xyxy[0]) * max(0.0, box_xyxy[3] - box_xyxy[1])
    return score * math.sqrt(area / max(1, frame_wh[0] * frame_wh[1]))


@dataclass(frozen=True)
class Candidate:
    quality: float
    image_bgr: ImageBGR
    box_xyxy: tuple[float, float, float, float]
    label: str
    score: float


def annotate(image: ImageBGR, c: Candidate) -> tuple[ImageBGR, ImageBGR]:
    """(the frame with the box and label drawn, the crop of the box with a margin)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = c.box_xyxy
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
    cx2, cy2 = (
        min(w, max(cx1 + 1, math.ceil(x2 + mx))),
        min(h, max(cy1 + 1, math.ceil(y2 + my))),
    )
    crop = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
    drawn = image.copy()
    thick = max(2, round(min(h, w) / 250))
    cv2.rectangle(drawn, (round(x1), round(y1)), (round(x2), round(y2)), (0, 200, 255), thick)
    text = f"{c.label} {c.score:.2f}"
    cv2.putText(drawn, text, (round(x1), max(16, round(y1) - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                0.6, (0, 200, 255), 2, cv2.LINE_AA)  # fmt: skip
    return drawn, crop


def check_snapshot_folder(folder: str, what: str) -> None:
    """A folder that is there and writable, or one level below one that is (the store makes
    that level: systemd's StateDirectory= gives the service the one above)."""
    path = Path(folder)
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{what}: cannot write in {folder} (permission denied)")
        return
    if path.exists() or not path.parent.is_dir():
        raise ConfigError(f"{what}: {folder} is not a folder; create it first")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: cannot create {folder} (permission denied)")


class SnapshotStore:
    """Writes snapshots into ``folder`` (made if its parent exists), keeping it under
    ``max_mb``."""

    def __init__(
        self, folder: str, max_mb: float, *, jpeg_quality: int = 85, what: str = "objects"
    ) -> None:
        check_snapshot_folder(folder, f"{what}.snapshots")
        path = Path(folder)
        if not path.is_dir():
            try:  # one level only: under systemd's StateDirectory= the service makes its own
                path.mkdir()
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise ConfigError(f"{what}.snapshots: cannot create {folder} ({reason})") from exc
        if not max_mb > 0:
            raise ConfigError(f"{what}.snapshots_max_mb: expected > 0, got {max_mb}")
        self.folder = path
        self.max_bytes = int(max_mb * 1e6)
        self.jpeg_quality = jpeg_quality
        self.written = 0
        self.deleted = 0
        self.failures = 0
        self._lock = threading.Lock()
        # name -> size, oldest first: the files found at start by their times, then those
        # this run writes in the order it writes them (a wall clock set back gives new
        # files older times: by time alone the newest snapshots would be deleted first).
        self._files: dict[str, int] = {}
        found = [(p.name, p.stat()) for p in path.glob("*.jpg")]
        for name, st in sorted(found, key=lambda f: f[1].st_mtime):
            self._files[name] = st.st_size

    @staticmethod
    def name(camera: str, event_id: str) -> str:
        return f"{camera}-{event_id}.jpg"

    def path(self, name: str) -> Path | None:
        """The file of a snapshot this store wrote and still holds (None otherwise)."""
        with self._lock:
            return self.folder / name if name in self._files else None

    def write(self, camera: str, event_id: str, c: Candidate) -> bytes | None:
        """Writes both files; returns the annotated JPEG (for MQTT and the page), or None."""
        drawn, crop = annotate(c.image_bgr, c)
        params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        name = self.name(camera, event_id)
        out: bytes | None = None
        try:
            for image, file_name in ((drawn, name), (crop, name.replace(".jpg", "-crop.jpg"))):
                ok, buf = cv2.imencode(".jpg", image, params)
                if not ok:
                    raise OSError("JPEG encoding failed")
                data = buf.tobytes()
                target = self.folder / file_name
                tmp = target.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
                with self._lock:
                    self._files.pop(file_name, None)  # rewritten: now the newest
                    self._files[file_name] = len(data)
                out = out or data
        except (OSError, cv2.error) as exc:
            self.failures += 1
            log.error("snapshot %s in %s failed: %s", name, self.folder, exc)
            return None
        self.written += 1
        self._trim()
        return out

    def _trim(self) -> None:
        with self._lock:
            total = sum(self._files.values())
            if total <= self.max_bytes:
                return
            oldest = list(self._files.items())
        for name, size in oldest:
            if total <= self.max_bytes:
                break
            try:
                (self.folder / name).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot delete old snapshot %s: %s", name, exc)
                continue
            with self._lock:
                self._files.pop(name, None)
            total -= size
            self.deleted += 1
