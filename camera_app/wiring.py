"""The services around the pipeline: outputs, metrics, HTTP servers, the service manager.

``services(ctx)`` is what ``camera-app run`` gives ``App``: it returns the sinks per camera and
the components to run before and after the pipeline, and touches nothing of the App. Every
constructor here that can fail on user input (an unwritable events file, a taken port) runs
while the App is built, before any thread starts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from camera_app.app import Context, Services
from camera_app.config import AppConfig, same_file
from camera_app.detect.layout import layout_kind
from camera_app.http_guard import ViewerCollector
from camera_app.metrics import ModelInfo, PipelineMetrics
from camera_app.motion_metrics import GateCollector
from camera_app.objects.config import EventsMode
from camera_app.objects.sink import ObjectsSink
from camera_app.objects.wiring import attach_objects
from camera_app.outputs.events import EventsSink
from camera_app.outputs.live import LiveView
from camera_app.outputs.recorder import RecordSink
from camera_app.outputs.window import WindowSink
from camera_app.pipeline.gating import longest_result_gap_s
from camera_app.pipeline.types import ResultSink
from camera_app.preflight import check_modes
from camera_app.server import HttpServer, metrics_server, page_server
from camera_app.service.notify import Notifier, Watchdog
from camera_app.telemetry import Telemetry

log = logging.getLogger(__name__)


class SystemdNotifier:
    """A ``Component``: READY=1 once frames can flow, WATCHDOG=1 while inference turns and
    every pipeline thread lives, STATUS= from the telemetry, STOPPING=1 on stop."""

    name = "systemd-notify"

    def __init__(self, ctx: Context, notifier: Notifier) -> None:
        t = ctx.telemetry
        self._telemetry = t
        self._notifier = notifier
        self._watchdog = Watchdog(
            notifier,
            progress=t.progress,
            alive=lambda: t.health().ok,
            status=t.status_line,
            stop_event=ctx.stop_event,
        )

    def start(self) -> None:
        self._notifier.ready(status=self._telemetry.status_line())
        self._watchdog.start()

    def stop(self, timeout_s: float) -> bool:
        self._notifier.stopping()
        ok = self._watchdog.join(timeout_s)
        self._notifier.close()
        return ok

    def alive(self) -> bool:
        return self._watchdog.alive()


def _model_info(ctx: Context) -> ModelInfo:
    m = ctx.detector.model
    inp = m.input
    quant = (
        f"{inp.dtype} scale={inp.scale:.6g} zero_point={inp.zero_point}"
        if inp.quantized
        else inp.dtype
    )
    layout = layout_kind(m.layout.family)
    return ModelInfo(
        name=m.name,
        input_dtype=inp.dtype,
        quantization=quant,
        runtime=m.runtime.name,
        runtime_version=m.runtime.version,
        threads=m.threads,
        interpreters=ctx.interpreters,
        layout=layout,
    )


def metrics_for(ctx: Context) -> PipelineMetrics:
    """The Prometheus metrics, fed by the telemetry's hooks and read from it at scrape time."""
    t: Telemetry = ctx.telemetry
    labels = ctx.detector.labels
    metrics = PipelineMetrics(
        cameras=[c.name for c in ctx.cfg.cameras],
        labels=list(labels.names.values()) or None,
        snapshots=t.snapshots,
        outputs=t.output_states,
        fps=t.fps,
    )
    metrics.set_model_info(_model_info(ctx))
    metrics.registry.register(GateCollector(ctx.board.gate_snapshots))
    t.hooks.on_result.append(metrics.observe_result)
    t.hooks.on_render.append(metrics.observe_render)
    t.hooks.on_drop.append(metrics.count_dropped)
    return metrics


def live_view_for(cfg: AppConfig) -> LiveView | None:
    """The live view of the cameras that stream, when the http server is on (opens nothing)."""
    streamed = [c.name for c in cfg.cameras if c.outputs.stream]
    return LiveView(streamed) if cfg.http.enabled and streamed else None


def outputs_for(ctx: Context, live: LiveView | None) -> dict[str, list[ResultSink]]:
    """Each camera's sinks (one sink per events file, however many cameras share it)."""
    cfg = ctx.cfg
    shared: dict[object, EventsSink] = {}
    window: WindowSink | None = None
    sinks: dict[str, list[ResultSink]] = {}
    for cam in cfg.cameras:
        mine = sinks.setdefault(cam.name, [])
        out = cam.outputs
        if out.events and out.events_mode is EventsMode.FRAMES:
            key = same_file(out.events)
            if key not in shared:
                shared[key] = EventsSink(out.events, max_mb=out.events_max_mb)
            mine.append(shared[key])
        if out.record:
            rec = RecordSink(
                out.record,
                fps_hint=cam.fps or 15.0,
                segment_s=out.record_segment_s,
                max_mb=out.record_max_mb,
                max_hold_s=1.0 + longest_result_gap_s(cfg, cam),
            )
            mine.append(rec)
        if live is not None and out.stream:
            mine.append(live)
            ctx.board.slots[cam.name].observers.append(live.show)  # every frame, run or not
        if out.window:
            window = window or WindowSink()
            mine.append(window)
    return sinks


def services(ctx: Context) -> Services:
    """Everything ``camera-app run`` runs around the pipeline."""
    cfg, t = ctx.cfg, ctx.telemetry
    check_modes(cfg)
    metrics = metrics_for(ctx)
    live = live_view_for(cfg)
    # The servers bind first: a port another process holds stops the start before any file
    # is opened or folder made (and the ports bound so far are closed again).
    servers: list[HttpServer] = []
    objects: list[ObjectsSink] = []  # set below; the page asks it for snapshot files

    def snapshot_file(camera: str, name: str) -> Path | None:
        return objects[0].snapshot_file(camera, name) if objects else None

    try:
        if cfg.metrics.enabled:
            m = cfg.metrics
            servers.append(
                metrics_server(m.address, m.port, metrics.registry, t.health, t.readiness)
            )
        if live is not None:
            web = page_server(
                cfg.http.address, cfg.http.port, live, t.status, max_viewers=cfg.http.max_viewers,
                snapshot_files=snapshot_file,
            )  # fmt: skip
            metrics.registry.register(ViewerCollector(web.viewers))
            servers.append(web)
        found = Services(sinks=outputs_for(ctx, live),
                         after=[SystemdNotifier(ctx, Notifier.from_env())])  # fmt: skip
        sink = attach_objects(ctx, found, metrics.registry, live)  # MQTT: one of ``before``
    except BaseException:
        for server in servers:
            server.stop(1.0)
        raise
    if sink is not None:
        objects.append(sink)
    found.before[:0] = servers  # then MQTT: started after the servers, stopped before them
    return found
