"""One capture thread per camera: keep the newest frame, reconnect forever, say why it is down.

``CaptureThread`` runs a supervisor thread that owns the source. Each connection attempt is a
*session*: a reader thread opens the source and reads frames into the ``LatestFrame`` slot while
the supervisor watches it with timeouts:

- the open does not finish within ``open_timeout_s`` (+ grace), or no frame arrives for
  ``stall_timeout_s``: a stall (kind ``timeout``);
- the reader raises ``SourceError``: its kind is counted. Once the session has streamed, up
  to ``MAX_DAMAGED_READS`` reads in a row that fail at once (not a timeout, not the end) are
  read past on the same connection, and counted as ``damaged`` frames when a frame follows.

Either way the supervisor closes the source and backs off (exponential, capped, with jitter)
before the next session, with a log line unless one like it was logged lately
(``camera_app.sources.outage``: a camera down or flapping all night writes a few lines an
hour); ``eof`` (a finite file or folder that ended) is final: ``failed``.

Why a reader thread: ``cv2.VideoCapture.read()`` has no timeout of its own and can block forever
(a dead V4L2 device, a half-open TCP connection). Python cannot interrupt it, so a hung reader is
*abandoned*: the supervisor closes the source (sources defer the release of a capture that is
inside ``read`` to that reader, see ``camera_app.sources.opencv``), marks the session abandoned so
that anything the reader returns later is discarded, and starts a new session. The abandoned reader
is a daemon thread and ends when OpenCV returns, if ever. With ``MAX_HUNG_READERS`` of them still
blocked, the camera opens nothing more (state ``backing_off``, saying so) until one returns, so a
source that hangs every session cannot pile up threads and open captures for months.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

import numpy as np

from camera_app.errors import ConfigError, SourceError
from camera_app.redact import redact_text
from camera_app.sources.backoff import Backoff, BackoffPolicy
from camera_app.sources.base import Frame, FrameSource
from camera_app.sources.errors import ErrorKind, classify
from camera_app.sources.outage import OutageLog
from camera_app.sources.slot import DropReason, LatestFrame
from camera_app.threads import ManagedThread

__all__ = [
    "Backoff",
    "BackoffPolicy",
    "CaptureSnapshot",
    "CaptureState",
    "CaptureThread",
    "DropReason",
    "LatestFrame",
]

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often the supervisor looks at its session and the stop event
# Abandoned readers a camera may have before it opens nothing more: each holds a thread and
# the capture it is blocked in, so a source that hangs every session must not pile them up.
MAX_HUNG_READERS = 3
_HUNG_CHECK_S = 1.0  # how often a camera at that limit looks whether a reader has returned
# Reads in a row that may fail at once, mid-stream, before the session counts as broken: an
# MJPEG camera's corrupt part (no JPEG in it) fails one read and the next read goes on, on
# the same connection. A closed connection fails these at once, so they cost nothing then.
MAX_DAMAGED_READS = 3
# Not a timeout nor the end: a corrupt part fails like a drop, which these reads then tell.
_DAMAGE_KINDS = frozenset({ErrorKind.DECODE, ErrorKind.DISCONNECTED, ErrorKind.OTHER})


class CaptureState(str, Enum):
    CONNECTING = "connecting"  # opening, or opened and waiting for the first frame
    STREAMING = "streaming"
    BACKING_OFF = "backing_off"  # the last session failed; waiting before the next
    FAILED = "failed"  # final: the input ended (eof); the thread has stopped


@dataclass(frozen=True)
class CaptureSnapshot:
    """State and counters of one camera at one moment, for metrics and the status page."""

    camera: str
    description: str
    state: CaptureState
    state_since_monotonic_s: float
    state_since_wall_s: float
    last_error_kind: ErrorKind | None
    last_error_message: str | None  # credential-free
    frames_captured: int
    frames_replaced: int
    frames_too_old: int
    reconnects: int
    errors_by_kind: Mapping[ErrorKind, int]
    last_frame_monotonic_s: float | None
    alive: bool  # the capture thread runs
    hung_readers: int = 0  # abandoned reader threads still blocked inside the source
    backoff_s: float | None = None  # backing off: the delay of this wait before the next try
    # Every reason (those above too); empty in snapshots made without a slot
    drops: Mapping[DropReason, int] = field(default_factory=lambda: MappingProxyType({}))


class _Session:
    """One connection attempt, shared by the supervisor and its reader thread."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.done = threading.Event()
        self.abandoned = threading.Event()
        self.error: SourceError | None = None
        self.last_progress_s = time.monotonic()
        self.first_frame_s: float | None = None  # monotonic: when it began to stream


