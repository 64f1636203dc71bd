"""``camera-app run`` and ``camera-app check-config``.

Everything that can be wrong with the config, the model or the outputs is found while the App
is built, before any thread starts: a bad config exits 2 and starts nothing. SIGINT and SIGTERM
only set the stop event; the main thread then stops the pipeline in order.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import types
from typing import Any

from camera_app.config import AppConfig, default_config, load_config
from camera_app.config_where import located
from camera_app.errors import ConfigError
from camera_app.logs import setup_logging
from camera_app.overrides import apply_overrides
from camera_app.redact import redact_text

log = logging.getLogger("camera_app.run")


def add_commands(sub: Any) -> None:
    r = sub.add_parser("run", help="run the real-time pipeline (the demo camera without --config)")
    r.add_argument("--config", "-c", help="YAML config file")
    r.add_argument(
        "--source",
        action="append",
        help="camera source: demo, a webcam index (0), /dev/videoN, rtsp:// or http:// URL, a "
        "video file or an image folder (repeatable; replaces the config's cameras). A password "
        "here is visible to every local user in ps: use a config file with ${credential:NAME}",
    )
    r.add_argument("--model", "-m", help="model path, folder or name")
    r.add_argument("--threads", type=int, help="threads per interpreter")
    r.add_argument("--duration", type=float, help="stop after this many seconds")
    r.add_argument("--max-frames", type=int, help="stop after this many processed frames")
    r.add_argument("--events", help="JSON-lines events: '-' for stdout, or a file path")
    r.add_argument(
        "--metrics-address",
        help="HOST:PORT for /metrics, /healthz, /readyz (default 127.0.0.1:9108)",
    )
    r.add_argument(
        "--http-address",
        help="HOST:PORT for the status page and live view (default 127.0.0.1:8080)",
    )
    r.set_defaults(func=cmd_run)
    c = sub.add_parser(
        "check-config", help="validate a config file, its outputs and its model, and exit"
    )
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("config", nargs="?", help="YAML config file")
    where.add_argument(
        "--config", "-c", dest="config_flag", metavar="CONFIG", help="the same, as run takes it"
    )
    c.set_defaults(func=cmd_check_config)


_PORTS = {"--metrics-address": 9108, "--http-address": 8080}


def _host_port(flag: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"{flag}: expected HOST:PORT such as 127.0.0.1:{_PORTS[flag]}, got {value!r}"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def build_config(args: argparse.Namespace) -> AppConfig:
    cfg = load_config(args.config) if args.config else default_config()
    cfg = apply_overrides(cfg, sources=args.source, model=args.model, threads=args.threads,
                          events=args.events)  # fmt: skip
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration: expected a positive number of seconds, got {args.duration}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames: expected a positive integer, got {args.max_frames}")
    import dataclasses

    if args.metrics_address:
        host, port = _host_port("--metrics-address", args.metrics_address)
        cfg = dataclasses.replace(
            cfg, metrics=dataclasses.replace(cfg.metrics, address=host, port=port, enabled=True)
        )
    if args.http_address:
        host, port = _host_port("--http-address", args.http_address)
        cfg = dataclasses.replace(
            cfg, http=dataclasses.replace(cfg.http, address=host, port=port, enabled=True)
        )
    return cfg


def _log_thread_crash(hook_args: threading.ExceptHookArgs) -> None:
    log.critical(
        "thread %s crashed: %s", hook_args.thread.name if hook_args.thread else "?",
        redact_text(repr(hook_args.exc_value)),
        exc_info=(hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback),  # type: ignore[arg-type]
    )  # fmt: skip


def cmd_check_config(args: argparse.Namespace) -> int:
    """What ``run`` checks before anything starts, without starting anything: the config, the
    sources' paths, the outputs' folders, the model (loaded once), each camera's classes and
    the Home Assistant labels. Ok here means run starts (but for a port another process holds,
    or a camera offline)."""
    from camera_app import preflight
    from camera_app.detect.detector import load_detectors
    from camera_app.options import detector_options

    args.config = args.config or args.config_flag
    cfg = load_config(args.config)
    with located(args.config):
        preflight.check(cfg)
        first = load_detectors(cfg.model.path, detector_options(cfg), 1)[0]
        preflight.thresholds(first, cfg)
        preflight.home_assistant_labels(first, cfg)
    model = first.model
    cameras = f"{len(cfg.cameras)} camera{'s' if len(cfg.cameras) != 1 else ''}"
    print(f"{args.config}: ok ({cameras}, model {model.name}: "
          f"{model.layout.family}, {model.input.dtype} input)")  # fmt: skip
    for cam in cfg.cameras:
        print(f"  {cam.name}: {cam.display_source}")
    return 0


def _on_sighup(_signum: int, _frame: types.FrameType | None) -> None:
    log.warning(
        "SIGHUP received and ignored: the config is read at start only; restart to apply "
        "changes (systemctl restart camera-app)"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from camera_app.app import App
    from camera_app.wiring import services

    # SIGHUP would end the process at once, and systemd counts that as a clean exit, so
    # Restart=on-failure would not bring it back. The config is read at start only: say so.
    signal.signal(signal.SIGHUP, _on_sighup)
    cfg = build_config(args)
    level = args.log_level or cfg.logging.level.value
    setup_logging(level, args.log_format or cfg.logging.format.value)
    threading.excepthook = _log_thread_crash
    # Model, labels, classes, sources, outputs, ports: every user error is raised here.
    with located(args.config):
        app = App(cfg, services=services)

    def on_signal(signum: int, _frame: types.FrameType | None) -> None:
        log.info("signal received signal=%s; stopping", signal.Signals(signum).name)
        app.stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        app.start()
        app.run(duration_s=args.duration, max_frames=args.max_frames)
    finally:
        hung = app.stop()
    errors = app.worker_errors()
    if errors:
        log.critical("pipeline stopped by an internal error: %s", redact_text(repr(errors[0])))
        return 1
    if hung:
        return 1
    sys.stdout.flush()
    return 0
