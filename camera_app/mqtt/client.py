"""The MQTT connection: one thread, a bounded queue, reconnects with backoff (paho-mqtt).

``publish()`` only appends to a queue under a short lock, so the pipeline never waits on the
network. The thread connects (socket, TLS handshake and CONNACK each bounded by
``timeout_s``), sends every retained message again (a restarted broker without persistence
has lost them): discovery configs and counts first, then ``online``, then the snapshots, so
Home Assistant never shows an entity available with a count an earlier run left behind, and
large JPEGs do not hold up the status. Then it sends the queue, keeping at most
``MAX_INFLIGHT`` QoS 1 messages unacknowledged. When the connection drops, the unacknowledged
ones go back to the front of the queue: each event arrives at least once (a consumer tells
repeats by ``event_id``). Events beyond ``queue_size`` push the oldest out (counted as dropped);
retained messages wait in a map of their own, newest per topic, and are never dropped. Both
go out in the order they were published (an event before the count it changed: an
automation woken by the count finds the event there already). A removal (an empty retained
message) is forgotten once the broker has acknowledged it, not sent again at every connect.

While connected it listens for three things: Home Assistant's birth message (``online`` on
``<discovery_prefix>/status``: HA restarted, so discovery and every count are sent again;
not the snapshots, retained on the broker and megabytes for a few cameras),
the retained counts under ``<prefix>/+/+`` that an earlier run left (a crash leaves
"person 1" behind): a nonzero count this run has not published is set back to 0, and the
topics of a camera no longer configured (its ``available``, counts and snapshots) are
removed; and the retained discovery configs under this prefix's node id: one this run has
not published (a camera or label taken out of the config) is removed, and Home Assistant
drops its entity.

Failures are classified (refused, auth, tls, dns, timeout, network, protocol) for logs,
metrics and readiness; messages name the broker by host and port only, never the password.
A fresh paho client is made per connection, so paho's own queue never resends behind ours.
``stop()`` sends what is queued for up to ``DRAIN_S``, publishes ``offline`` and
disconnects cleanly (the last will covers a crash).
"""

from __future__ import annotations

import collections
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from camera_app.errors import ConfigError
from camera_app.modes import StrEnum
from camera_app.mqtt.config import MqttConfig, tls_context
from camera_app.mqtt.topics import Topics, discovery_filter
from camera_app.redact import redact_text
from camera_app.sources.backoff import Backoff, BackoffPolicy
from camera_app.threads import ManagedThread

log = logging.getLogger(__name__)

MAX_INFLIGHT = 20
LOOP_S = 0.05
DRAIN_S = 2.5  # at stop: what is queued gets this long (the App joins each part for 5 s)


class MqttErrorKind(StrEnum):
    REFUSED = "refused"  # nothing listens there, or the broker refused the connection
    AUTH = "auth"  # bad user name or password, or not authorised
    TLS = "tls"  # handshake or certificate failure
    DNS = "dns"
    TIMEOUT = "timeout"
    NETWORK = "network"
    PROTOCOL = "protocol"


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    seq: int = 0  # the order of publish() calls: what goes out first


@dataclass(frozen=True)
class MqttState:
    connected: bool
    published: int
    dropped: int
    queued: int
    connects: int
    last_error_kind: MqttErrorKind | None
    last_error: str | None
    errors: dict[str, int]


def classify(exc: BaseException) -> MqttErrorKind:
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return MqttErrorKind.TLS
    if isinstance(exc, socket.gaierror):
        return MqttErrorKind.DNS
    if isinstance(exc, TimeoutError | socket.timeout):
        return MqttErrorKind.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return MqttErrorKind.REFUSED
    if isinstance(exc, OSError):
        return MqttErrorKind.NETWORK
    return MqttErrorKind.PROTOCOL


def classify_connack(value: int) -> MqttErrorKind:
    """CONNACK codes: MQTT 3.1.1 (4, 5) as paho maps them onto MQTT 5's (134, 135)."""
    if value in (4, 5, 134, 135):
        return MqttErrorKind.AUTH
    return MqttErrorKind.REFUSED


