from __future__ import annotations

from camera_app.cli import entry

entry()
