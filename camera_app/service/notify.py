"""systemd's sd_notify protocol and a progress-checking watchdog, with the standard library only.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET``, a datagram socket (a path, or ``@name``
in the abstract namespace) that takes newline-separated ``KEY=VALUE`` lines; without it every
call is a no-op. ``Watchdog`` sends ``WATCHDOG=1`` only while ``progress()`` advances and
``alive()`` holds, so a hung inference lets ``WatchdogSec=`` expire and systemd restarts the
service (``wiring.SystemdNotifier`` feeds it from the telemetry).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from camera_app.threads import join_all

log = logging.getLogger(__name__)

_DEFAULT_SEND_TIMEOUT_S = 1.0
_DEFAULT_STATUS_INTERVAL_S = 5.0


def watchdog_interval_s(
    environ: Mapping[str, str] | None = None, *, pid: int | None = None
) -> float | None:
    """The ``WatchdogSec=`` systemd set for this process, in seconds, or None if there is none.

    Reads ``WATCHDOG_USEC``; ``WATCHDOG_PID``, when set, must be our pid (``pid``, default
    ``os.getpid()``): otherwise the variables were inherited and meant for another process.
    """
    env = os.environ if environ is None else environ
    raw_usec = env.get("WATCHDOG_USEC", "").strip()
    if not raw_usec:
        return None
    try:
        usec = int(raw_usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not an integer; watchdog pings are off", raw_usec)
        return None
    if usec <= 0:
        log.warning("WATCHDOG_USEC=%r is not positive; watchdog pings are off", raw_usec)
        return None
    raw_pid = env.get("WATCHDOG_PID", "").strip()
    if raw_pid:
        try:
            watchdog_pid = int(raw_pid)
        except ValueError:
            log.warning("WATCHDOG_PID=%r is not an integer; watchdog pings are off", raw_pid)
            return None
        our_pid = os.getpid() if pid is None else pid
        if watchdog_pid != our_pid:
            log.debug(
                "WATCHDOG_PID=%d is not our pid %d; watchdog pings are off", watchdog_pid, our_pid
            )
            return None
    return usec / 1_000_000


def _socket_address(notify_socket: str) -> str | None:
    """The address to ``sendto`` for a NOTIFY_SOCKET value, or None if we cannot use it."""
    if notify_socket.startswith("@") and len(notify_socket) > 1:
        return "\0" + notify_socket[1:]  # Linux abstract namespace
    if notify_socket.startswith("/"):
        return notify_socket
    # systemd >= 253 may also pass "vsock:CID:PORT"; a service on the host never gets one.
    log.warning(
        "NOTIFY_SOCKET=%r is neither an absolute path nor an @abstract name; "
        "systemd notifications are off",
        notify_socket,
    )
    return None


def _one_line(text: str) -> str:
    # A newline would end the STATUS= assignment and start another one (e.g. "READY=1").
    return " ".join(text.splitlines())


class Notifier:
    """Sends sd_notify messages to ``NOTIFY_SOCKET``; does nothing when there is none.

    Sending never raises: a failure is logged once at warning (then at debug), counted in
    ``send_failures``, and the call returns False. Safe to use from several threads.
    """

    def __init__(
        self,
        notify_socket: str | None,
        *,
        watchdog_interval_s: float | None = None,
        send_timeout_s: float = _DEFAULT_SEND_TIMEOUT_S,
    ) -> None:
        self._address = _socket_address(notify_socket) if notify_socket else None
        self.notify_socket = notify_socket if self._address is not None else None
        #: ``WatchdogSec=`` in seconds, or None when systemd expects no pings.
        self.watchdog_interval_s = watchdog_interval_s if self._address is not None else None
        self._send_timeout_s = send_timeout_s
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        self.send_failures = 0

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        send_timeout_s: float = _DEFAULT_SEND_TIMEOUT_S,
    ) -> Notifier:
        """A Notifier for ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET") or None,
            watchdog_interval_s=watchdog_interval_s(env),
            send_timeout_s=send_timeout_s,
        )

    @property
    def enabled(self) -> bool:
        """True when there is a socket to send to (we run under systemd with Type=notify)."""
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments in one datagram; True if it was sent."""
        if self._address is None or not assignments:
            return False
        message = "\n".join(assignments).encode("utf-8", errors="replace")
        with self._lock:
            try:
                if self._sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    # A full receive queue blocks sendto: wait at most this long.
                    sock.settimeout(self._send_timeout_s)
                    self._sock = sock
                self._sock.sendto(message, self._address)
            except OSError as exc:
                self.send_failures += 1
                level = logging.DEBUG if self._warned else logging.WARNING
                self._warned = True
                log.log(
                    level,
                    "could not notify systemd at %s: %s (further failures are logged at debug)",
                    self.notify_socket,
                    exc,
                )
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete: the model is loaded and the pipeline runs."""
        if status is None:
            return self.send("READY=1")
        return self.send("READY=1", f"STATUS={_one_line(status)}")

    def status(self, text: str) -> bool:
        """A one-line status for ``systemctl status`` (e.g. "2 cameras, 14.8 fps")."""
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """Reset systemd's watchdog timer. Prefer ``Watchdog``, which checks progress first."""
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        """The service is shutting down."""
        return self.send("STOPPING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Watchdog:
    """A thread that pings systemd's watchdog only while the pipeline makes progress.

    Every ``interval_s`` (default: half of ``WatchdogSec=``) it reads ``progress()``, a counter
    that only goes up (e.g. frames processed), and sends ``WATCHDOG=1`` only if the counter
    advanced since the last ping and ``alive()`` (when given) returns True. A callable that
    raises counts as "no progress". Every ``status_interval_s`` it also sends ``STATUS=`` with
    ``status()``. The callables run on this thread: keep them cheap and thread-safe.

    Without NOTIFY_SOCKET, ``start()`` starts nothing. Without ``WATCHDOG_USEC`` (and no
    ``interval_s``) only STATUS= lines are sent. The thread stops when ``stop_event`` is set.
    """

    def __init__(
        self,
        notifier: Notifier,
        *,
        progress: Callable[[], int],
        stop_event: threading.Event,
        alive: Callable[[], bool] | None = None,
        status: Callable[[], str] | None = None,
        interval_s: float | None = None,
        status_interval_s: float | None = _DEFAULT_STATUS_INTERVAL_S,
        name: str = "sd-watchdog",
    ) -> None:
        if interval_s is None and notifier.watchdog_interval_s is not None:
            interval_s = notifier.watchdog_interval_s / 2
        for what, value in (("interval_s", interval_s), ("status_interval_s", status_interval_s)):
            if value is not None and value <= 0:
                raise ValueError(
                    f"Watchdog {what}: expected a positive number of seconds, got {value}"
                )
        self._notifier = notifier
        self._progress = progress
        self._alive = alive
        self._status = status
        self._stop = stop_event
        self.interval_s = interval_s
        self.status_interval_s = status_interval_s if status is not None else None
        self._name = name
        self._thread: threading.Thread | None = None
        self._last_progress: int | None = None
        self._last_ping_s = time.monotonic()
        self._stalled = False
        self._callable_failed = False
        self.pings = 0

    def start(self) -> None:
        """Start the thread (nothing to do when not under systemd or with nothing to send)."""
        if self._thread is not None:
            raise RuntimeError(f"Watchdog {self._name} was already started")
        if not self._notifier.enabled or (
            self.interval_s is None and self.status_interval_s is None
        ):
            log.debug("not under systemd's notify protocol: the watchdog thread is not started")
            return
        self._last_progress = self._read_progress()
        self._last_ping_s = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread after ``stop_event`` was set; False (and a warning) if it hung."""
        return self._thread is None or join_all([self._thread], timeout_s)

    def check(self) -> bool:
        """One watchdog check: ping if progress advanced and the pipeline is alive.

        Returns True if WATCHDOG=1 was sent (False also when sending failed). The thread
        calls this every ``interval_s``.
        """
        current = self._read_progress()
        last = self._last_progress
        if current is not None and (last is None or current < last):
            # First reading, or the counter was reset: take it as the new baseline.
            self._last_progress = current
            return False
        advanced = current is not None and last is not None and current > last
        if not (advanced and self._is_alive()):
            if not self._stalled:
                self._stalled = True
                log.warning(
                    "pipeline without progress or unhealthy %.1f s after the last ping: not "
                    "pinging systemd's watchdog; the service is restarted unless frames flow again",
                    time.monotonic() - self._last_ping_s,
                )
            return False
        if self._stalled:
            self._stalled = False
            log.info("pipeline progress resumed: pinging systemd's watchdog again")
        self._last_progress = current
        self._last_ping_s = time.monotonic()
        sent = self._notifier.watchdog()
        if sent:
            self.pings += 1
        return sent

    def send_status(self) -> bool:
        """Send STATUS= with ``status()``; False if there is none or it failed."""
        if self._status is None:
            return False
        try:
            text = self._status()
        except Exception:
            self._log_callable_failure("status")
            return False
        return self._notifier.status(text)

    def _run(self) -> None:
        periods = [p for p in (self.interval_s, self.status_interval_s) if p is not None]
        period_s = min(periods)
        next_status_s = time.monotonic()
        while not self._stop.wait(timeout=period_s):
            if self.interval_s is not None:
                self.check()
            if self.status_interval_s is not None and time.monotonic() >= next_status_s:
                self.send_status()
                next_status_s = time.monotonic() + self.status_interval_s

    def _read_progress(self) -> int | None:
        try:
            return int(self._progress())
        except Exception:
            self._log_callable_failure("progress")
            return None

    def _is_alive(self) -> bool:
        if self._alive is None:
            return True
        try:
            return bool(self._alive())
        except Exception:
            self._log_callable_failure("alive")
            return False

    def _log_callable_failure(self, what: str) -> None:
        # The traceback once; after that the callable is failing over and over, say it quietly.
        if not self._callable_failed:
            self._callable_failed = True
            log.warning("the watchdog's %s() callable raised", what, exc_info=True)
        else:
            log.debug("the watchdog's %s() callable raised", what, exc_info=True)
