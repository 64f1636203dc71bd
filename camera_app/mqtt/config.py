"""The top-level ``mqtt:`` section.

    mqtt:
      host: broker.lan
      port: 8883
      username: camera-app
      password: ${credential:mqtt-password}     # or ${MQTT_PASSWORD}; never written inline
      topic_prefix: camera_app
      client_id: front-box                      # default: camera-app-<host name>
      tls: {ca_file: /etc/camera-app/ca.pem, cert_file: ..., key_file: ...}
      home_assistant: {enabled: true, labels: [person, car]}

The password is kept out of ``repr`` and of every message. The TLS files are loaded when the
config is read (``tls_context``), so a missing or unusable certificate is a config error
naming the key, not a crash of the MQTT thread once the service runs.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from dataclasses import dataclass, field

from camera_app._checks import boolean, integer, matching, number, optional, string
from camera_app._yaml import Node, checked, listed, nested, read_with, section
from camera_app.mqtt.topics import label_clash

_topic_prefix = matching(
    r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*",
    "a topic prefix of letters, digits, '_', '-' and '/' (no + or #)",
)
_host = matching(r"[^\s/@]+", "a host name or address (no scheme, no user)")


def default_client_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "box"
    return f"camera-app-{host}"


@dataclass(frozen=True)
class TlsConfig:
    ca_file: str | None = field(default=None, metadata=checked(optional(string("a path"))))
    cert_file: str | None = field(default=None, metadata=checked(optional(string("a path"))))
    key_file: str | None = field(default=None, metadata=checked(optional(string("a path"))))


@dataclass(frozen=True)
class HomeAssistantConfig:
    enabled: bool = field(default=False, metadata=checked(boolean))
    discovery_prefix: str = field(default="homeassistant", metadata=checked(_topic_prefix))
    # the labels each camera gets "<label> detected" / count / snapshot entities for
    labels: tuple[str, ...] = field(
        default=("person",), metadata=read_with(listed(string("a label"), min_items=1))
    )


@dataclass(frozen=True)
class MqttConfig:
    host: str = field(default="", metadata=checked(_host))
    port: int = field(default=1883, metadata=checked(integer(1, 65535)))
    username: str | None = field(default=None, metadata=checked(optional(string())))
    password: str | None = field(
        default=None, repr=False, metadata=checked(optional(string("a password")))
    )
    topic_prefix: str = field(default="camera_app", metadata=checked(_topic_prefix))
    client_id: str = field(default_factory=default_client_id, metadata=checked(string()))
    keepalive_s: int = field(default=30, metadata=checked(integer(5, 3600)))
    # events waiting while the broker is away; beyond this the oldest are dropped (counted)
    queue_size: int = field(default=1000, metadata=checked(integer(1, 1_000_000)))
    timeout_s: float = field(default=5.0, metadata=checked(number(0, 60, lo_open=True)))
    backoff_initial_s: float = field(default=1.0, metadata=checked(number(0, lo_open=True)))
    backoff_max_s: float = field(default=60.0, metadata=checked(number(0, lo_open=True)))
    tls: TlsConfig | None = field(
        default=None, metadata=read_with(lambda n: section(n, TlsConfig)[0])
    )
    home_assistant: HomeAssistantConfig = field(
        default_factory=HomeAssistantConfig, metadata=nested(HomeAssistantConfig)
    )


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """The TLS context of the broker connection, as paho's ``tls_set`` makes it (the broker's
    certificate and host name verified); ``ValueError`` naming the key of a file that is
    missing or holds no usable certificate or key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    for key, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file),
                      ("key_file", tls.key_file)):  # fmt: skip
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{key} {path}: no such file")
    try:
        if tls.cert_file is not None:
            context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cert_file/key_file {tls.cert_file}: {_ssl_reason(exc)}") from None
    try:
        if tls.ca_file is not None:
            context.load_verify_locations(tls.ca_file)
        else:
            context.load_default_certs()
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"ca_file {tls.ca_file}: {_ssl_reason(exc)}") from None
    return context


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"not a usable certificate or key ({exc.reason or type(exc).__name__})"
    return getattr(exc, "strerror", None) or type(exc).__name__


def read_mqtt(node: Node) -> MqttConfig | None:
    if node.is_null:
        return None
    cfg, children = section(node, MqttConfig)
    if not cfg.host:
        raise node.error("expected 'host:' (the broker's host name or address)")
    if cfg.password is not None and cfg.username is None:
        raise children["password"].error("a password needs a username")
    if cfg.backoff_max_s < cfg.backoff_initial_s:
        raise children.get("backoff_max_s", node).error("expected a number >= backoff_initial_s")
    tls = cfg.tls
    if tls is not None and (tls.cert_file is None) != (tls.key_file is None):
        raise children["tls"].error("cert_file and key_file go together")
    clash = label_clash(list(cfg.home_assistant.labels))
    if clash is not None:
        raise children["home_assistant"].error(f"labels: {clash}; leave one out")
    if tls is not None:
        try:
            tls_context(tls)
        except ValueError as exc:
            raise children["tls"].error(str(exc)) from None
    return cfg