class CaptureThread(ManagedThread):
    """Reads one camera into ``latest`` until ``stop`` is set, reconnecting as long as it takes."""

    def __init__(
        self,
        camera: str,
        source: FrameSource,
        stop: threading.Event,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        stall_timeout_s: float = 10.0,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        latest: LatestFrame | None = None,
        max_hung_readers: int = MAX_HUNG_READERS,
    ) -> None:
        for name, value in (
            ("open_timeout_s", open_timeout_s),
            ("read_timeout_s", read_timeout_s),
            ("stall_timeout_s", stall_timeout_s),
        ):
            if not value > 0:
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        super().__init__(f"capture-{camera}")
        self.camera = camera
        self.latest = latest or LatestFrame()
        self._source = source
        # A lossless source (a file read with realtime: false) waits for each frame to be
        # taken instead of replacing it: nothing is skipped, and no decoding is wasted.
        self.lossless = source.lossless
        self._description = redact_text(source.description)
        self._stop = stop
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._stall_timeout_s = stall_timeout_s
        self._backoff = Backoff(backoff or BackoffPolicy(), rng)
        self._backoff_s = 0.0
        self._lock = threading.Lock()
        self._state = CaptureState.CONNECTING
        self._since = (time.monotonic(), time.time())
        self._last_error: tuple[ErrorKind, str] | None = None
        self._sequence = 0
        self._frames = 0
        self._reconnects = 0
        self._errors = dict.fromkeys(ErrorKind, 0)
        self._last_frame_s: float | None = None
        self._sessions = 0
        self._hung_readers: list[threading.Thread] = []
        self._max_hung_readers = max_hung_readers
        self._outage = OutageLog()

    # -- public (start, alive, stop: ManagedThread) ------------------------------------

    def snapshot(self) -> CaptureSnapshot:
        drops = self.latest.drops()
        with self._lock:
            kind, message = self._last_error if self._last_error else (None, None)
            hung = self._still_hung()
            return CaptureSnapshot(
                camera=self.camera,
                description=self._description,
                state=self._state,
                state_since_monotonic_s=self._since[0],
                state_since_wall_s=self._since[1],
                last_error_kind=kind,
                last_error_message=message,
                frames_captured=self._frames,
                frames_replaced=drops[DropReason.REPLACED],
                frames_too_old=drops[DropReason.TOO_OLD],
                reconnects=self._reconnects,
                errors_by_kind=MappingProxyType(dict(self._errors)),
                last_frame_monotonic_s=self._last_frame_s,
                alive=self._thread.is_alive(),
                hung_readers=hung,
                drops=MappingProxyType(drops),
                backoff_s=self._backoff_s if self._state is CaptureState.BACKING_OFF else None,
            )

    # -- supervisor -------------------------------------------------------------------------

    def _set_state(self, state: CaptureState) -> None:
        with self._lock:
            if state is not self._state:
                self._state = state
                self._since = (time.monotonic(), time.time())

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._wait_for_hung_readers():
                    break
                with self._lock:
                    if self._sessions > 0:
                        self._reconnects += 1
                    self._sessions += 1
                self._set_state(CaptureState.CONNECTING)
                error = self._session()
                if error is None or self._stop.is_set():
                    break
                kind = self._record_error(error)
                if kind is ErrorKind.EOF:
                    log.info("camera %s: %s ended", self.camera, self._description)
                    self._set_state(CaptureState.FAILED)
                    break
                delay_s = self._backoff.next_delay_s()
                with self._lock:
                    self._backoff_s = delay_s
                self._set_state(CaptureState.BACKING_OFF)
                self._log_failure(kind, delay_s)
                self._stop.wait(delay_s)
        except Exception:  # a bug here must not kill the camera silently
            log.exception("camera %s: capture supervisor crashed", self.camera)
            self._record_error(SourceError("capture supervisor crashed", kind="other"))
            self._set_state(CaptureState.FAILED)
        finally:
            self._close_source()

    def _log_failure(self, kind: ErrorKind, delay_s: float) -> None:
        """A line for the failure unless one of its kind was logged lately (``OutageLog``)."""
        with self._lock:
            suffix = self._outage.failed(kind, time.monotonic())
        if suffix is None:
            return
        log.warning(
            "camera %s: %s [%s]; retrying in %.1f s%s",
            self.camera,
            self._last_message(),
            kind.value,
            delay_s,
            suffix,
        )

    def _still_hung(self) -> int:
        """Forget abandoned readers that have returned; how many are still blocked (under
        ``_lock``)."""
        self._hung_readers = [t for t in self._hung_readers if t.is_alive()]
        return len(self._hung_readers)

    def _wait_for_hung_readers(self) -> bool:
        """With ``max_hung_readers`` readers still blocked, wait until one returns before the
        next session. True: go on; False: stop was set."""
        said = False
        while not self._stop.is_set():
            with self._lock:
                hung = self._still_hung()
                if hung < self._max_hung_readers:
                    return True
                if not said:
                    message = (
                        f"{self._description}: {hung} reader "
                        f"{'thread is' if hung == 1 else 'threads are'} still blocked inside "
                        "the source (OpenCV did not return); no new connection until one "
                        "returns; if this lasts, check the device or restart the service"
                    )
                    self._last_error = (ErrorKind.TIMEOUT, message)
            if not said:
                self._set_state(CaptureState.BACKING_OFF)
                log.error("camera %s: %s", self.camera, message)
                said = True
            self._stop.wait(_HUNG_CHECK_S)
        return False

    def _record_error(self, error: SourceError) -> ErrorKind:
        kind = classify(error)
        message = redact_text(str(error))
        with self._lock:
            self._errors[kind] += 1
            self._last_error = (kind, message)
        return kind

    def _last_message(self) -> str:
        with self._lock:
            return self._last_error[1] if self._last_error else ""

    def _close_source(self) -> None:
        try:
            self._source.close()
        except Exception as exc:  # closing is best effort; the next open starts afresh
            log.warning(
                "camera %s: closing %s failed: %s",
                self.camera,
                self._description,
                redact_text(f"{type(exc).__name__}: {exc}"),
            )

    def _session(self) -> SourceError | None:
        """Run one connection attempt to its end; return why it ended (None: stop was set)."""
        session = _Session()
        reader = threading.Thread(
            target=self._read_loop,
            args=(session,),
            daemon=True,
            name=f"capture-{self.camera}-reader-{self._sessions}",
        )
        reader.start()
        open_grace_s = max(2.0, 0.5 * self._open_timeout_s)
        open_deadline = time.monotonic() + self._open_timeout_s + open_grace_s
        error: SourceError | None = None
        while not self._stop.is_set():
            if session.done.wait(_POLL_S):
                error = session.error or SourceError(
                    f"{self._description}: the reader ended without an error", kind="other"
                )
                break
            now = time.monotonic()
            if not session.opened.is_set() and now > open_deadline:
                error = SourceError(
                    f"{self._description}: open did not return within "
                    f"{self._open_timeout_s + open_grace_s:g} s (stalled)",
                    kind=ErrorKind.TIMEOUT.value,
                )
                break
            if session.opened.is_set() and now - session.last_progress_s > self._stall_timeout_s:
                error = SourceError(
                    f"{self._description}: no frame for {self._stall_timeout_s:g} s (stalled)",
                    kind=ErrorKind.TIMEOUT.value,
                )
                break
        session.abandoned.set()
        self._close_source()
        reader.join(_POLL_S)
        if reader.is_alive():
            log.warning(
                "camera %s: abandoning reader thread %s, blocked inside the source",
                self.camera,
                reader.name,
            )
            with self._lock:
                self._hung_readers.append(reader)
        if session.first_frame_s is not None:
            self._backoff.streamed(time.monotonic() - session.first_frame_s)
        return error

    # -- reader -----------------------------------------------------------------------------

    def _read_loop(self, session: _Session) -> None:
        try:
            self._source.open(self._open_timeout_s)
            if session.abandoned.is_set():
                return
            session.last_progress_s = time.monotonic()
            session.opened.set()
            published, damaged = False, 0
            while not (self._stop.is_set() or session.abandoned.is_set()):
                if self.lossless and not self.latest.wait_empty(_POLL_S):
                    session.last_progress_s = time.monotonic()  # waiting on us is no stall
                    continue
                try:
                    image = self._source.read(self._read_timeout_s)
                except SourceError as exc:
                    if not (
                        published and damaged < MAX_DAMAGED_READS and classify(exc) in _DAMAGE_KINDS
                    ):
                        raise
                    damaged += 1
                    continue
                monotonic_s, wall_s = time.monotonic(), time.time()
                if session.abandoned.is_set():
                    return
                if not (
                    isinstance(image, np.ndarray)
                    and image.dtype == np.uint8
                    and image.ndim == 3
                    and image.shape[2] == 3
                ):
                    raise SourceError(
                        f"{self._description}: expected an HxWx3 uint8 BGR image, got "
                        f"{getattr(image, 'shape', type(image).__name__)}",
                        kind=ErrorKind.DECODE.value,
                    )
                for _ in range(damaged):  # skipped, and the stream went on: damaged frames
                    self.latest.count(DropReason.DAMAGED)
                published, damaged = True, 0
                self._publish(image, monotonic_s, wall_s, session)
        except SourceError as exc:
            session.error = exc
        except Exception as exc:  # a third-party source's bug becomes a classified error
            # No traceback in the log: exception texts from libraries may carry the URL.
            session.error = SourceError(
                redact_text(f"{self._description}: {type(exc).__name__}: {exc}"),
                kind=classify(exc).value,
            )
        finally:
            session.done.set()

    def _publish(
        self, image: np.ndarray, monotonic_s: float, wall_s: float, session: _Session
    ) -> None:
        with self._lock:
            sequence = self._sequence
            self._sequence += 1
            self._frames += 1
            self._last_frame_s = monotonic_s
            first = self._state is not CaptureState.STREAMING
            after = self._outage.streamed(monotonic_s) if first else None
        session.last_progress_s = monotonic_s
        if first:
            session.first_frame_s = monotonic_s
            self._set_state(CaptureState.STREAMING)
        if after is not None:
            log.info("camera %s: streaming from %s%s", self.camera, self._description, after)
        self.latest.put(Frame(image, self.camera, sequence, monotonic_s, wall_s))
