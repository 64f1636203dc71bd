"""Running under systemd: the sd_notify protocol, the watchdog, and credentials.

Everything here is a no-op (notify) or a clear ConfigError (credentials) outside systemd, so the
pipeline calls it unconditionally. The unit file is ``systemd/camera-app.service``; install steps
are in ``docs/SERVICE.md``.
"""

from __future__ import annotations

from camera_app.service.credentials import read_credential
from camera_app.service.notify import Notifier, Watchdog, watchdog_interval_s

__all__ = ["Notifier", "Watchdog", "read_credential", "watchdog_interval_s"]
