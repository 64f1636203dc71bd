"""Home Assistant discovery payloads against the documented schema of each entity type.

The tables below are the configuration variables documented at home-assistant.io for MQTT
binary_sensor, sensor and image (the subset a discovery payload may use), with the ones each
type requires; the topic follows <discovery_prefix>/<component>/<object_id>/config with the
object id of [a-zA-Z0-9_-] only, under a node id of the same characters:
<discovery_prefix>/<component>/<node_id>/<object_id>/config.
"""

from __future__ import annotations

import json
import re

import paho.mqtt.client as paho
import pytest

from camera_app.mqtt.topics import (
    Topics,
    discovery,
    discovery_filter,
    dumps,
    earlier_config_topics,
    label_clash,
    object_id,
)

COMMON = {
    "availability_topic": str, "payload_available": str, "payload_not_available": str,
    "availability": list, "availability_mode": str, "device": dict, "name": str,
    "unique_id": str, "icon": str, "qos": int,
    "value_template": str, "enabled_by_default": bool, "entity_category": str, "origin": dict,
}  # fmt: skip
SCHEMA: dict[str, tuple[dict[str, type], set[str]]] = {
    "binary_sensor": ({**COMMON, "state_topic": str, "device_class": str, "payload_on": str,
                       "payload_off": str, "off_delay": int, "expire_after": int}, {"state_topic"}),
    "sensor": ({**COMMON, "state_topic": str, "state_class": str, "unit_of_measurement": str,
                "device_class": str, "expire_after": int}, {"state_topic"}),
    "image": ({**COMMON, "image_topic": str, "url_topic": str, "content_type": str,
               "image_encoding": str}, set()),
}  # fmt: skip
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version", "hw_version",
               "configuration_url", "connections", "suggested_area", "via_device"}  # fmt: skip
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
BINARY_SENSOR_CLASSES = {"occupancy", "motion", "presence", "moving"}
SENSOR_STATE_CLASSES = {"measurement", "total", "total_increasing"}
TOPIC = re.compile(
    r"homeassistant/(binary_sensor|sensor|image)/([a-zA-Z0-9_-]+)/([a-zA-Z0-9_-]+)/config"
)


@pytest.mark.parametrize(("camera", "label"), [("door", "person"), ("yard-2", "traffic light")])
def test_payloads_match_the_documented_schema(camera: str, label: str) -> None:
    out = discovery(Topics("site/box.1"), camera, label, "homeassistant")
    assert len(out) == 3
    unique_ids = set()
    for topic, payload in out:
        m = TOPIC.fullmatch(topic)
        assert m, topic
        component, node_id, object_id = m[1], m[2], m[3]
        assert node_id == "site_box_1"  # the prefix's: one filter finds this box's configs
        assert paho.topic_matches_sub(
            discovery_filter(Topics("site/box.1"), "homeassistant"), topic
        )
        keys, required = SCHEMA[component]
        assert set(payload) <= set(keys), set(payload) - set(keys)
        assert required <= set(payload)
        for key, value in payload.items():
            assert isinstance(value, keys[key]), key
        assert payload["unique_id"] == object_id  # the documented best practice
        assert set(payload["device"]) <= DEVICE_KEYS
        assert payload["device"]["identifiers"] == [f"site_box_1_{camera}"]
        assert set(payload["origin"]) <= ORIGIN_KEYS
        assert "name" in payload["origin"]
        # Available while the box and the camera both say so ("must not be used together
        # with availability_topic").
        assert "availability_topic" not in payload
        assert payload["availability_mode"] == "all"
        assert [a["topic"] for a in payload["availability"]] == [
            "site/box.1/status",
            f"site/box.1/{camera}/available",
        ]
        for a in payload["availability"]:
            assert set(a) <= AVAILABILITY_KEYS
            assert (a["payload_available"], a["payload_not_available"]) == ("online", "offline")
        if component == "binary_sensor":
            assert payload["device_class"] in BINARY_SENSOR_CLASSES
        if component == "sensor":
            assert payload["state_class"] in SENSOR_STATE_CLASSES
        if component == "image":
            # exactly one of image_topic and url_topic (they exclude each other)
            assert ("image_topic" in payload) != ("url_topic" in payload)
            assert payload["content_type"] == "image/jpeg"
            assert payload["image_topic"] == f"site/box.1/{camera}/{label}/snapshot"
        unique_ids.add(payload["unique_id"])
        assert json.loads(dumps(payload)) == payload
    assert len(unique_ids) == 3


def test_binary_sensor_reads_the_count() -> None:
    (_, b), (_, s), _ = discovery(Topics("p"), "door", "person", "homeassistant")
    assert b["state_topic"] == s["state_topic"] == "p/door/person"
    # the template turns a count into ON/OFF, which payload_on/off name
    assert "ON" in b["value_template"]
    assert "OFF" in b["value_template"]
    assert (b["payload_on"], b["payload_off"]) == ("ON", "OFF")


def test_topics() -> None:
    t = Topics("site/a")
    assert t.status == "site/a/status"
    assert t.events("door") == "site/a/door/events"
    assert t.available("door") == "site/a/door/available"
    assert t.count("door", "a/b+c#") == "site/a/door/a_b_c_"
    assert t.is_snapshot(t.snapshot("door", "person"))
    assert not t.is_snapshot(t.count("door", "snapshot"))  # a label named "snapshot"
    assert not t.is_snapshot("other/door/person/snapshot")
    assert not t.is_snapshot(t.events("door"))


def test_labels_whose_topics_would_clash_are_found() -> None:
    assert label_clash(["person", "car", "traffic light"]) is None
    assert "events topic" in (label_clash(["cat", "events"]) or "")
    assert "available topic" in (label_clash(["available"]) or "")
    assert "'traffic light' and 'traffic_light'" in (
        label_clash(["traffic light", "traffic_light"]) or ""
    )
    assert "'a/b' and 'a+b'" in (label_clash(["a/b", "a+b"]) or "")


def test_labels_in_other_scripts_get_ids_of_their_own() -> None:
    # Folded into "_" each, a model's "人" and "车" made one unique id, and the config was
    # refused; ASCII labels keep the ids they had.
    assert object_id("camera_app", "door", "traffic light") == "camera_app_door_traffic_light"
    assert object_id("人") != object_id("车")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", object_id("door", "人", "café", "detected"))
    assert label_clash(["人", "车", "café", "cafe"]) is None
    for topic, payload in discovery(Topics("camera_app"), "door", "人", "homeassistant"):
        assert TOPIC.fullmatch(topic), topic
        assert payload["name"].startswith("人 ")


def test_earlier_config_topics_are_those_of_earlier_layouts_only() -> None:
    t = Topics("camera_app")
    current = {topic for topic, _ in discovery(t, "door", "café", "homeassistant")}
    old = earlier_config_topics(t, "door", "café", "homeassistant", "box1")
    assert not current & set(old)
    assert "homeassistant/sensor/camera_app/camera_app_door_caf__count/config" in old
    assert "homeassistant/sensor/box1_door_caf__count/config" in old
    assert len(old) == 9  # three layouts of three entities
    # An ASCII label's ids did not change: only the two layouts without a node id are old.
    assert len(earlier_config_topics(t, "door", "person", "homeassistant", "box1")) == 6
