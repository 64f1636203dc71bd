"""Each camera's ``available`` topic follows whether it streams, with a hold-off going down."""

from __future__ import annotations

from camera_app.mqtt.config import HomeAssistantConfig, MqttConfig
from camera_app.mqtt.publisher import DOWN_AFTER_S, MqttPublisher
from camera_app.mqtt.topics import Topics
from camera_app.objects.lifecycle import EventType, ObjectEvent


class RecordingClient:
    """What ``MqttPublisher`` needs of the client: its topics, ``claim`` and ``publish``."""

    def __init__(self) -> None:
        self.topics = Topics("camera_app")
        self.sent: list[tuple[str, bytes, bool]] = []
        self.cameras: frozenset[str] | None = None

    def claim(self, cameras: list[str]) -> None:
        self.cameras = frozenset(cameras)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload, retain))

    def available(self, camera: str) -> list[bytes]:
        return [p for t, p, _ in self.sent if t == f"camera_app/{camera}/available"]


def make(streaming: set[str] | None) -> tuple[RecordingClient, MqttPublisher]:
    client = RecordingClient()
    cfg = MqttConfig(host="127.0.0.1", home_assistant=HomeAssistantConfig(enabled=True))
    source = None if streaming is None else (lambda: streaming)
    return client, MqttPublisher(client, cfg, ["door", "yard"], streaming=source)  # type: ignore[arg-type]


def test_a_camera_is_offline_until_it_streams_and_online_at_once_when_it_does() -> None:
    up: set[str] = set()
    client, pub = make(up)
    assert client.available("door") == client.available("yard") == [b"offline"]
    assert all(retain for t, _, retain in client.sent if t.endswith("/available"))
    pub.tick(100.0)
    assert client.available("door") == [b"offline"]  # nothing new to say
    up.add("door")
    pub.tick(100.5)
    assert client.available("door") == [b"offline", b"online"]
    assert client.available("yard") == [b"offline"]


def test_a_short_drop_does_not_flap_and_a_long_one_says_offline() -> None:
    up = {"door", "yard"}
    client, pub = make(up)
    pub.tick(0.0)
    up.discard("door")  # a reconnect
    pub.tick(1.0)
    pub.tick(1.0 + DOWN_AFTER_S - 0.5)
    up.add("door")  # back before DOWN_AFTER_S
    pub.tick(1.0 + DOWN_AFTER_S)
    assert client.available("door") == [b"offline", b"online"]
    up.discard("door")  # down for good: the hold-off starts again from here
    pub.tick(20.0)
    pub.tick(20.0 + DOWN_AFTER_S - 0.1)
    assert client.available("door") == [b"offline", b"online"]
    pub.tick(20.0 + DOWN_AFTER_S)
    assert client.available("door") == [b"offline", b"online", b"offline"]
    assert client.available("yard") == [b"offline", b"online"]


def test_without_a_streaming_source_every_camera_is_available() -> None:
    client, pub = make(None)
    pub.tick(0.0)
    assert client.available("door") == client.available("yard") == [b"online"]


def end(camera: str, why: str) -> ObjectEvent:
    return ObjectEvent(EventType.END, "ev1", camera, 1, "person", 0.9, 1e9, 1e9 + 1, (), (), (),
                       (1.0, 2.0, 3.0, 4.0), (why,), None, 7)  # fmt: skip


def test_a_camera_down_end_says_offline_first_so_no_entity_shows_off() -> None:
    # Seen on Home Assistant 2024.3.3: the camera_down end's count 0 came before the hold-off's
    # offline, and "person detected" went on -> off -> unavailable, 2 ms to 0.6 s of "off".
    up = {"door", "yard"}
    client, pub = make(up)
    pub.tick(0.0)
    up.discard("door")
    pub.tick(1.0)
    mark = len(client.sent)
    pub.event(end("door", "camera_down"), 5.2)
    pub.counts("door", {"person": 0})
    assert client.sent[mark:] == [
        ("camera_app/door/available", b"offline", True),
        ("camera_app/door/events", client.sent[mark + 1][1], False),
        ("camera_app/door/person", b"0", True),
    ]
    pub.tick(20.0)  # still down: nothing more
    assert client.available("door") == [b"offline", b"online", b"offline"]
    up.add("door")
    pub.tick(30.0)
    assert client.available("door") == [b"offline", b"online", b"offline", b"online"]


def test_an_end_of_a_camera_that_still_streams_leaves_it_available() -> None:
    # Its results stopped but its frames did not (a stall is its own timeout): no guess.
    client, pub = make({"door", "yard"})
    pub.tick(0.0)
    pub.event(end("door", "camera_down"), 6.0)
    pub.event(end("door", "zones"), 6.0)  # an ordinary end: the object left
    assert client.available("door") == [b"offline", b"online"]


def test_the_ends_at_a_stop_say_offline_first() -> None:
    client, pub = make({"door", "yard"})
    pub.tick(0.0)
    pub.event(end("yard", "stopped"), 9.0)
    assert client.sent[-2][:2] == ("camera_app/yard/available", b"offline")
    assert client.available("door") == [b"offline", b"online"]


def test_close_says_every_available_camera_offline() -> None:
    # A clean stop leaves no camera "online" on the broker for other consumers.
    up = {"door"}
    client, pub = make(up)
    pub.tick(0.0)
    pub.close()
    assert client.available("door") == [b"offline", b"online", b"offline"]
    assert client.available("yard") == [b"offline"]  # never came up: nothing more to say
