"""Attach outputs, HTTP servers, metrics and the service manager to an App.

Kept apart from ``app`` so the pipeline can be built and tested without any of them. Every
constructor here that can fail on user input (an unwritable events file, a taken port) runs
before ``App.start()``; servers bind at construction or first in ``start()``.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry

from camera_app.app import App
from camera_app.config import same_file
from camera_app.health import Health, MetricsServer, Readiness
from camera_app.http_guard import ViewerCollector
from camera_app.metrics import ModelInfo, PipelineMetrics
from camera_app.objects.config import EventsMode
from camera_app.objects.wiring import attach_objects, check_modes
from camera_app.outputs.events import EventsSink
from camera_app.outputs.live import LiveView
from camera_app.outputs.recorder import RecordSink
from camera_app.outputs.web import WebServer
from camera_app.outputs.window import WindowSink
from camera_app.pipeline.types import ResultSink
from camera_app.service.notify import Notifier, Watchdog

log = logging.getLogger(__name__)


class SystemdSupervisor:
    """READY=1 once frames can flow, WATCHDOG=1 while inference turns, STOPPING=1 on stop."""

    name = "systemd-notify"

    def __init__(self, app: App, notifier: Notifier) -> None:
        self._app = app
        self._notifier = notifier
        self._watchdog = Watchdog(
            notifier,
            progress=lambda: app.progress,
            alive=app.healthy,
            status=app.status_line,
            stop_event=app.stop_event,
        )

    def start(self) -> None:
        self._notifier.ready(status=self._app.status_line())
        self._watchdog.start()

    def stop(self, timeout_s: float) -> bool:
        self._notifier.stopping()
        ok = self._watchdog.join(timeout_s)
        self._notifier.close()
        return ok


def _model_info(app: App) -> ModelInfo:
    m = app.detectors[0].model
    inp = m.input
    quant = (
        f"{inp.dtype} scale={inp.scale:.6g} zero_point={inp.zero_point}"
        if inp.quantized
        else inp.dtype
    )
    layout = {"ssd-postprocess": "postprocess", "ssd-raw": "raw"}.get(
        m.layout.family, m.layout.family
    )
    return ModelInfo(
        name=m.name, input_dtype=inp.dtype, quantization=quant, runtime=m.runtime.name,
        runtime_version=m.runtime.version, threads=m.threads, interpreters=len(app.detectors),
        layout=layout,
    )  # fmt: skip


def attach_metrics(app: App) -> PipelineMetrics:
    cfg = app.cfg
    labels = app.detectors[0].labels
    metrics = PipelineMetrics(
        cameras=[c.name for c in cfg.cameras],
        labels=list(labels.names.values()) or None,
        snapshots=app.snapshots,
    )
    metrics.set_model_info(_model_info(app))
    metrics.set_output_source(app.output_states)
    app.hooks.on_result.append(metrics.observe_result)
    app.hooks.on_render.append(metrics.observe_render)
    app.hooks.on_drop.append(metrics.count_dropped)
    if cfg.metrics.enabled:

        def health() -> Health:
            alive = {f"inference-{w.index}": w.is_alive() for w in app.workers}
            alive["outputs"] = app.dispatcher.is_alive()
            for name in app.dead_threads():
                alive[name] = False
            return Health.from_alive(alive)

        def ready() -> Readiness:
            services = [f() for f in app.hooks.ready]
            return Readiness.from_snapshots(bool(app.detectors), app.snapshots(), services)

        app.servers.append(
            MetricsServer(cfg.metrics.address, cfg.metrics.port, metrics.registry, health, ready)
        )
    return metrics


def attach_outputs(app: App, registry: CollectorRegistry | None = None) -> LiveView | None:
    cfg = app.cfg
    shared: dict[str, Any] = {}  # one sink per events target (several cameras may share "-")
    streamed = [c.name for c in cfg.cameras if c.outputs.stream]
    live = LiveView(streamed) if cfg.http.enabled and streamed else None
    window: WindowSink | None = None
    for cam in cfg.cameras:
        sinks: list[ResultSink] = app.sinks[cam.name]
        if cam.outputs.events and cam.outputs.events_mode is EventsMode.FRAMES:
            target = cam.outputs.events
            key = same_file(target)
            if key not in shared:
                shared[key] = EventsSink(target, max_mb=cam.outputs.events_max_mb)
            sinks.append(shared[key])
        if cam.outputs.record:
            sinks.append(RecordSink(
                cam.outputs.record, fps_hint=cam.fps or 15.0,
                segment_s=cam.outputs.record_segment_s, max_mb=cam.outputs.record_max_mb,
            ))  # fmt: skip
        if live is not None and cam.outputs.stream:
            sinks.append(live)
        if cam.outputs.window:
            window = window or WindowSink()
            sinks.append(window)
    if live is not None:
        web = WebServer(
            cfg.http.address, cfg.http.port, live, app.status, max_viewers=cfg.http.max_viewers
        )
        if registry is not None:
            registry.register(ViewerCollector(web.viewers))
        app.servers.append(web)
    return live


def attach_services(app: App) -> None:
    check_modes(app.cfg)
    metrics = attach_metrics(app)
    live = attach_outputs(app, metrics.registry)
    attach_objects(app, metrics.registry, live)
    app.supervisors.append(SystemdSupervisor(app, Notifier.from_env()))
