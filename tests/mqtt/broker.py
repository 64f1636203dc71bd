"""A real Mosquitto broker for the tests, and a subscriber that records what it receives.

``Broker`` runs Debian's ``/usr/sbin/mosquitto`` on a free loopback port with a password file
and an ACL (``camera`` may write ``camera_app/#`` and ``homeassistant/#`` and read
``camera_app/#``, Home Assistant's birth topic and its own discovery configs; ``watcher`` may
read everything and write what Home Assistant and an earlier run would), no persistence.
``kill()`` is SIGKILL (a crash), ``start()`` again reuses the port; ``set_users()`` rewrites
the password file and ``reload()`` sends SIGHUP. Every wait is bounded.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.prom import free_port

MOSQUITTO = "/usr/sbin/mosquitto"
PASSWD = "/usr/bin/mosquitto_passwd"
USERS = {"camera": "s3cret-Pa55!word", "watcher": "watch-pw"}
ACL = """user camera
topic readwrite camera_app/#
topic write homeassistant/#
topic read homeassistant/status
topic read homeassistant/+/camera_app/+/config

user watcher
topic read #
topic write homeassistant/#
topic write camera_app/#
"""


def _missing(message: str) -> None:
    """Skip on a developer's box; fail under CI, where everything must be installed."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def need_mosquitto() -> None:
    if not (Path(MOSQUITTO).is_file() and shutil.which(PASSWD)):
        _missing("Debian's mosquitto is not installed (.ci/apt-packages.txt)")


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.02)


def make_certs(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    if openssl is None:
        _missing("openssl is not installed")
    f = {n: folder / f"{n}.pem" for n in ("ca", "ca-key", "server", "server-key", "client",
                                           "client-key")}  # fmt: skip

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(f["ca-key"]), "-out", str(f["ca"]))  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "camera")):
        csr = folder / f"{who}.csr"
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
            "-keyout", str(f[f"{who}-key"]), "-out", str(csr))  # fmt: skip
        run("x509", "-req", "-in", str(csr), "-CA", str(f["ca"]), "-CAkey", str(f["ca-key"]),
            "-CAcreateserial", "-days", "2", "-out", str(f[who]), "-extfile", str(ext))  # fmt: skip
    return f


class Broker:
    def __init__(self, workdir: Path, tls: dict[str, Path] | None = None) -> None:
        need_mosquitto()
        self.dir = workdir
        self.port = free_port()
        self.passwd = workdir / "passwd"
        self.acl = workdir / "acl"
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.acl.write_text(ACL)
        self.set_users(USERS)
        # As root, mosquitto would switch to its own user, who cannot read our temp folder.
        me = pwd.getpwuid(os.getuid()).pw_name
        conf = (
            f"user {me}\nlistener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {self.passwd}\nacl_file {self.acl}\npersistence false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        if tls is not None:  # TLS on the listener, and a client certificate required
            conf += (f"cafile {tls['ca']}\ncertfile {tls['server']}\nkeyfile {tls['server-key']}\n"
                     "require_certificate true\n")  # fmt: skip
        self.conf.write_text(conf)

    def set_users(self, users: Mapping[str, str]) -> None:
        self.passwd.write_text("")
        for user, password in users.items():
            subprocess.run([PASSWD, "-b", str(self.passwd), user, password],
                           check=True, capture_output=True, timeout=10)  # fmt: skip
        os.chmod(self.passwd, 0o600)
        os.chmod(self.acl, 0o600)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                         stdout=log, stderr=log)  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """``watcher`` subscribed to ``#`` (QoS 1); reconnects on its own (paho's loop thread)."""

    def __init__(self, port: int, topic: str = "#") -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        c = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watcher-{port}-{time.monotonic_ns()}"
        )
        c.username_pw_set("watcher", USERS["watcher"])
        c.reconnect_delay_set(0.05, 0.2)

        def on_connect(client: paho.Client, _u: object, _f: object, rc: object, _p: object) -> None:
            self.subscribed.clear()
            client.subscribe(topic, qos=1)

        def on_subscribe(*_args: object) -> None:
            self.subscribed.set()

        def on_message(_c: object, _u: object, m: paho.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(Received(m.topic, bytes(m.payload), bool(m.retain)))

        c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
        c.connect("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.client = c
        wait_for(self.subscribed.is_set, 10, "the subscription")

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def received(self) -> list[Received]:
        """Everything so far, in the order it arrived."""
        with self._lock:
            return list(self.messages)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """As ``watcher``: what Home Assistant (its birth message) or an earlier run would."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=10)

    def topics(self) -> set[str]:
        with self._lock:
            return {m.topic for m in self.messages}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
