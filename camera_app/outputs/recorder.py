"""An annotated recording: every processed frame, boxes drawn, in video files of fixed length.

``record: /var/lib/camera-app/door.mp4`` writes ``door-20261127T145300Z.mp4``,
``door-20261127T150300Z.mp4``, ... beside it: a new file every ``segment_s`` seconds of capture
time (by the monotonic clock), named after its first frame's capture time (UTC, by the wall
clock). No file is ever overwritten (a restart starts a new one), and with ``max_mb``,
whenever a file starts, the oldest of this recording's files are deleted while they all take
more than that (never the one being written, which can take the total over by up to one
file); other files are never touched.

Each file plays in real time at ``fps_hint`` frames per second, whatever rate results come at:
a picture is held (written again) until the next one's capture time, frames coming faster
than that rate are left out, and a gap of over ``max_hold_s`` (1 s, or longer for a camera
whose results come less often: a low detect_fps, or motion gating's keep-alive while nothing
moves) is skipped (a camera that was down) rather than filled with a frozen picture.

The container and codec follow the extension: ``.mkv`` -> Matroska with mp4v (MPEG-4 part 2),
``.avi`` -> MJPG, ``.mp4`` -> mp4v. Matroska and AVI files are written front to back, so one
cut short by an unclean stop (SIGKILL, the watchdog's SIGABRT, an OOM kill, a power cut) still
plays up to the frames that reached the disk (all but the last few, which sit in the writer's
buffer of about 32 KB). An MP4 file needs its index (the ``moov`` atom), written only when the
file is closed: cut short, it does not play at all ("moov atom not found"), losing up to
``segment_s`` of video. OpenCV's writer cannot write fragmented MP4, so ``.mp4`` is still
accepted but warned about at start. Each file is opened at its
first frame, with that frame's size; later frames of another size (a camera that reconnected at
another resolution) are resized to it. A writer that cannot be opened for the first file, on a
disk with room, is logged once and the sink turns itself off (the format, size or folder is
wrong).

A writer that stops taking frames (a full disk: OpenCV 5's ``write()`` returns False; OpenCV
4's returns nothing, so every ``CHECK_EVERY_S`` a file that did not grow on a full disk counts
as refused) is closed with one error line naming the file and the free space; frames are
skipped until a retry 30 s later (``_retry``: doubling up to 10 min while it keeps failing),
which starts a new file (and prunes first, with ``max_mb``). A file that cannot be opened on
a full disk (the mp4 writer does not open there: at a segment's start, or at start-up) is
retried the same way. When one takes frames again, that is logged too.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from camera_app.detect.draw import draw_detections
from camera_app.errors import ConfigError
from camera_app.outputs._paths import check_output_path
from camera_app.outputs._retry import Retry
from camera_app.pipeline.types import Result

log = logging.getLogger(__name__)

FOURCC_BY_EXTENSION = {".mkv": "mp4v", ".avi": "MJPG", ".mp4": "mp4v"}
LOST_WHEN_CUT_SHORT = frozenset({".mp4"})  # unplayable until closed: no index yet


SEGMENT_S = 600.0
CHECK_EVERY_S = 10.0  # capture time between checks that the file grows
CHECK_MIN_FRAMES = 10  # frames written since the last check for "did not grow" to count
FULL_BELOW_BYTES = 1e6  # free space under which a writer that does not open means "disk full"


def checked_settings(
    path: str, fps_hint: float, segment_s: float, max_mb: float | None, *, what: str = "outputs"
) -> tuple[Path, str]:
    """The recording's path and fourcc, once its settings are known good (else ConfigError
    naming ``what``'s keys)."""
    target = check_output_path(path, f"{what}.record")
    fourcc = FOURCC_BY_EXTENSION.get(target.suffix.lower())
    if fourcc is None:
        known = ", ".join(FOURCC_BY_EXTENSION)
        raise ConfigError(
            f"{what}.record: cannot tell the video format of {path}; "
            f"expected a file name ending in {known}"
        )
    if not fps_hint > 0:
        raise ConfigError(f"{what}.record: expected a positive frame rate, got {fps_hint!r}")
    if not segment_s > 0:
        raise ConfigError(
            f"{what}.record_segment_s: expected a positive number of seconds, got {segment_s!r}"
        )
    if max_mb is not None and not max_mb > 0:
        raise ConfigError(f"{what}.record_max_mb: expected a positive size, got {max_mb!r}")
    return target, fourcc


