"""What is published where (pure: topic names and payloads, Home Assistant discovery).

    <prefix>/status                    online / offline (retained; offline is the last will)
    <prefix>/<camera>/available        online while the camera streams, offline once it has
                                       not for DOWN_AFTER_S (retained)
    <prefix>/<camera>/events           each object event as JSON (QoS 1, not retained)
    <prefix>/<camera>/<label>          how many are in view now (retained)
    <prefix>/<camera>/<label>/snapshot the latest best snapshot, JPEG bytes (retained)

Home Assistant discovery (``homeassistant/<component>/<node id>/<object id>/config``, retained,
the node id made of the topic prefix, so one box's configs are found by one filter): per
camera and label a ``binary_sensor`` "<label> detected" (occupancy), a ``sensor`` "<label>
count" and an ``image`` "<label> snapshot", all on one device per camera, available while
``<prefix>/status`` and the camera's ``available`` both say online (a camera that is down is
not "no person": its entities show unavailable). Object ids follow the documented best practice: the
unique id, of ``[a-zA-Z0-9_-]`` only. Unique ids and device identifiers are made of the topic
prefix (what sets one box's topics apart from another's on a broker), the camera and the
label: not of the client id, whose default is the host name, which changes with every new
container.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from camera_app import __version__

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
RESERVED_LEVELS = frozenset({"events", "available"})  # a camera's topics that are not counts


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    def events(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/events"

    def available(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/available"

    def count(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{_topic_safe(label)}"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{_topic_safe(label)}/snapshot"

    def is_snapshot(self, topic: str) -> bool:
        """Whether ``topic`` is one of this prefix's snapshot topics (not a count of a label
        named "snapshot"): large messages that need not go first at a connect."""
        head = f"{self.prefix}/"
        levels = topic[len(head) :].split("/") if topic.startswith(head) else []
        return len(levels) == 3 and levels[2] == "snapshot"


def label_clash(labels: list[str]) -> str | None:
    """Why ``labels`` cannot each have their own topics and entities (None when they can):
    a label whose topic level is ``events`` or ``available`` would write counts onto that
    topic, and two labels that sanitize alike would share topics and unique ids."""
    seen: dict[str, str] = {}
    for label in labels:
        level = _topic_safe(label)
        if level in RESERVED_LEVELS:
            return f"the label {label!r} would publish its count on the {level} topic"
        key = object_id(level)
        if key in seen and seen[key] != label:
            return f"the labels {seen[key]!r} and {label!r} would share topics and unique ids"
        seen[key] = label
    return None


def _topic_safe(label: str) -> str:
    """A label as one topic level: no '/', '+', '#' (COCO has "traffic light": spaces stay)."""
    return re.sub(r"[/+#]", "_", label)


def object_id(*parts: str) -> str:
    """An id of ``[A-Za-z0-9_-]`` only: other ASCII characters become ``_``, the others
    ``_u<hex>_``, so labels of a model named in another script ("人", "车") stay apart."""
    return "_".join(_id_part(p) for p in parts)


def _id_part(part: str) -> str:
    return "".join(
        c if not _UNSAFE.match(c) else "_" if c.isascii() else f"_u{ord(c):x}_" for c in part
    )


def _legacy_id(*parts: str) -> str:
    """Ids as made up to 2026-12-04: every character outside ``[A-Za-z0-9_-]`` one ``_``."""
    return "_".join(_UNSAFE.sub("_", p) for p in parts)


_COMPONENTS = (("binary_sensor", "detected"), ("sensor", "count"), ("image", "snapshot"))


def config_topics(instance: str, camera: str, label: str, discovery_prefix: str) -> list[str]:
    """The discovery config topics of one camera and label without a node id level, as they
    were before 2026-12-04 (``instance`` the client id before 2026-12-03, then the prefix)."""
    return [
        f"{discovery_prefix}/{component}/{_legacy_id(instance, camera, label, suffix)}/config"
        for component, suffix in _COMPONENTS
    ]


def earlier_config_topics(
    topics: Topics, camera: str, label: str, discovery_prefix: str, client_id: str
) -> list[str]:
    """The config topics earlier versions used for one camera and label that this one does
    not: ids of the client id, then topics without the node id, then (for a label with
    characters outside ASCII) ids that folded those characters into ``_``. Removed before
    the current configs go out, so Home Assistant drops the old entity before it makes the
    new one and gives it the same entity id (not "..._2")."""
    current = {topic for topic, _ in discovery(topics, camera, label, discovery_prefix)}
    node = object_id(topics.prefix)
    old = [
        *config_topics(client_id, camera, label, discovery_prefix),
        *config_topics(topics.prefix, camera, label, discovery_prefix),
        *(f"{discovery_prefix}/{component}/{node}/"
          f"{_legacy_id(topics.prefix, camera, label, suffix)}/config"
          for component, suffix in _COMPONENTS),
    ]  # fmt: skip
    return [t for t in dict.fromkeys(old) if t not in current]


def discovery_filter(topics: Topics, discovery_prefix: str) -> str:
    """The subscription that finds every discovery config this prefix's box has left."""
    return f"{discovery_prefix}/+/{object_id(topics.prefix)}/+/config"


def discovery(
    topics: Topics, camera: str, label: str, discovery_prefix: str
) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) of the three entities of one camera and label."""
    instance = topics.prefix
    node = object_id(instance)
    device = {
        "identifiers": [object_id(instance, camera)],
        "name": f"{camera} camera",
        "manufacturer": "camera_app",
        "model": "camera_app object detector",
        "sw_version": __version__,
    }
    common = {
        "origin": {"name": "camera_app", "sw_version": __version__},
        "availability": [
            {"topic": topics.status, "payload_available": "online",
             "payload_not_available": "offline"},
            {"topic": topics.available(camera), "payload_available": "online",
             "payload_not_available": "offline"},
        ],
        "availability_mode": "all",
        "device": device,
    }  # fmt: skip
    out: list[tuple[str, dict[str, Any]]] = []
    uid = object_id(instance, camera, label, "detected")
    out.append((f"{discovery_prefix}/binary_sensor/{node}/{uid}/config", {
        **common, "name": f"{label} detected", "unique_id": uid,
        "state_topic": topics.count(camera, label), "device_class": "occupancy",
        "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
        "payload_on": "ON", "payload_off": "OFF",
    }))  # fmt: skip
    uid = object_id(instance, camera, label, "count")
    out.append((f"{discovery_prefix}/sensor/{node}/{uid}/config", {
        **common, "name": f"{label} count", "unique_id": uid,
        "state_topic": topics.count(camera, label), "state_class": "measurement",
        "icon": "mdi:counter",
    }))  # fmt: skip
    uid = object_id(instance, camera, label, "snapshot")
    out.append((f"{discovery_prefix}/image/{node}/{uid}/config", {
        **common, "name": f"{label} snapshot", "unique_id": uid,
        "image_topic": topics.snapshot(camera, label), "content_type": "image/jpeg",
    }))  # fmt: skip
    return out


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