class _ConnectError(Exception):
    def __init__(self, kind: MqttErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class MqttClient(ManagedThread):
    def __init__(self, cfg: MqttConfig, *, backoff: BackoffPolicy | None = None) -> None:
        super().__init__("mqtt")
        self.cfg = cfg
        self.topics = Topics(cfg.topic_prefix)
        self.where = f"{cfg.host}:{cfg.port}"
        self._backoff = Backoff(backoff or BackoffPolicy(cfg.backoff_initial_s, cfg.backoff_max_s))
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._queue: collections.deque[Message] = collections.deque()
        self._pending_retained: dict[str, Message] = {}
        self._retained: dict[str, Message] = {}  # everything retained, re-sent at each connect
        self._inflight: dict[int, Message] = {}
        self._connected = False
        # At a connect, `online` waits for the retained configs and counts published up to
        # then (seq <= _online_after), snapshots for `online`.
        self._online_due = False
        self._online_after = 0
        self.published = 0
        self.dropped = 0
        self.connects = 0
        self._errors: collections.Counter[str] = collections.Counter()
        self._last_error: tuple[MqttErrorKind, str] | None = None
        self._seq = 0
        ha = cfg.home_assistant
        self._birth_topic = f"{ha.discovery_prefix}/status" if ha.enabled else None
        self._counts_filter = f"{cfg.topic_prefix}/+/+"
        self._discovery_filter = (
            discovery_filter(self.topics, ha.discovery_prefix) if ha.enabled else None
        )
        self.stale_counts_reset = 0
        self.stale_configs_removed = 0
        self.stale_topics_removed = 0
        self._cameras: frozenset[str] | None = None  # this run's (claim()); None: not known
        self._cleared: set[str] = set()  # cameras whose leftovers were logged (once each)
        self._snapshot_subs: set[str] = set()  # per connection: cameras whose snapshots we read
        self._warned_node = False
        # Built once, here: a file that went away since the config was read fails the start.
        try:
            self._tls = tls_context(cfg.tls) if cfg.tls is not None else None
        except ValueError as exc:
            raise ConfigError(f"mqtt.tls: {exc}") from None

    # -- the pipeline's side: never blocks ------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        with self._lock:
            self._seq += 1
            m = Message(topic, payload, qos, retain, self._seq)
            if retain:
                self._retained[topic] = m
                # Moved to the end: the map stays in publish order, newest per topic.
                self._pending_retained.pop(topic, None)
                self._pending_retained[topic] = m
                return
            if len(self._queue) >= self.cfg.queue_size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(m)

    def claim(self, cameras: Iterable[str]) -> None:
        """The cameras this run publishes for (before ``start()``): the retained topics an
        earlier run left for any other camera of this prefix are removed at each connection
        (its ``available``, its counts and its snapshots), not kept for ever."""
        self._cameras = frozenset(cameras)

    def state(self) -> MqttState:
        with self._lock:
            kind, message = self._last_error or (None, None)
            return MqttState(
                self._connected, self.published, self.dropped,
                len(self._queue) + len(self._pending_retained), self.connects, kind, message,
                dict(self._errors),
            )  # fmt: skip

    # -- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        unexpected = 0
        while not self._closing.is_set():
            try:
                client = self._connect()
            except _ConnectError as exc:
                self._failed(exc.kind, str(exc))
                self._closing.wait(self._backoff.next_delay_s())
                continue
            except Exception as exc:  # a bug or paho's: the thread must outlive it
                unexpected += 1
                self._unexpected(exc, first=unexpected == 1)
                self._closing.wait(self._backoff.next_delay_s())
                continue
            self._backoff.reset()
            try:
                self._session(client)
            except Exception as exc:
                unexpected += 1
                self._unexpected(exc, first=unexpected == 1)
                client.disconnect()
            if not self._closing.is_set():
                self._closing.wait(self._backoff.next_delay_s())

    def _unexpected(self, exc: BaseException, *, first: bool) -> None:
        """An exception nothing classified: counted as a protocol error, retried with backoff;
        its traceback logged the first time only."""
        if first:
            log.error("mqtt: unexpected %s; retrying with backoff", type(exc).__name__,
                      exc_info=exc)  # fmt: skip
        with self._lock:
            self._connected = False
        self._failed(MqttErrorKind.PROTOCOL, f"unexpected {type(exc).__name__}")

    def _client(self) -> paho.Client:
        c = self.cfg
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=c.client_id, clean_session=True)
        client.connect_timeout = c.timeout_s
        if c.username is not None:
            client.username_pw_set(c.username, c.password)
        if self._tls is not None:
            client.tls_set_context(self._tls)
        client.will_set(self.topics.status, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        return client

    def _connect(self) -> paho.Client:
        client = self._client()
        result: dict[str, Any] = {}

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            result["rc"] = reason

        client.on_connect = on_connect
        try:
            client.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        except (OSError, ValueError) as exc:
            _close_tls_sockets(exc)
            kind = classify(exc)
            if self.cfg.tls is not None and isinstance(exc, ConnectionResetError):
                kind = MqttErrorKind.TLS  # reset during the handshake: is that port TLS?
            message = f"cannot connect to {self.where}: {_reason(exc)}"
            raise _ConnectError(kind, message) from None
        deadline = time.monotonic() + self.cfg.timeout_s
        while "rc" not in result:
            rc = client.loop(timeout=LOOP_S)
            if rc != paho.MQTT_ERR_SUCCESS and "rc" not in result:
                client.disconnect()
                raise _ConnectError(MqttErrorKind.REFUSED, f"{self.where} closed the connection "
                              "before accepting it")  # fmt: skip
            if time.monotonic() > deadline:
                client.disconnect()
                raise _ConnectError(MqttErrorKind.TIMEOUT, f"no CONNACK from {self.where} within "
                              f"{self.cfg.timeout_s:g} s")  # fmt: skip
        reason = result["rc"]
        if reason.is_failure:
            client.disconnect()
            raise _ConnectError(classify_connack(int(reason.value)), f"{self.where} refused the "
                          f"connection: {reason}")  # fmt: skip
        return client

    def _session(self, client: paho.Client) -> None:
        lost = threading.Event()

        def on_publish(_c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
            with self._lock:
                m = self._inflight.pop(mid, None)
                if m is None:
                    return
                self.published += 1
                current = self._retained.get(m.topic)
                if not m.payload and current is not None and not current.payload:
                    # A removal the broker has taken: not sent again at each connect.
                    del self._retained[m.topic]

        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            lost.set()

        client.on_publish = on_publish
        client.on_disconnect = on_disconnect
        with self._lock:
            self._connected = True
            self.connects += 1
            recovered = self._last_error is not None
            self._last_error = None
            # Everything retained first (a broker without persistence lost it), in order.
            merged = {**self._retained, **self._pending_retained}
            self._pending_retained = dict(sorted(merged.items(), key=lambda kv: kv[1].seq))
            self._online_due = True
            self._online_after = self._seq
            self._snapshot_subs.clear()  # a clean session: subscriptions start anew
        client.on_message = self._on_message
        # QoS 0: what matters comes retained at once; the rest is this run's own, echoed.
        client.subscribe(self._counts_filter, qos=0)
        if self._birth_topic is not None:
            client.subscribe(self._birth_topic, qos=1)
        if self._discovery_filter is not None:
            client.subscribe(self._discovery_filter, qos=0)
        log.info("mqtt connected to %s%s", self.where, " again" if recovered else "")
        drain_until: float | None = None
        while not lost.is_set():
            if self._closing.is_set():
                drain_until = drain_until or time.monotonic() + min(self.cfg.timeout_s, DRAIN_S)
                if self._idle() or time.monotonic() > drain_until:
                    break
            self._fill(client)
            if client.loop(timeout=LOOP_S) != paho.MQTT_ERR_SUCCESS:
                lost.set()
        with self._lock:
            self._connected = False
            # Unacknowledged messages go back in front, in their order: at least once.
            back = [m for m in self._inflight.values() if not m.retain]
            self._inflight.clear()
            self._queue.extendleft(reversed(back))
        if self._closing.is_set() and not lost.is_set():
            self._goodbye(client)
            return
        client.disconnect()
        self._failed(MqttErrorKind.NETWORK, f"lost the connection to {self.where}")

    def _on_message(self, c: paho.Client, _u: Any, m: paho.MQTTMessage) -> None:
        """The birth message, or a retained message under ``<prefix>/+/+`` or
        ``<prefix>/<camera>/+/snapshot`` (paho's thread: this one, inside ``loop()``)."""
        if m.topic == self._birth_topic:
            # A retained "online" is there at every connect, when everything is sent anyway.
            if bytes(m.payload).strip() == b"online" and not m.retain:
                self.resend_retained()
                log.info("mqtt: Home Assistant is online; discovery and states sent again")
            return
        if not m.retain or m.topic.endswith("/events"):
            return
        with self._lock:
            ours = m.topic in self._retained
        if ours or not m.payload:
            return
        if self._discovery_filter is not None and paho.topic_matches_sub(
            self._discovery_filter, m.topic
        ):
            statuses = _availability_topics(bytes(m.payload))
            if self.topics.status not in statuses:  # another box's: a prefix differing in '/'
                status = statuses[0] if statuses else None
                if not self._warned_node:
                    self._warned_node = True
                    log.warning("mqtt: a Home Assistant config under this box's node id belongs "
                                "to another (status topic %r); left alone: give the boxes "
                                "topic prefixes that differ in letters or digits topic=%s",
                                status, m.topic)  # fmt: skip
                return
            self.publish(m.topic, b"", retain=True)
            self.stale_configs_removed += 1
            log.info("mqtt: a Home Assistant entity no longer configured removed topic=%s",
                     m.topic)  # fmt: skip
            return
        if self._leftover(c, m.topic, bytes(m.payload)):
            return
        if not _positive_count(bytes(m.payload)):
            return
        self.publish(m.topic, b"0", retain=True)
        self.stale_counts_reset += 1
        log.info("mqtt: a count an earlier run left set back to 0 topic=%s", m.topic)

    def _leftover(self, c: paho.Client, topic: str, payload: bytes) -> bool:
        """Whether ``topic`` is a retained topic of a camera this run does not have, which
        an earlier run left (removed here). Only what this program writes is taken for it:
        a camera's ``available`` (online/offline), a count (digits) and a snapshot (JPEG);
        a box whose prefix nests in this one (``<prefix>/front-box/status``) is left alone.
        A camera found so has its snapshots read (one subscription) to be removed too."""
        if self._cameras is None:
            return False
        levels = topic[len(self.topics.prefix) + 1 :].split("/")
        camera = levels[0]
        if camera in self._cameras or not _CAMERA_NAME.fullmatch(camera):
            return False
        if len(levels) == 2 and levels[1] == "available":
            ours = payload in (b"online", b"offline")
        elif len(levels) == 2:
            ours = payload.isdigit() and len(payload) < 10
        else:
            ours = len(levels) == 3 and levels[2] == "snapshot" and payload[:2] == b"\xff\xd8"
        if not ours:
            return False
        self.publish(topic, b"", retain=True)
        self.stale_topics_removed += 1
        if camera not in self._cleared:
            self._cleared.add(camera)
            log.info("mqtt: the retained topics of camera %r, no longer configured, removed",
                     camera)  # fmt: skip
        if len(levels) == 2 and camera not in self._snapshot_subs:
            self._snapshot_subs.add(camera)
            c.subscribe(f"{self.topics.prefix}/{camera}/+/snapshot", qos=0)
        return True

    def resend_retained(self) -> None:
        """Queue every retained message but the snapshots again, after what is queued now."""
        with self._lock:
            for topic, m in self._retained.items():
                self._seq += 1
                if self.topics.is_snapshot(topic):
                    continue  # retained on the broker, which HA reads at its start
                self._pending_retained.pop(topic, None)
                self._pending_retained[topic] = Message(m.topic, m.payload, m.qos, True, self._seq)

    def _idle(self) -> bool:
        with self._lock:
            return not self._queue and not self._pending_retained and not self._inflight

    def _fill(self, client: paho.Client) -> None:
        while True:
            with self._lock:
                if len(self._inflight) >= MAX_INFLIGHT:
                    return
                m = self._next()
                if m is None:
                    return
            if not self._send(client, m):
                return  # the connection is going: loop() will say so

    def _next(self) -> Message | None:
        """What goes out next, under the lock: retained and queued messages in the order they
        were published, but just after a connect ``online`` goes once the configs and counts
        published before it are out, and the snapshots wait for it."""
        if self._online_due:
            retained = next((m for m in self._pending_retained.values()
                             if not self.topics.is_snapshot(m.topic)), None)  # fmt: skip
            if retained is None or retained.seq > self._online_after:
                self._online_due = False
                return Message(self.topics.status, b"online", 1, True)
        else:
            retained = next(iter(self._pending_retained.values()), None)
        queued = self._queue[0] if self._queue else None
        if retained is not None and (queued is None or retained.seq < queued.seq):
            return self._pending_retained.pop(retained.topic)
        if queued is not None:
            return self._queue.popleft()
        return None

    def _send(self, client: paho.Client, m: Message) -> bool:
        info = client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
        with self._lock:
            if info.rc != paho.MQTT_ERR_SUCCESS:
                # Not connected any more: it goes back, and the session ends.
                if m.topic == self.topics.status:
                    pass  # `online`: the next connection sends its own
                elif m.retain:
                    self._pending_retained.setdefault(m.topic, m)
                else:
                    self._queue.appendleft(m)
                return False
            if m.qos == 0:
                self.published += 1
            else:
                self._inflight[info.mid] = m
            return True

    def _goodbye(self, client: paho.Client) -> None:
        info = client.publish(self.topics.status, b"offline", qos=1, retain=True)
        deadline = time.monotonic() + min(1.0, self.cfg.timeout_s)
        while not info.is_published() and time.monotonic() < deadline:
            if client.loop(timeout=LOOP_S) != paho.MQTT_ERR_SUCCESS:
                break
        client.disconnect()
        client.loop(timeout=LOOP_S)
        log.info("mqtt disconnected from %s", self.where)

    def _failed(self, kind: MqttErrorKind, message: str) -> None:
        message = redact_text(message)
        if self.cfg.password:
            message = message.replace(self.cfg.password, "***")
        with self._lock:
            first = self._last_error is None or self._last_error[0] is not kind
            self._last_error = (kind, message)
            self._errors[kind.value] += 1
        if first:
            log.error("mqtt %s: %s; retrying with backoff", kind.value, message)
        else:
            log.warning("mqtt %s again: %s", kind.value, message)

    def stop(self, timeout_s: float) -> bool:
        self._closing.set()
        return super().stop(timeout_s)


def _availability_topics(payload: bytes) -> list[str]:
    """The availability topics of a discovery config, ``availability_topic`` (as before
    2026-12-04) or the topics of its ``availability`` list (empty when it has none or is not
    a JSON object): whose box the config is."""
    try:
        config = json.loads(payload)
    except ValueError:
        return []
    if not isinstance(config, dict):
        return []
    entries = config.get("availability")
    found = [config.get("availability_topic")]
    if isinstance(entries, list):
        found += [e.get("topic") for e in entries if isinstance(e, dict)]
    return [t for t in found if isinstance(t, str)]


_CAMERA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as the config allows (config_values)


def _positive_count(payload: bytes) -> bool:
    return payload.isdigit() and len(payload) < 10 and int(payload) > 0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed ({exc.verify_message}); check tls.ca_file"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _close_tls_sockets(exc: BaseException) -> None:
    """paho leaves the TLS socket of a failed handshake open (it lives in a frame of the
    traceback only); close it here rather than leave it to the garbage collector."""
    tb = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, ssl.SSLSocket):
                value.close()
        tb = tb.tb_next