class RecordSink:
    """Writes annotated frames into files named after ``path`` at ``fps_hint`` frames per
    second, a new file every ``segment_s`` seconds; keeps them under ``max_mb`` if given."""

    output_name = "record"

    def __init__(
        self,
        path: str,
        fps_hint: float = 15.0,
        *,
        segment_s: float = SEGMENT_S,
        max_mb: float | None = None,
        writer_factory: Callable[[str, int, float, tuple[int, int]], Any] = cv2.VideoWriter,
        max_hold_s: float = 1.0,
    ) -> None:
        target, fourcc = checked_settings(path, fps_hint, segment_s, max_mb)
        if target.suffix.lower() in LOST_WHEN_CUT_SHORT:
            log.warning(
                "recording to %s: an MP4 file that is not closed (the process killed, a power "
                "cut) does not play at all, up to %g s of video lost; record to a .mkv name "
                "instead, which plays up to the last frames written", path, segment_s,
            )  # fmt: skip
        self.base: Path = target
        self.segment_s = float(segment_s)
        self.max_bytes = None if max_mb is None else int(max_mb * 1e6)
        # This recording's files and only them: stem-YYYYmmddTHHMMSSZ[-n].suffix
        self._ours = re.compile(
            re.escape(target.stem) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?" + re.escape(target.suffix)
        )
        self.path: Path | None = None  # the file being written
        self._opened: list[str] = []  # names of the files this process opened, in order
        self._segment_start_s = 0.0  # monotonic: a wall clock set back cannot stretch a file
        self.files_deleted = 0
        self.fourcc = fourcc
        self.fps_hint = float(fps_hint)
        self.enabled = True
        self.frames_written = 0
        self.size_wh: tuple[int, int] | None = None
        self._writer: Any = None  # a cv2.VideoWriter
        self._new_writer = writer_factory
        self.retry = Retry()  # after a failed write, by capture time
        self.frames_skipped = 0  # while waiting to retry after a failed write
        self.frames_left_out = 0  # faster than the file's frame rate
        self._timeline_s = 0.0  # capture time of the current file's first frame, less gaps
        self._segment_frames = 0  # frames in the current file, copies included
        # A picture is held up to max_hold_s (a gated camera's results come only at its
        # keep-alive while nothing moves: its picture is what the camera saw meanwhile).
        self._max_copies = max(1, math.ceil(fps_hint * max_hold_s))
        self._last: npt.NDArray[np.uint8] | None = None  # the picture last written
        self._check_at_s = 0.0  # capture time of the next growth check
        self._checked_size = 0
        self._checked_frames = 0

    def _segment_path(self, wall_s: float) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall_s))
        path = self.base.with_name(f"{self.base.stem}-{stamp}{self.base.suffix}")
        n = 0
        while path.exists():  # never overwrite: a restart within the same second
            n += 1
            path = self.base.with_name(f"{self.base.stem}-{stamp}-{n}{self.base.suffix}")
        return path

    def _open(self, size_wh: tuple[int, int], wall_s: float, mono_s: float) -> bool:
        self._prune()  # first: on a disk full of our own files, the new one needs the room
        path = self._segment_path(wall_s)
        code = cv2.VideoWriter.fourcc(*self.fourcc)
        writer = self._new_writer(str(path), code, self.fps_hint, size_wh)
        if not writer.isOpened():
            writer.release()
            # A file opened before (the disk or folder changed since), or the disk is full
            # now (the mp4 writer does not open there): wait for room. Else the format, size
            # or folder is wrong, and waiting will not help.
            if self.path is not None or self._free_bytes() < FULL_BELOW_BYTES:
                self._failed(mono_s, path, "cannot open it")
                return False
            self.enabled = False
            self.retry.give_up()
            log.error(
                "cannot record to %s (OpenCV has no %s writer for %dx%d); recording is off",
                path, self.fourcc, *size_wh,
            )  # fmt: skip
            return False
        self._writer, self.size_wh, self.path = writer, size_wh, path
        if self.max_bytes is not None:
            self._opened.append(path.name)
        self._segment_start_s = self._timeline_s = mono_s
        self._segment_frames = 0
        self._last = None
        try:
            self._checked_size = os.stat(path).st_size  # the header, if any
        except OSError:
            self._checked_size = 0
        self._check_at_s, self._checked_frames = mono_s + CHECK_EVERY_S, self.frames_written
        log.info("recording %s (%s, %dx%d, %.1f fps)", path, self.fourcc, *size_wh,
                 self.fps_hint)  # fmt: skip
        return True

    def _prune(self) -> None:
        """Delete this recording's oldest files while they all take more than ``max_bytes``.

        Oldest first: the files of earlier runs by their names (capture time, then the
        restart's number within the same second), then this run's in the order it opened
        them, whatever their names say: a wall clock set back (NTP correcting a clock that
        ran ahead) names new files older, and by name the newest footage would go first."""
        if self.max_bytes is None:
            return
        order = {name: n for n, name in enumerate(self._opened)}
        try:
            found = ((f, self._ours.fullmatch(f.name)) for f in self.base.parent.iterdir())
            # (As text "x-...Z-1.mkv" sorts before "x-...Z.mkv", the older file.)
            files = [f for f, _ in sorted(
                ((f, (order.get(f.name, -1), m[1], int(m[2] or 0)))
                 for f, m in found if m is not None),
                key=lambda fm: fm[1],
            )]  # fmt: skip
            sizes = {f: f.stat().st_size for f in files}
            present = {f.name for f in files}
            self._opened = [name for name in self._opened if name in present]
        except OSError as exc:
            log.warning("recording: cannot list %s to keep it under %d MB: %s",
                        self.base.parent, self.max_bytes // 1_000_000, exc)  # fmt: skip
            return
        total = sum(sizes.values())
        for f in files:
            if total <= self.max_bytes:
                break
            if f == self.path:
                continue
            try:
                f.unlink()
            except OSError as exc:
                log.warning("recording: cannot delete %s: %s", f, exc)
                continue
            total -= sizes[f]
            self.files_deleted += 1
            log.info("recording: deleted %s to stay under %d MB", f.name,
                     self.max_bytes // 1_000_000)  # fmt: skip

    def _file_ok(self, mono_s: float, *, now: bool = False) -> bool | None:
        """Every CHECK_EVERY_S (or ``now``), for OpenCV 4, whose ``write()`` says nothing:
        False if the file is gone, or took CHECK_MIN_FRAMES frames without growing while the
        disk is full; True if it grew or the disk has room (a quiet scene's small frames can
        sit in the muxer's buffer for a while); None when no check is due or can tell."""
        if (mono_s < self._check_at_s and not now) or self.path is None:
            return None
        self._check_at_s = mono_s + CHECK_EVERY_S
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return False  # deleted or unreachable under us
        if size > self._checked_size:
            self._checked_size, self._checked_frames = size, self.frames_written
            return True
        if self.frames_written - self._checked_frames < CHECK_MIN_FRAMES:
            return None
        self._checked_frames = self.frames_written
        return self._free_bytes() >= FULL_BELOW_BYTES

    def _free_bytes(self) -> float:
        try:
            return float(shutil.disk_usage(self.base.parent).free)
        except OSError:
            return float("inf")  # unknown: not known to be full

    def _failed(self, mono_s: float, path: Path | None, what: str) -> None:
        """Close the file being written, if any; try a new one after a wait."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
        free_b = self._free_bytes()
        free = "free space unknown" if free_b == float("inf") else f"{free_b / 1e6:.1f} MB free"
        first = not self.retry.failing
        wait_s = self.retry.failed(mono_s)
        if first:
            log.error("recording to %s failed: %s (%s in %s; is the disk full?); trying a new "
                      "file in %g s", path, what, free, self.base.parent, wait_s)  # fmt: skip
        else:
            log.warning("recording to %s failed again: %s (%s); next try in %g s",
                        path, what, free, wait_s)  # fmt: skip

    def handle(self, result: Result) -> None:
        if not self.enabled:
            return
        image = result.frame.image_bgr
        h, w = image.shape[:2]
        frame = result.frame
        if self.retry.waiting(frame.capture_monotonic_s):
            self.frames_skipped += 1
            return
        if not self._end_segment_if_due(frame.capture_monotonic_s):
            self.frames_skipped += 1
            return
        if self._writer is None and not self._open(
            (w, h), frame.capture_wall_s, frame.capture_monotonic_s
        ):
            return
        writer, size_wh = self._writer, self.size_wh
        if writer is None or size_wh is None:
            return
        copies = self._copies(frame.capture_monotonic_s)
        if copies == 0:
            self.frames_left_out += 1
            return
        # Draw on a copy (the frame is shared with the other outputs), in the frame's own
        # pixels (where the boxes are), then fit the writer's size.
        annotated = draw_detections(image.copy(), result.detections)
        fitted = np.asarray(
            annotated
            if (w, h) == size_wh
            else cv2.resize(annotated, size_wh, interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
        # The last picture is held until this frame's time in the file; then this frame.
        held = self._last if self._last is not None else fitted
        for picture in [held] * (copies - 1) + [fitted]:
            try:
                took = writer.write(picture)  # OpenCV 5: False when refused; OpenCV 4: None
            except cv2.error as exc:
                self.enabled = False
                self.retry.give_up()
                log.error("recording to %s failed (%s); recording is off", self.path, exc)
                return
            ok = self._file_ok(frame.capture_monotonic_s)
            if took is False or ok is False:
                self._failed(
                    frame.capture_monotonic_s, self.path, "the video writer takes no more frames"
                )
                return
            self.frames_written += 1
            self._segment_frames += 1
            if (took or ok) and self.retry.recovered():  # OpenCV 4: at the next file check
                log.info("recording again: %s takes frames", self.path)
        self._last = fitted

    def _end_segment_if_due(self, mono_s: float) -> bool:
        """Close the file once its segment is over (the next starts at this frame, at its
        size); False if the closed file turns out not to have grown (a full disk)."""
        if self._writer is None or mono_s - self._segment_start_s < self.segment_s:
            return True
        self._writer.release()
        self._writer = None
        # Released, the file holds every frame it took: a segment shorter than
        # CHECK_EVERY_S is checked here (OpenCV 4 says nothing of a failed write).
        ok = self._file_ok(mono_s, now=True)
        if ok is False:
            self._failed(mono_s, self.path, "its file did not grow")
            return False
        if ok and self.retry.recovered():
            log.info("recording again: %s took frames", self.path)
        return True

    def _copies(self, mono_s: float) -> int:
        """How many frames to write for a frame captured at ``mono_s`` so that the file plays
        in real time: the file holds one frame per 1/fps of capture time, so the last picture
        fills the slots up to this frame's, which this frame takes. 0: it falls in the slot of
        the last one written (the camera or the model is faster than the file's rate). A gap
        of over a second (a camera that was down) is not filled with a frozen picture: the
        file's time skips it."""
        slot = round((mono_s - self._timeline_s) * self.fps_hint)
        copies = slot + 1 - self._segment_frames
        if copies > self._max_copies:
            self._timeline_s += (copies - 1) / self.fps_hint
            return 1
        return max(copies, 0)

    def health(self) -> tuple[bool, int]:
        return self.retry.health()

    def close(self) -> None:
        self.enabled = False
        if self._writer is not None:
            self._writer.release()
            self._writer = None
