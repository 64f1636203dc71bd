"""The objects output (and MQTT) among the App's services: called once from ``camera_app.wiring``.

A camera gets tracking and object events when it has an ``objects:`` section, writes its
events in ``events_mode: objects``, or MQTT is configured. The one ``ObjectsSink`` goes first
in each such camera's outputs; the MQTT client is one of the components started before the
pipeline, so it stops after the outputs have sent their last ``end`` events.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry

from camera_app.app import Context, Services
from camera_app.config import AppConfig, same_file
from camera_app.mqtt.client import MqttClient
from camera_app.mqtt.publisher import MqttCollector, MqttPublisher
from camera_app.objects.config import EventsMode
from camera_app.objects.draw import draw_zones
from camera_app.objects.sink import (
    CameraObjects,
    JsonLines,
    ObjectsCollector,
    ObjectsSink,
    Publisher,
)
from camera_app.objects.snapshots import SnapshotStore
from camera_app.outputs.events import EventsSink
from camera_app.outputs.live import LiveView
from camera_app.preflight import check_tracking_rate, objects_for
from camera_app.sources.capture import CaptureState
from camera_app.telemetry import ServiceReadiness


def mqtt_readiness(client: MqttClient) -> ServiceReadiness:
    s = client.state()
    reason = None
    if not s.connected:
        reason = (
            "connecting"
            if s.last_error_kind is None
            else f"{s.last_error_kind.value}: {s.last_error}"
        )
    return ServiceReadiness("mqtt", s.connected, reason)


def streaming(ctx: Context) -> set[str]:
    """The cameras streaming now (MQTT's per-camera availability)."""
    return {s.camera for s in ctx.telemetry.snapshots() if s.state is CaptureState.STREAMING}


def attach_objects(
    ctx: Context,
    services: Services,
    registry: CollectorRegistry | None = None,
    live: LiveView | None = None,
) -> ObjectsSink | None:
    """Add the objects sink (and the MQTT client) to ``services``; the sink, or None."""
    cfg: AppConfig = ctx.cfg
    chosen = [(c, o) for c in cfg.cameras if (o := objects_for(cfg, c)) is not None]
    if not chosen:
        return None
    for cam, ocfg in chosen:  # before any file opens
        check_tracking_rate(cfg, cam, ocfg)
    publishers: dict[str, list[Publisher]] = {c.name: [] for c, _ in chosen}
    owned: list[Publisher] = []
    writers: dict[str, JsonLines] = {}
    for cam, _ in chosen:
        out = cam.outputs
        if out.events is not None and out.events_mode is EventsMode.OBJECTS:
            key = same_file(out.events)
            if key not in writers:
                writers[key] = JsonLines(EventsSink(out.events, max_mb=out.events_max_mb))
                owned.append(writers[key])
            publishers[cam.name].append(writers[key])
    if cfg.mqtt is not None:
        client = MqttClient(cfg.mqtt)
        mqtt = MqttPublisher(client, cfg.mqtt, [c.name for c, _ in chosen],
                             streaming=functools.partial(streaming, ctx))  # fmt: skip
        for cam, _ in chosen:
            publishers[cam.name].append(mqtt)
        owned.append(mqtt)  # closed after the last ends: each camera's availability offline
        services.before.append(client)
        ctx.telemetry.hooks.ready.append(lambda: mqtt_readiness(client))
        if registry is not None:
            registry.register(MqttCollector(client))
    stores: dict[str, SnapshotStore] = {}
    cams = []
    for cam, ocfg in chosen:
        store = None
        if ocfg.snapshots is not None:
            key = same_file(ocfg.snapshots)
            where = f"cameras.{cam.name}.objects"
            store = stores.get(key) or SnapshotStore(
                ocfg.snapshots, ocfg.snapshots_max_mb, what=where
            )
            stores[key] = store
        cams.append(CameraObjects(cam.name, ocfg, ctx.thresholds[cam.name].score, store))
        if live is not None and live.has_camera(cam.name) and (ocfg.zones or ocfg.masks):
            zones, masks = [z.zone() for z in ocfg.zones], [m.polygon() for m in ocfg.masks]
            live.overlays[cam.name] = functools.partial(draw_zones, zones=zones, masks=masks)
    sink = ObjectsSink(cams, publishers, owned=owned)
    if registry is not None:
        registry.register(ObjectsCollector(sink))
    for cam, _ in chosen:
        services.sinks.setdefault(cam.name, []).insert(0, sink)
        ctx.board.set_keep_active(cam.name, sink)  # live tracks keep the camera running
    ctx.telemetry.hooks.camera_status.append(lambda name: {"objects": sink.view(name)})
    return sink
