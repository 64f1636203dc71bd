"""Checks on output file paths, done when a sink is built (before any thread starts)."""

from __future__ import annotations

import os
from pathlib import Path

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
    if not os.access(parent, os.W_OK | os.X_OK) and not target.exists():
        raise ConfigError(f"{what}: cannot create files in {parent} (permission denied)")
    return target
