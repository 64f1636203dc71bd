"""Checks on output file paths, done when a sink is built (before any thread starts)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from camera_app._files import kind_of
from camera_app.errors import ConfigError


def check_output_path(path: str, what: str) -> Path:
    """The path of a file to write; its folder must exist. ``what`` names the config key."""
    if not path:
        raise ConfigError(f"{what}: expected a file path, got an empty string")
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        raise ConfigError(
            f"{what}: cannot write {path}: the folder {parent} does not exist; "
            "create it or choose another path"
        )
    if target.is_dir():
        raise ConfigError(f"{what}: {path} is a folder; expected a file path")
    mode = target.stat().st_mode if target.exists() else None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
        # A named pipe blocks the writer until a reader comes, and while the reader stalls;
        # a block device is a disk. (/dev/null and /dev/full are character devices: kept.)
        kind = kind_of(mode)
        raise ConfigError(f"{what}: {path} is {kind}, not a regular file; expected a file path")
    if not os.access(parent, os.W_OK | os.X_OK) and not target.exists():
        raise ConfigError(f"{what}: cannot create files in {parent} (permission denied)")
    return target
