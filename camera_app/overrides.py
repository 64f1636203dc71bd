"""Command-line flags over a config (``camera-app run``), checked by the config's own rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from camera_app._checks import string
from camera_app._yaml import CheckError, describe
from camera_app.config import AppConfig, CameraConfig, events_limits_differ
from camera_app.config_values import _PATH, _THREADS, check_source
from camera_app.errors import ConfigError
from camera_app.redact import redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")


def _flag(flag: str, value: object, check: Callable[[object], T]) -> T:
    try:
        return check(value)
    except CheckError as exc:
        raise ConfigError(f"{flag}: expected {exc.expected}, got {describe(value)}") from exc


def _warn_if_password_on_the_command_line(camera: str, source: str) -> None:
    """Credentials or a token in ``--source`` are readable by every local user (``ps``,
    /proc/PID/cmdline): whatever the redactor would mask (``redact_url``) is warned about."""
    if redact_url(source) != source:
        log.warning(
            "--source for %s has credentials or a token in it, which every user of this "
            "machine can read in the process list (ps); put the camera in a config file and "
            "write them as ${credential:NAME} (systemd LoadCredential=) or ${ENV_VAR} instead",
            camera,
        )


def apply_overrides(
    cfg: AppConfig,
    *,
    sources: list[str] | None = None,
    model: str | None = None,
    threads: int | None = None,
    events: str | None = None,
) -> AppConfig:
    """Apply command-line flags. ``sources`` (``--source``, repeatable) replaces the cameras
    with cam0, cam1, ... on default settings; ``events`` is set on every camera."""
    if sources:
        for i, s in enumerate(sources):
            _warn_if_password_on_the_command_line(f"cam{i}", s)
        cameras = tuple(
            CameraConfig(name=f"cam{i}", source=_flag("--source", s, check_source))
            for i, s in enumerate(sources)
        )
        cfg = replace(cfg, cameras=cameras)
    if model is not None:
        cfg = replace(cfg, model=replace(cfg.model, path=_flag("--model", model, _PATH)))
    if threads is not None:
        cfg = replace(cfg, model=replace(cfg.model, threads=_flag("--threads", threads, _THREADS)))
    if events is not None:
        out = _flag("--events", events, string("'-' for stdout or a file path"))
        cameras = tuple(replace(c, outputs=replace(c.outputs, events=out)) for c in cfg.cameras)
        for i, cam in enumerate(cameras):
            other = events_limits_differ(cameras[:i], cam)
            if other is not None:
                raise ConfigError(
                    f"--events: cameras '{other}' and '{cam.name}' would write events to {out} "
                    "with different events_max_mb; give them the same value in the config"
                )
        cfg = replace(cfg, cameras=cameras)
    return cfg
