"""Object events onto MQTT topics (the objects sink's ``Publisher``), and the MQTT metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_app.mqtt.client import MqttClient, MqttErrorKind
from camera_app.mqtt.config import MqttConfig
from camera_app.mqtt.topics import discovery, dumps, earlier_config_topics
from camera_app.objects.lifecycle import EventType, ObjectEvent

log = logging.getLogger(__name__)


DOWN_AFTER_S = 5.0  # not streaming this long: the camera's `available` says offline


class MqttPublisher:
    """Events (QoS 1), counts and snapshots (retained) of ``cameras``; with Home Assistant
    discovery on, the entities' configs are queued at once (retained, re-sent at reconnects)
    and each discovered label starts at 0 so its entities are never "unknown".

    Each camera's ``available`` topic starts offline and follows ``streaming`` (the cameras
    streaming now, asked on each ``tick``): online as soon as it streams, offline once it has
    not for ``DOWN_AFTER_S``, so a reconnect of a second or two does not flap the entities.
    Without ``streaming`` every camera is said to be available. The ends of a camera's
    objects because it went down (and is not streaming) or because camera_app stops say
    offline at once, before the counts they set to 0: Home Assistant then shows "person
    detected" go from on to unavailable, never to off, which an automation would take for
    the person leaving.

    The configs of earlier layouts are removed first (an empty retained message each), so an
    upgrade leaves no duplicate entities behind: before 2026-12-03 the unique ids were made of
    the client id (by default the host name), before 2026-12-04 the topics had no node id, and
    up to 2026-12-04 non-ASCII characters of a label were folded into ``_``.
    Those of cameras and labels no longer configured, and the retained topics of cameras no
    longer configured, are found and removed by the client (``MqttClient``, at each
    connection)."""

    def __init__(
        self,
        client: MqttClient,
        cfg: MqttConfig,
        cameras: Iterable[str],
        streaming: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self.client = client
        self.topics = client.topics
        self._refused: set[str] = set()
        self._cameras = tuple(cameras)
        client.claim(self._cameras)
        self._streaming = streaming
        self._available = dict.fromkeys(self._cameras, streaming is None)
        self._down_since: dict[str, float] = {}
        for camera in self._cameras:
            self._say_available(camera)
        ha = cfg.home_assistant
        if ha.enabled:
            for camera in self._cameras:
                for label in ha.labels:
                    where = (self.topics, camera, label, ha.discovery_prefix)
                    for old in earlier_config_topics(*where, cfg.client_id):
                        client.publish(old, b"", retain=True)
                    for topic, payload in discovery(*where):
                        client.publish(topic, dumps(payload), retain=True)
                    client.publish(self.topics.count(camera, label), b"0", retain=True)

    def tick(self, now_s: float) -> None:
        """Each camera's ``available`` after ``streaming`` (the objects sink's tick, about
        twice a second on the outputs thread; ``now_s`` monotonic)."""
        if self._streaming is None:
            return
        up = self._streaming()
        for camera in self._cameras:
            if camera in up:
                self._down_since.pop(camera, None)
                want = True
            else:
                since = self._down_since.setdefault(camera, now_s)
                want = self._available[camera] and now_s - since < DOWN_AFTER_S
            if want != self._available[camera]:
                self._available[camera] = want
                self._say_available(camera)

    def _say_available(self, camera: str) -> None:
        payload = b"online" if self._available[camera] else b"offline"
        self.client.publish(self.topics.available(camera), payload, retain=True)

    def event(self, event: ObjectEvent, now_s: float) -> None:
        camera = event.camera
        if event.type is EventType.END and self._available.get(camera) and (
            event.changes == ("stopped",)
            or (event.changes == ("camera_down",) and self._streaming is not None
                and camera not in self._streaming())
        ):  # fmt: skip
            self._available[camera] = False
            self._down_since.setdefault(camera, now_s)
            self._say_available(camera)
        self.client.publish(self.topics.events(event.camera), dumps(event.to_json()), qos=1)

    def counts(self, camera: str, counts: Mapping[str, int]) -> None:
        for label, n in counts.items():
            topic = self.topics.count(camera, label)
            if topic in (self.topics.events(camera), self.topics.available(camera)):
                if label not in self._refused:  # a model's label "events": not its count
                    self._refused.add(label)
                    log.warning("mqtt: no count topic for the label %r: it would be the "
                                "%s topic", label, topic.rpartition("/")[2])  # fmt: skip
                continue
            self.client.publish(topic, str(n).encode(), retain=True)

    def snapshot(self, camera: str, label: str, jpeg: bytes) -> None:
        self.client.publish(self.topics.snapshot(camera, label), jpeg, retain=True)

    def close(self) -> None:
        """Every camera's ``available`` offline (the objects sink closes its publishers at
        the stop, after the last ends); the client is a service of the App: it drains and
        disconnects in its own stop(), after this."""
        for camera, available in self._available.items():
            if available:
                self._available[camera] = False
                self._say_available(camera)


class MqttCollector(Collector):
    """camera_app_mqtt_* read from the client at each scrape."""

    def __init__(self, client: MqttClient) -> None:
        self._client = client

    def collect(self) -> Iterator[Metric]:
        s = self._client.state()
        up = GaugeMetricFamily("camera_app_mqtt_connected", "1 while connected to the broker.")
        up.add_metric([], 1.0 if s.connected else 0.0)
        yield up
        pub = CounterMetricFamily(
            "camera_app_mqtt_messages_published", "Messages acknowledged (QoS 1) or sent (QoS 0)."
        )
        pub.add_metric([], s.published)
        yield pub
        drop = CounterMetricFamily("camera_app_mqtt_messages_dropped",
                                   "Events dropped because the queue was full while the broker "
                                   "was away.")  # fmt: skip
        drop.add_metric([], s.dropped)
        yield drop
        queued = GaugeMetricFamily("camera_app_mqtt_queue_messages", "Messages waiting to be sent.")
        queued.add_metric([], s.queued)
        yield queued
        errors = CounterMetricFamily("camera_app_mqtt_errors", "Connection failures by class.",
                                     labels=["kind"])  # fmt: skip
        for kind in MqttErrorKind:
            errors.add_metric([kind.value], s.errors.get(kind.value, 0))
        yield errors
