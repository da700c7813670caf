"""A real MQTT broker for tests (Debian's mosquitto on a free port) and a client that records
what it hears."""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from .servers import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """mosquitto on a free loopback port with a throwaway config; stop() and start() again."""

    def __init__(self, directory):
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.log = directory / "mosquitto.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log.read_text()}")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Subscriber:
    """A paho client of our own that records every message of ``topics``."""

    def __init__(self, port, topics=("#",)):
        self.messages: list[tuple[str, str, bool]] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="facerec-test-sub")
        self.client.on_message = self._on_message
        subscribed = queue.Queue()
        self.client.on_connect = lambda c, *_a: [c.subscribe(t, qos=1) for t in topics] and None
        self.client.on_subscribe = lambda *_a: subscribed.put(True)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for _ in topics:
            subscribed.get(timeout=10)

    def _on_message(self, _client, _userdata, msg):
        with self._cond:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))
            self._cond.notify_all()

    def on(self, topic, payload=None) -> list:
        return [m for m in self.messages if m[0] == topic and payload in (None, m[1])]

    def wait(self, topic, payload=None, timeout=10.0):
        """The first message on ``topic`` (with ``payload`` if given) within ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.on(topic, payload), timeout):
                raise AssertionError(f"no message on {topic} ({payload!r}) within {timeout} s")
            return self.on(topic, payload)[0]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def wait_connected(app):
    """Make ``app`` connect to its broker (on its first request) and wait until it has."""
    app.test_client().get("/readyz")
    publisher = app.extensions["mqtt"]
    deadline = time.monotonic() + 10
    while not publisher.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert publisher.connected, "facerec did not connect to the broker"
