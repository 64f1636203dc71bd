"""The MQTT client against a real Mosquitto: topics, payloads, outage, bad credentials, TLS."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app.mqtt.client import MqttClient, MqttErrorKind, MqttState
from camera_app.mqtt.config import HomeAssistantConfig, MqttConfig, TlsConfig
from camera_app.mqtt.publisher import MqttCollector, MqttPublisher
from camera_app.mqtt.topics import Topics, discovery, dumps
from camera_app.objects.lifecycle import EventType, ObjectEvent
from tests.mqtt.broker import USERS, Broker, Subscriber, make_certs, wait_for


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def config(broker: Broker, **kw: object) -> MqttConfig:
    base: dict[str, object] = {
        "host": "127.0.0.1", "port": broker.port, "username": "camera",
        "password": USERS["camera"], "client_id": "box1", "timeout_s": 2.0,
        "backoff_initial_s": 0.05, "backoff_max_s": 0.2,
    }  # fmt: skip
    return MqttConfig(**{**base, **kw})  # type: ignore[arg-type]


def make_event(n: int, kind: EventType = EventType.START) -> ObjectEvent:
    return ObjectEvent(kind, f"ev{n:04d}", "door", n, "person", 0.9, 1e9, 1e9 + 1, ("porch",),
                       ("porch",), (), (1.0, 2.0, 3.0, 4.0), (), None, n)  # fmt: skip


def first_failure(cfg: MqttConfig) -> MqttState:
    """Runs a client until its first classified failure; its state then."""
    client = MqttClient(cfg)
    client.start()
    try:
        wait_for(lambda: client.state().last_error_kind is not None, 15, "the failure")
    finally:
        assert client.stop(10)
    return client.state()


def ids(sub: Subscriber) -> list[str]:
    return [json.loads(m.payload)["event_id"] for m in sub.on("camera_app/door/events")]


def test_events_counts_snapshot_status_and_discovery(broker: Broker) -> None:
    sub = Subscriber(broker.port)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("person",)))
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection")
        # Retained messages are kept newest per topic until sent: wait for the discovered
        # label's first 0 to go out, or the 2 below may replace it before it does.
        wait_for(lambda: sub.on("camera_app/door/person"), 10, "the first count")
        pub.event(make_event(1), 0.0)
        pub.counts("door", {"person": 2})
        pub.snapshot("door", "person", b"\xff\xd8jpeg")
        wait_for(lambda: len(ids(sub)) == 1 and sub.on("camera_app/door/person/snapshot")
                 and len(sub.on("camera_app/door/person")) == 2, 10, "the messages")  # fmt: skip
    finally:
        assert client.stop(10)
    wait_for(lambda: [m.payload for m in sub.on("camera_app/status")] == [b"online", b"offline"],
             10, "online then offline")  # fmt: skip
    body = json.loads(sub.on("camera_app/door/events")[0].payload)
    assert body["type"] == "start"
    assert body["event_id"] == "ev0001"
    assert body["zones"] == ["porch"]
    assert not sub.on("camera_app/door/events")[0].retain
    assert [m.payload for m in sub.on("camera_app/door/person")] == [b"0", b"2"]
    assert sub.on("camera_app/door/person/snapshot")[0].payload == b"\xff\xd8jpeg"
    configs = {
        m.topic for m in sub.received() if m.topic.startswith("homeassistant/") and m.payload
    }
    assert configs == {
        "homeassistant/binary_sensor/camera_app/camera_app_door_person_detected/config",
        "homeassistant/sensor/camera_app/camera_app_door_person_count/config",
        "homeassistant/image/camera_app/camera_app_door_person_snapshot/config",
    }
    # The configs of earlier layouts are removed: ids made of the client id (before
    # 2026-12-03), then topics without the node id (before 2026-12-04).
    removed = {m.topic for m in sub.received() if m.topic.startswith("homeassistant/")} - configs
    assert removed == {
        f"homeassistant/{component}/{instance}_door_person_{suffix}/config"
        for instance in ("box1", "camera_app")
        for component, suffix in (("binary_sensor", "detected"), ("sensor", "count"),
                                  ("image", "snapshot"))
    }  # fmt: skip
    state = client.state()
    assert state.published >= 13  # discovery 3, removals 6, count 0, online, event, count...
    assert state.dropped == 0
    sub.close()
    # Retained: a newcomer sees status, counts, snapshot and discovery at once.
    late = Subscriber(broker.port)
    # Retained messages of different topics come one by one: wait for all three kinds.
    retained = ("camera_app/status", "camera_app/door/person", "camera_app/door/person/snapshot")
    wait_for(lambda: all(late.on(t) for t in retained), 10, "retained status, count, snapshot")
    assert [m.payload for m in late.on("camera_app/status")] == [b"offline"]
    assert [m.payload for m in late.on("camera_app/door/person")] == [b"2"]
    assert late.on("camera_app/door/events") == []
    snapshot = late.on("camera_app/door/person/snapshot")
    assert [(m.payload, m.retain) for m in snapshot] == [(b"\xff\xd8jpeg", True)]
    late.close()


def test_an_event_goes_out_before_the_count_it_changed(broker: Broker) -> None:
    # An automation woken by "person detected" must find the event (its id, its snapshot name).
    sub = Subscriber(broker.port)
    cfg = config(broker)
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    for n in range(1, 4):  # queued before the connection, then sent in this order
        pub.event(make_event(n), 0.0)
        pub.counts("door", {"person": n})
    client.start()
    try:
        wait_for(lambda: len(ids(sub)) == 3, 10, "the events")
        wait_for(lambda: sub.on("camera_app/door/person"), 10, "the count")
        pub.event(make_event(4), 0.0)
        pub.counts("door", {"person": 0})
        wait_for(lambda: len(ids(sub)) == 4 and len(sub.on("camera_app/door/person")) == 2, 10,
                 "the last event and count")  # fmt: skip
    finally:
        assert client.stop(10)
    order = [(m.topic.rpartition("/")[2], m.payload) for m in sub.received()
             if m.topic in ("camera_app/door/events", "camera_app/door/person")]  # fmt: skip
    kinds = [k for k, _ in order]
    # Retained counts keep only the newest before they are sent: person 3 after the three
    # events, then event 4 before its count 0.
    assert kinds == ["events", "events", "events", "person", "events", "person"]
    assert [p for k, p in order if k == "person"] == [b"3", b"0"]
    sub.close()


def test_home_assistant_birth_sends_discovery_and_states_again(broker: Broker) -> None:
    sub = Subscriber(broker.port)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("person",)))
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    detected = "homeassistant/binary_sensor/camera_app/camera_app_door_person_detected/config"
    client.start()
    try:
        wait_for(lambda: sub.on(detected) and sub.on("camera_app/door/person"), 10, "discovery")
        pub.counts("door", {"person": 2})
        wait_for(lambda: len(sub.on("camera_app/door/person")) == 2, 10, "the count")
        before = len(sub.received())
        sub.publish("homeassistant/status", b"online")  # Home Assistant restarted
        wait_for(lambda: len(sub.on(detected)) == 2, 10, "discovery sent again")
        wait_for(lambda: len(sub.on("camera_app/door/person")) == 3, 10, "the state again")
        after = sub.received()[before:]
        sub.publish("homeassistant/status", b"offline")  # not a reason to send anything
    finally:
        assert client.stop(10)
    assert [m.payload for m in sub.on("camera_app/door/person")] == [b"0", b"2", b"2"]
    again = {m.topic for m in after if m.topic.endswith("/config") and m.payload}
    assert len(again) == 3
    assert len(sub.on(detected)) == 2
    sub.close()


def test_online_follows_the_configs_and_counts_and_snapshots_follow_online(
    broker: Broker,
) -> None:
    # A crash left "person 1" and the will's offline retained. Home Assistant makes an entity
    # available on `online`: were it first, "person detected" would be on until the 0 came.
    sub = Subscriber(broker.port)
    sub.publish("camera_app/door/person", b"1", retain=True)
    sub.publish("camera_app/status", b"offline", retain=True)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("person",)))
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    pub.snapshot("door", "person", b"\xff\xd8" + bytes(200_000))  # kept from before, say
    wait_for(lambda: len(sub.received()) == 2, 10, "the earlier run's messages")
    client.start()
    try:
        wait_for(lambda: sub.on("camera_app/door/person/snapshot"), 10, "the snapshot")
    finally:
        assert client.stop(10)
    live = sub.received()[2:]  # this run's
    order = [m.topic for m in live]
    online = order.index("camera_app/status")
    assert live[online].payload == b"online"
    configs = [i for i, t in enumerate(order) if t.startswith("homeassistant/")]
    assert configs
    assert max(configs) < online
    assert order.index("camera_app/door/person") < online
    assert live[order.index("camera_app/door/person")].payload == b"0"
    assert order.index("camera_app/door/person/snapshot") > online
    sub.close()


def test_home_assistant_birth_leaves_the_snapshots_alone(broker: Broker) -> None:
    # They stay retained on the broker, where Home Assistant reads them when it subscribes:
    # sending a JPEG per camera and label again at each HA restart is only load.
    sub = Subscriber(broker.port)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("person",)))
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    client.start()
    try:
        wait_for(lambda: sub.on("camera_app/status"), 10, "online")
        pub.snapshot("door", "person", b"\xff\xd8jpeg")
        wait_for(lambda: sub.on("camera_app/door/person/snapshot"), 10, "the snapshot")
        sub.publish("homeassistant/status", b"online")
        wait_for(lambda: len(sub.on("camera_app/door/person")) == 2, 10, "the count again")
        pub.event(make_event(1), 0.0)  # after the birth's messages: all of them are out
        wait_for(lambda: ids(sub) == ["ev0001"], 10, "the event")
    finally:
        assert client.stop(10)
    assert len(sub.on("camera_app/door/person/snapshot")) == 1
    sub.close()


def test_a_removal_the_broker_took_is_not_sent_again(broker: Broker) -> None:
    # The configs of earlier layouts are removed at start; once acknowledged they are gone
    # from the broker, and a birth message or a reconnect does not remove them again.
    sub = Subscriber(broker.port)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("person",)))
    client = MqttClient(cfg)
    MqttPublisher(client, cfg, ["door"])
    legacy = "homeassistant/sensor/box1_door_person_count/config"
    client.start()
    try:
        wait_for(lambda: sub.on(legacy) and sub.on("camera_app/status"), 10, "the start")
        wait_for(lambda: client.state().queued == 0, 10, "everything sent")
        wait_for(lambda: client.state().published >= 11, 10, "everything acknowledged")
        sub.publish("homeassistant/status", b"online")
        wait_for(lambda: len(sub.on("camera_app/door/person")) == 2, 10, "the count again")
        broker.kill()
        broker.start()
        wait_for(lambda: client.state().connects == 2 and client.state().queued == 0, 20,
                 "the reconnect")  # fmt: skip
        wait_for(lambda: len(sub.on("camera_app/door/person")) == 3, 10, "the count again")
    finally:
        assert client.stop(10)
    assert [m.payload for m in sub.on(legacy)] == [b""]
    sub.close()


def test_an_upgrade_removes_the_old_entity_before_it_makes_the_new_one(broker: Broker) -> None:
    # Up to 2026-12-04 "café" made the id ..._caf__count. Home Assistant gives the new entity
    # the old one's entity id only if the old one is gone first (else "sensor.cafe_count_2").
    old = "homeassistant/sensor/camera_app/camera_app_door_caf__count/config"
    new = "homeassistant/sensor/camera_app/camera_app_door_caf_ue9__count/config"
    sub = Subscriber(broker.port)
    sub.publish(old, b'{"availability_topic": "camera_app/status"}', retain=True)
    cfg = config(broker, home_assistant=HomeAssistantConfig(enabled=True, labels=("café",)))
    client = MqttClient(cfg)
    MqttPublisher(client, cfg, ["door"])
    client.start()
    try:
        wait_for(lambda: sub.on(new), 10, "the new config")
    finally:
        assert client.stop(10)
    order = [(m.topic, bool(m.payload)) for m in sub.received()[1:] if m.topic in (old, new)]
    assert order == [(old, False), (new, True)]
    sub.close()


def retained_now(port: int) -> dict[str, bytes]:
    """Every retained message on the broker now: a new subscriber's, up to a message it
    publishes itself after subscribing (the broker sends the retained ones before it)."""
    late = Subscriber(port)
    try:
        late.publish("camera_app/_sentinel/end", b"end")
        wait_for(lambda: late.on("camera_app/_sentinel/end"), 10, "the sentinel")
        return {m.topic: m.payload for m in late.received() if m.retain}
    finally:
        late.close()


def test_a_count_an_earlier_run_left_is_set_back_to_0(broker: Broker) -> None:
    # A crash leaves "tie 1" retained (the will says offline, the count stays): the next run
    # clears counts it has not published itself, and leaves its own and zeros alone.
    sub = Subscriber(broker.port)
    sub.publish("camera_app/door/tie", b"1", retain=True)
    sub.publish("camera_app/door/cat", b"0", retain=True)
    sub.publish("camera_app/door/person", b"5", retain=True)
    cfg = config(broker)
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    pub.counts("door", {"person": 1})  # in view now: this run's own
    client.start()
    try:
        wait_for(lambda: client.stale_counts_reset == 1, 10, "the stale count reset")
        wait_for(lambda: len(sub.on("camera_app/door/tie")) == 2, 10, "tie 0")
    finally:
        assert client.stop(10)
    retained = retained_now(broker.port)
    assert {t: retained.get(t) for t in ("camera_app/door/tie", "camera_app/door/cat",
                                         "camera_app/door/person")} == {
        "camera_app/door/tie": b"0", "camera_app/door/cat": b"0", "camera_app/door/person": b"1",
    }  # fmt: skip
    sub.close()


def test_the_retained_topics_of_a_camera_taken_out_of_the_config_are_removed(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    # An earlier run had cameras door and yard; this one has door only. What yard left (its
    # availability, counts, snapshots) goes; door's, another box's nested under this prefix
    # and what this program does not write stay.
    jpeg = b"\xff\xd8\xff\xe0jpeg"
    gone = {
        "camera_app/yard/available": b"offline",
        "camera_app/yard/person": b"0",
        "camera_app/yard/car": b"2",
        "camera_app/yard/person/snapshot": jpeg,
        "camera_app/yard/car/snapshot": jpeg,
    }
    kept = {
        "camera_app/door/person/snapshot": jpeg,  # door is configured: its last snapshot
        "camera_app/front-box/status": b"online",  # a box with the prefix camera_app/front-box
        "camera_app/front-box/yard/available": b"online",
        "camera_app/front-box/yard/person": b"1",
        "camera_app/yard/note": b"written by a script",  # not this program's
    }
    sub = Subscriber(broker.port)
    for topic, payload in {**gone, **kept}.items():
        sub.publish(topic, payload, retain=True)
    cfg = config(broker)
    client = MqttClient(cfg)
    MqttPublisher(client, cfg, ["door"])
    with caplog.at_level(logging.INFO, logger="camera_app.mqtt.client"):
        client.start()
        try:
            wait_for(lambda: client.stale_topics_removed == len(gone), 10, "the removals")
            wait_for(lambda: all(sub.on(t)[-1:] and not sub.on(t)[-1].payload for t in gone),
                     10, "the removals on the broker")  # fmt: skip
        finally:
            assert client.stop(10)
    retained = retained_now(broker.port)
    assert not set(gone) & set(retained)
    assert {t: retained.get(t) for t in kept} == kept
    assert client.stale_counts_reset == 0
    assert caplog.text.count("camera 'yard', no longer configured") == 1
    # The next run finds nothing more to remove.
    client = MqttClient(cfg)
    MqttPublisher(client, cfg, ["door"])
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection")
    finally:
        assert client.stop(10)
    assert client.stale_topics_removed == 0
    sub.close()


def test_the_entities_of_a_camera_or_label_taken_out_of_the_config_are_removed(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    # An earlier run discovered door/person, door/car and yard/person; this run has only
    # door/person. Another box (its own prefix) has its configs under its own node id.
    ha = HomeAssistantConfig(enabled=True, labels=("person", "car"))
    earlier = [
        *discovery(Topics("camera_app"), "door", "person", "homeassistant"),
        *discovery(Topics("camera_app"), "door", "car", "homeassistant"),
        *discovery(Topics("camera_app"), "yard", "person", "homeassistant"),
    ]
    other_box = [
        *discovery(Topics("camera_app/garage-box"), "yard", "person", "homeassistant"),
        # A box whose prefix differs only in '.': the same node id, its own status topic.
        *discovery(Topics("camera.app"), "yard", "car", "homeassistant")[:1],
    ]
    sub = Subscriber(broker.port)
    for topic, payload in [*earlier, *other_box]:
        sub.publish(topic, dumps(payload), retain=True)
    cfg = config(broker, home_assistant=dataclasses.replace(ha, labels=("person",)))
    client = MqttClient(cfg)
    MqttPublisher(client, cfg, ["door"])
    with caplog.at_level(logging.WARNING, logger="camera_app.mqtt.client"):
        client.start()
        try:
            wait_for(lambda: client.stale_configs_removed == 6, 10, "the stale configs removed")
            wait_for(lambda: "belongs to another" in caplog.text, 10, "the warning")
        finally:
            assert client.stop(10)
    assert caplog.text.count("belongs to another") == 1
    assert "'camera.app/status'" in caplog.text
    current = {t for t, _ in discovery(Topics("camera_app"), "door", "person", "homeassistant")}
    late = Subscriber(broker.port)
    everything = {t for t, _ in [*earlier, *other_box]}
    wait_for(lambda: len({m.topic for m in late.received()} & everything) == 7, 10,
             "the retained configs")  # fmt: skip
    left = {m.topic for m in late.received() if m.topic.endswith("/config") and m.payload}
    assert left == current | {t for t, _ in other_box}
    assert client.stale_configs_removed == 6  # door/car and yard/person: 3 entities each
    late.close()
    sub.close()


def test_broker_killed_and_restarted_outage_events_arrive_after(broker: Broker) -> None:
    sub = Subscriber(broker.port)
    client = MqttClient(config(broker))
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection")
        for n in range(3):
            client.publish(
                "camera_app/door/events", json.dumps({"event_id": f"ev{n:04d}"}).encode()
            )
        wait_for(lambda: len(ids(sub)) == 3, 10, "the first events")
        broker.kill()
        wait_for(lambda: not client.state().connected, 10, "the client to notice")
        for n in range(3, 10):
            client.publish(
                "camera_app/door/events", json.dumps({"event_id": f"ev{n:04d}"}).encode()
            )
        # Restart with only the watcher allowed, so the subscriber is back before the client
        # can deliver (the client meanwhile sees "bad credentials"), then let the client in.
        broker.set_users({"watcher": USERS["watcher"]})
        broker.start()
        wait_for(sub.subscribed.is_set, 10, "the subscriber's return")
        wait_for(lambda: client.state().errors.get("auth", 0) >= 1, 10, "an auth failure")
        broker.set_users(USERS)
        broker.reload()
        wait_for(lambda: {f"ev{n:04d}" for n in range(3, 10)} <= set(ids(sub)), 20,
                 "the outage's events")  # fmt: skip
    finally:
        assert client.stop(10)
    state = client.state()
    assert state.dropped == 0
    assert state.errors.get("refused", 0) + state.errors.get("network", 0) >= 1
    assert state.connects >= 2
    assert set(ids(sub)) == {f"ev{n:04d}" for n in range(10)}  # at least once, each by its id
    sub.close()


def test_bounded_queue_drops_oldest_while_away(broker: Broker) -> None:
    broker.kill()
    client = MqttClient(config(broker, queue_size=3))
    client.start()
    try:
        wait_for(lambda: client.state().errors.get("refused", 0) >= 1, 10, "a refused connection")
        for n in range(5):
            client.publish(
                "camera_app/door/events", json.dumps({"event_id": f"ev{n:04d}"}).encode()
            )
        assert client.state().dropped == 2
        assert client.state().queued == 3
        # Back with only the watcher allowed, so the subscriber is in before the client.
        broker.set_users({"watcher": USERS["watcher"]})
        broker.start()
        sub = Subscriber(broker.port)
        broker.set_users(USERS)
        broker.reload()
        wait_for(lambda: len(set(ids(sub))) == 3, 20, "the queued events")
    finally:
        assert client.stop(10)
    assert set(ids(sub)) == {"ev0002", "ev0003", "ev0004"}  # the oldest two were dropped
    assert client.state().dropped == 2
    sub.close()


def test_wrong_password_is_classified_backs_off_and_never_logged(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Passw0rd-xyz"
    client = MqttClient(config(broker, password=wrong))
    client.start()
    try:
        wait_for(lambda: client.state().errors.get("auth", 0) >= 3, 15, "three auth failures")
    finally:
        assert client.stop(10)
    state = client.state()
    assert not state.connected
    assert state.last_error_kind is MqttErrorKind.AUTH
    assert state.last_error is not None
    assert f"127.0.0.1:{broker.port}" in state.last_error
    assert "refused the connection" in state.last_error
    lines = [r.getMessage() for r in caplog.records]
    assert any("mqtt auth" in x for x in lines)
    assert all(wrong not in x and USERS["camera"] not in x for x in lines)
    # one error line, then warnings: the backoff retried without flooding the log at error
    errors = [
        r
        for r in caplog.records
        if r.name == "camera_app.mqtt.client" and r.levelno >= logging.ERROR
    ]
    assert len(errors) == 1


def test_tls_against_a_plain_listener_is_a_tls_error(broker: Broker, tmp_path: Path) -> None:
    ca = make_certs(tmp_path / "certs")["ca"]
    state = first_failure(config(broker, tls=TlsConfig(ca_file=str(ca))))
    assert state.last_error_kind is MqttErrorKind.TLS


def test_collector_reports_state(broker: Broker) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    client = MqttClient(config(broker))
    reg = CollectorRegistry()
    reg.register(MqttCollector(client))
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection")
        client.publish("camera_app/door/events", b"{}")
        wait_for(lambda: client.state().published >= 2, 10, "the publish")
        text = generate_latest(reg).decode()
    finally:
        assert client.stop(10)
    assert "camera_app_mqtt_connected 1.0" in text
    assert 'camera_app_mqtt_errors_total{kind="auth"} 0.0' in text
    assert "camera_app_mqtt_messages_dropped_total 0.0" in text
    published = next(
        x for x in text.splitlines() if x.startswith("camera_app_mqtt_messages_published_total")
    )
    assert float(published.split()[1]) >= 2


def test_readiness_names_the_class_and_never_the_password(broker: Broker) -> None:
    from camera_app.objects.wiring import mqtt_readiness
    from camera_app.telemetry import Readiness

    wrong = "Wr0ng-Passw0rd-xyz"
    client = MqttClient(config(broker, password=wrong))
    assert mqtt_readiness(client).reason == "connecting"
    client.start()
    try:
        wait_for(lambda: client.state().errors.get("auth", 0) >= 1, 10, "an auth failure")
        service = mqtt_readiness(client)
    finally:
        assert client.stop(10)
    assert not service.up
    assert service.reason is not None
    assert service.reason.startswith(f"auth: 127.0.0.1:{broker.port} refused the connection")
    body = json.dumps(Readiness(True, (), (service,)).to_json())
    assert wrong not in body
    assert '"services": [{"name": "mqtt", "up": false' in body
    assert not Readiness(True, (), (service,)).ready


def test_tls_with_ca_and_client_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    broker = Broker(tmp_path, tls=certs)
    broker.start()
    try:
        good = TlsConfig(str(certs["ca"]), str(certs["client"]), str(certs["client-key"]))
        client = MqttClient(config(broker, tls=good))
        client.start()
        try:
            wait_for(lambda: client.state().connected, 15, "a TLS connection")
            client.publish("camera_app/door/events", b'{"event_id":"tls1"}')
            wait_for(lambda: client.state().published >= 2, 10, "the publish over TLS")
        finally:
            assert client.stop(10)
        # Another CA: the broker's certificate does not verify.
        other = make_certs(tmp_path / "other")["ca"]
        state = first_failure(config(broker, tls=TlsConfig(str(other))))
        assert state.last_error_kind is MqttErrorKind.TLS
        assert "certificate verify failed" in (state.last_error or "").lower()
    finally:
        broker.stop()


def test_an_unexpected_error_is_retried_and_the_thread_lives_on(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    # Anything the client does not classify (a bug, paho's) used to end the thread for good.
    client = MqttClient(config(broker))
    connect, raised = client._connect, []

    def fails_twice() -> object:
        if len(raised) < 2:
            raised.append(1)
            raise RuntimeError("boom")
        return connect()

    client._connect = fails_twice  # type: ignore[method-assign,assignment]
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection after the errors")
        assert client.alive()
    finally:
        assert client.stop(10)
    assert client.state().errors.get("protocol") == 2
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == 1  # logged once, then counted


def test_a_label_named_events_never_writes_onto_the_events_topic(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    sub = Subscriber(broker.port)
    cfg = config(broker)
    client = MqttClient(cfg)
    pub = MqttPublisher(client, cfg, ["door"])
    client.start()
    try:
        wait_for(lambda: client.state().connected, 10, "the connection")
        pub.counts("door", {"events": 1, "cat": 1})
        pub.counts("door", {"events": 0, "cat": 0})
        pub.event(make_event(1), 0.0)
        # (retained messages keep only the newest per topic until sent: cat 1 may never go)
        cat = "camera_app/door/cat"
        wait_for(lambda: ids(sub) and sub.on(cat) and sub.on(cat)[-1].payload == b"0", 10,
                 "the event and the last count")  # fmt: skip
    finally:
        assert client.stop(10)
    assert [m.payload[:1] for m in sub.on("camera_app/door/events")] == [b"{"]
    warnings = [r.getMessage() for r in caplog.records if "no count topic" in r.getMessage()]
    assert len(warnings) == 1
    sub.close()
