"""The objects: and mqtt: sections: the example config, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_app.config import load_config, parse_config
from camera_app.errors import ConfigError
from camera_app.objects.config import EventsMode

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "objects.yaml"


def test_the_example_config_reads() -> None:
    cfg = load_config(EXAMPLE, env={"MQTT_PASSWORD": "pw-from-env"})
    cam = cfg.cameras[0]
    assert cam.outputs.events_mode is EventsMode.OBJECTS
    assert cam.objects is not None
    assert [z.name for z in cam.objects.zones] == ["porch", "driveway"]
    assert cam.objects.zones[0].normalized
    assert cam.objects.zones[1].points[0] == (700, 400)
    assert cam.objects.filters[1].max_area == 400000
    assert cam.objects.tracking.high_score == 0.6
    assert cfg.mqtt is not None
    assert cfg.mqtt.password == "pw-from-env"
    assert "pw-from-env" not in repr(cfg.mqtt)
    assert cfg.mqtt.home_assistant.labels == ("person", "car")


BASE = "cameras:\n  - name: a\n    source: demo\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + "    objects:\n      zones:\n        - {points: [[0, 0], [1, 0], [1, 1]]}\n",
            r"c.yaml:6: .*zones\[0\]: expected 'name:' for the zone",
        ),
        (
            BASE + "    objects:\n      zones:\n        - {name: z, points: [[0, 0], [1, 0]]}\n",
            "expected at least 3",
        ),
        (
            BASE + "    objects:\n      zones:\n        - {name: z, normalized: true, "
            "points: [[0, 0], [2, 0], [1, 1]]}\n",
            r"points in \[0, 1\]",
        ),
        (
            BASE
            + "    objects:\n      zones:\n        - {name: z, points: [[0, 0], [1, 0], [1, 1]]}\n"
            "        - {name: z, points: [[0, 0], [1, 0], [1, 1]]}\n",
            "duplicate zone name 'z'",
        ),
        (
            BASE
            + "    objects:\n      filters:\n        - {label: car, min_area: 10, max_area: 5}\n",
            "expected a number >= min_area",
        ),
        (BASE + "    objects:\n      tracking: {low_scor: 0.3}\n", "unknown key 'low_scor'"),
        (BASE + "    outputs: {events_mode: both}\n", "one of: frames, objects"),
        (BASE + "mqtt:\n  port: 1883\n", "expected 'host:'"),
        (BASE + "mqtt:\n  host: b\n  password: x\n", "a password needs a username"),
        (BASE + "mqtt:\n  host: mqtt://b\n", "a host name or address"),
        (BASE + "mqtt:\n  host: b\n  topic_prefix: a/#\n", "a topic prefix"),
        (
            BASE + "mqtt:\n  host: b\n  tls: {cert_file: c.pem}\n",
            "cert_file and key_file go together",
        ),
        (
            BASE + "mqtt:\n  host: b\n  home_assistant: {labels: [traffic light, traffic_light]}\n",
            "mqtt.home_assistant: labels: the labels 'traffic light' and 'traffic_light' would",
        ),
    ],
)
def test_mistakes(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "c.yaml")


def test_password_from_env_is_never_in_an_error() -> None:
    text = BASE + "mqtt:\n  host: b\n  username: u\n  password: ${PW}\n  port: ${PW}\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.yaml", env={"PW": "hunter2-secret"})
    assert "hunter2-secret" not in str(err.value)
    assert "${PW}" in str(err.value)


def test_mqtt_tls_files_are_loaded_when_the_config_is_read(tmp_path: Path) -> None:
    # A missing or unusable certificate used to crash the MQTT thread once the service ran,
    # while /healthz said ok; it is a config error naming the key.
    not_a_cert = tmp_path / "hostname.pem"
    not_a_cert.write_text("box\n")
    cases = [
        ("{ca_file: /nope/ca.pem}", r"c.yaml:\d+: mqtt.tls: ca_file /nope/ca.pem: no such file"),
        (f"{{ca_file: {not_a_cert}}}", r"mqtt.tls: ca_file .*hostname.pem: not a usable cert"),
        (f"{{cert_file: {not_a_cert}, key_file: {not_a_cert}}}", r"cert_file/key_file .*: not a"),
        (f"{{ca_file: {tmp_path}}}", r"ca_file .*: no such file"),
    ]
    for tls, message in cases:
        with pytest.raises(ConfigError, match=message):
            parse_config(BASE + f"mqtt:\n  host: b\n  tls: {tls}\n", "c.yaml")
