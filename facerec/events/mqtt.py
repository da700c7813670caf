"""MQTT: every event on ``facerec/events``, presence per person, Home Assistant discovery.

paho-mqtt's network thread owns the connection and reconnects by itself (1 s doubling to
30 s); ``publish()`` only queues a message, so a broker that is down never blocks the
dispatcher. Presence: a person is ``home`` while one of their sightings is open on any camera
and for ``presence_timeout`` seconds after the last one ended, then ``not_home``. Both the
state and the discovery config are retained, and both are sent again after every (re)connect
(a broker restarted without persistence has forgotten them). After each connect, retained
topics facerec left behind for people (and cameras) that no longer exist, or under an older
naming scheme, are found and cleared (``sweep``). Topic names: ``topics``.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import select

from ..config import current_settings
from ..extensions import db
from ..models import Camera, Sighting, User, gallery_version, iso, utcnow
from . import Event, topics
from .sink import FAIL, PASS, EventSink, check
from .sweep import Sweep
from .topics import EVENTS_TOPIC, HOME, NOT_HOME, STATUS_TOPIC

log = logging.getLogger(__name__)

# How often the people table is checked for deletions and renames (one small query: the
# gallery version, which every change to people moves on, on any server sharing the database).
PEOPLE_CHECK_INTERVAL = 2.0


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` (1883) or ``mqtts://...`` (TLS, 8883)."""
    parts = urlsplit((url or "").strip())
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError("FACEREC_MQTT_URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError("FACEREC_MQTT_URL has no host name")
    try:
        port = parts.port
    except ValueError:
        raise MqttUrlError("FACEREC_MQTT_URL has a port that is not a number") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if scheme == "mqtts" else 1883),
        tls=scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass
class Presence:
    user_id: int
    key: str  # User.external_key: the person's topics and Home Assistant ids
    name: str
    open: set = field(default_factory=set)  # ids of this person's sightings still in view
    last_seen: float = 0.0  # monotonic
    state: str = NOT_HOME
    camera: str | None = None
    seen_at: str | None = None


class MqttPublisher(EventSink):
    """The MQTT sink of the event bus."""

    name = "mqtt"

    @classmethod
    def from_app(cls, app) -> MqttPublisher | None:
        """Only with ``FACEREC_MQTT_URL`` set (a bad URL stops the app with the reason)."""
        settings = current_settings(app)
        if not settings.mqtt_url:
            return None
        return cls(
            app,
            settings.mqtt_url,
            presence_timeout=settings.presence_timeout,
            discovery_prefix=settings.mqtt_discovery_prefix,
        )

    def __init__(self, app, url: str, *, presence_timeout=300.0, discovery_prefix="homeassistant"):
        self.app = app
        self.address = parse_url(url)
        self.presence_timeout = presence_timeout
        self.discovery_prefix = discovery_prefix.strip("/") or "homeassistant"
        self.connected = False
        self.sent = 0
        self.failed = 0
        self._people: dict[int, Presence] = {}
        self._cameras: set[str] = set()  # cameras announced to Home Assistant
        # camera -> the sighting whose face is retained as its last face: cleared when that
        # sighting is deleted (its person forgotten, facerec.forget), checked as people change.
        self._camera_faces: dict[str, int] = {}
        self._sweep: Sweep | None = None  # after a connect, until its retained topics are read
        self._people_version: int | None = None  # the gallery version _people follows
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._started = False
        self.client = self._make_client()

    def _make_client(self):
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"facerec-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv311,
        )
        address = self.address
        if address.username:
            client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.will_set(STATUS_TOPIC, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self):
        """Connect in the background; paho keeps retrying until the broker answers.

        Called on the app's first request or event, not when the app is made: a ``flask``
        command has nothing to publish, and the tables exist by then.
        """
        with self._lock:
            if self._started:
                return
            self._started = True
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        self._timer = threading.Thread(
            target=self._expire_loop, name="facerec-presence", daemon=True
        )
        self._timer.start()

    def close(self, timeout: float = 0.0):
        self._stop.set()
        if not self._started:
            return
        if timeout:
            self._timer.join(timeout)  # its last expiry may be writing to the database
        try:
            if self.connected:
                self._publish(STATUS_TOPIC, "offline", retain=True)
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    # ---- connection ----------------------------------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason_code)
            return
        self.connected = True
        log.info("MQTT connected to %s:%s", self.address.host, self.address.port)
        self._publish(STATUS_TOPIC, "online", retain=True)
        self.follow_people(force=True)  # again: a broker restarted without persistence forgot
        self.follow_cameras(force=True)
        self._start_sweep(client)

    # ---- the sweep (sweep.py): retained topics nobody should find any more -------------

    def _start_sweep(self, client):
        sweep = Sweep(self.discovery_prefix)
        if sweep.begin(client, mqtt.MQTT_ERR_SUCCESS):
            self._sweep = sweep

    def _on_subscribe(self, _client, _userdata, mid, _reason_codes, _properties):
        if self._sweep is not None:
            self._sweep.acknowledged(mid)

    def _on_message(self, _client, _userdata, message):
        if self._sweep is not None:
            self._sweep.heard(message)

    def _finish_sweep(self):
        """Clear every retained topic found that belongs to nobody now (expire loop)."""
        sweep = self._sweep
        if sweep is None or not sweep.due:
            return
        self._sweep = None
        keep = self._kept_topics()
        if keep is None:
            return  # the database did not answer: clear nothing rather than too much
        stale = sweep.stale(keep)
        for topic in stale:
            self._publish(topic, "", retain=True)
        if stale:
            log.info("MQTT: cleared %d retained topics left by gone people", len(stale))
        self.client.unsubscribe(sweep.filters)

    def _kept_topics(self) -> set[str] | None:
        """Every person's and every camera's topics (cameras of all servers sharing the
        database: they may share the broker too)."""
        try:
            with self.app.app_context():
                try:
                    keys = db.session.scalars(select(User.external_key)).all()
                    cameras = set(db.session.scalars(select(Camera.name)).all())
                finally:
                    db.session.remove()
        except Exception:
            log.exception("MQTT: could not read the people")
            return None
        kept = set()
        for key in keys:
            kept.update(topics.person_topics(key))
            kept.update(topics.discovery_topics(self.discovery_prefix, key))
        for name in cameras | self._own_cameras() | self._cameras:
            kept.update(topics.camera_topics(self.discovery_prefix, name))
        return kept

    # ---- cameras --------------------------------------------------------------------------

    def _own_cameras(self) -> set[str]:
        """The names of the cameras this server runs ("main" when none is stored)."""
        from .. import camera

        with self.app.app_context():
            return {service.camera or "main" for service in camera.services()}

    def follow_cameras(self, force: bool = False):
        """An image entity ("last face at ...") per camera of this server; a camera removed
        takes its entity and its retained face with it."""
        try:
            names = self._own_cameras()
        except Exception:
            log.exception("MQTT: could not read the cameras")
            return
        with self._lock:
            new = names - self._cameras if not force else names
            gone = self._cameras - names
            self._cameras = set(names)
        for name in sorted(gone):
            for topic in topics.camera_topics(self.discovery_prefix, name):
                self._publish(topic, "", retain=True)
        for name in sorted(new):
            self._publish(
                topics.camera_image_topic(self.discovery_prefix, name),
                topics.camera_image_config(name),
                retain=True,
            )

    # ---- people ---------------------------------------------------------------------------

    def follow_people(self, force: bool = False):
        """Keep the retained topics in step with the people table, whoever changed it.

        A new person is announced, a renamed one announced again under the new name (same
        topics: they are made from the person's key) and a deleted one removed from Home
        Assistant (an empty retained discovery config removes the entity) with their retained
        state cleared. ``force``: announce all.
        """
        try:
            with self.app.app_context():
                try:
                    version = gallery_version(db.session)
                    if version == self._people_version and not force:
                        return
                    rows = db.session.execute(select(User.id, User.external_key, User.name))
                    people = {user_id: (key, name) for user_id, key, name in rows}
                    with self._lock:
                        shown = dict(self._camera_faces)
                    present = set(
                        db.session.scalars(
                            select(Sighting.id).where(Sighting.id.in_(sorted(shown.values())))
                        )
                    ) if shown else set()  # fmt: skip
                    faces_gone = [(c, i) for c, i in shown.items() if i not in present]
                finally:
                    db.session.remove()
        except Exception:
            log.exception("MQTT: could not read the people")
            return
        gone, announce = [], []
        with self._lock:
            for user_id in list(self._people):
                if user_id not in people or self._people[user_id].key != people[user_id][0]:
                    gone.append(self._people.pop(user_id))
            for user_id, (key, name) in people.items():
                person = self._people.get(user_id)
                if person is None:
                    person = self._people[user_id] = Presence(user_id, key, name)
                    announce.append(person)
                elif person.name != name:
                    person.name = name
                    announce.append(person)
                elif force:
                    announce.append(person)
            self._people_version = version
        for person in gone:
            self._forget(person)
        for camera, sighting_id in faces_gone:
            # The camera's last face was a deleted sighting's (a person forgotten): not kept,
            # unless a newer face took its place meanwhile.
            with self._lock:
                if self._camera_faces.get(camera) != sighting_id:
                    continue
                del self._camera_faces[camera]
            self._publish(topics.camera_face_topic(camera), "", retain=True)
        for person in announce:
            self._announce(person)
            self._send_state(person)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        if self.connected and not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)
        self.connected = False

    def _publish(self, topic: str, payload, *, retain=False, qos=1):
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        try:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, RuntimeError) as exc:
            self.failed += 1
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            return
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            # NO_CONN: queued by paho and sent after the reconnect.
            self.sent += 1
        else:
            self.failed += 1
            log.warning("MQTT publish to %s failed: %s", topic, mqtt.error_string(info.rc))

    # ---- the sink ------------------------------------------------------------------------

    def deliver(self, event: Event):
        self.start()
        self._publish(EVENTS_TOPIC, event.as_dict())
        sighting = event.sighting or {}
        sighting_id = sighting.get("id")
        user_id = sighting.get("user_id")
        now = time.monotonic()
        changed = []
        with self._lock:
            # An identity change moves the sighting from one person to another.
            for person in self._people.values():
                if sighting_id in person.open and person.user_id != user_id:
                    person.open.discard(sighting_id)
                    person.last_seen = now
            person = self._people.get(user_id) if user_id is not None else None
        if user_id is not None and person is None:
            # Enrolled since the last look at the table: read them now (their key).
            self.follow_people()
        with self._lock:
            person = self._people.get(user_id) if user_id is not None else None
            if person is not None:
                if sighting.get("name"):
                    person.name = sighting["name"]
                if event.name == "sighting.ended":
                    person.open.discard(sighting_id)
                else:
                    person.open.add(sighting_id)
                person.last_seen = now
                person.camera = sighting.get("camera")
                person.seen_at = event.time or iso(utcnow())
                person.state = HOME
                changed.append(person)
        for person in changed:
            self._send_state(person)
        self._send_face(event, changed[0] if changed else None)

    def _send_face(self, event: Event, person: Presence | None):
        """The face of a sighting, retained: the camera's last face, and the person's."""
        sighting = event.sighting or {}
        if not sighting.get("crop_url"):
            return
        crop = event.crop()  # one row read by its key; the other sinks reuse it
        if not crop:
            return
        camera = sighting.get("camera") or "main"
        if camera not in self._cameras:
            self.follow_cameras()
        self._publish(topics.camera_face_topic(camera), crop, retain=True)
        if sighting.get("id") is not None:
            with self._lock:
                self._camera_faces[camera] = sighting["id"]
        if person is not None:
            self._publish(topics.person_topic(person.key, "face"), crop, retain=True)

    def health(self) -> dict[str, list[dict]]:
        """The broker named by FACEREC_MQTT_URL is part of the job: not connected is a fail."""
        if self.connected:
            return {"mqtt": [check(PASS, "system", observed_value="connected")]}
        reason = "the broker is not reachable"
        return {"mqtt": [check(FAIL, "system", observed_value="disconnected", output=reason)]}

    def metrics(self):
        messages = CounterMetricFamily(
            "facerec_mqtt_messages", "MQTT messages by result.", labels=["result"]
        )
        messages.add_metric(["success"], self.sent)
        messages.add_metric(["failure"], self.failed)
        yield messages
        connected = GaugeMetricFamily(
            "facerec_mqtt_connected", "1 while connected to the MQTT broker."
        )
        connected.add_metric([], 1 if self.connected else 0)
        yield connected

    def _expire_loop(self):
        tick = min(1.0, max(0.05, self.presence_timeout / 4))
        checked = time.monotonic()
        while not self._stop.wait(tick):
            now = time.monotonic()
            if self.connected and now - checked >= PEOPLE_CHECK_INTERVAL:
                checked = now
                self.follow_people()
                self.follow_cameras()
            if self.connected:
                self._finish_sweep()
            expired = []
            with self._lock:
                for person in self._people.values():
                    if (
                        person.state == HOME
                        and not person.open
                        and now - person.last_seen >= self.presence_timeout
                    ):
                        person.state = NOT_HOME
                        expired.append(person)
            for person in expired:
                self._send_state(person)

    # ---- topics --------------------------------------------------------------------------

    def _send_state(self, person: Presence):
        self._publish(topics.person_topic(person.key, "state"), person.state, retain=True)
        self._publish(
            topics.person_topic(person.key, "attributes"),
            {
                "user_id": person.user_id,
                "name": person.name,
                "camera": person.camera,
                "last_seen": person.seen_at,
            },
            retain=True,
        )

    def _forget(self, person: Presence):
        """A deleted person: empty retained configs remove their entities from Home
        Assistant, and empty retained payloads make the broker forget their topics."""
        for topic in topics.discovery_topics(self.discovery_prefix, person.key):
            self._publish(topic, "", retain=True)
        for topic in topics.person_topics(person.key):
            self._publish(topic, "", retain=True)

    def _announce(self, person: Presence):
        """Home Assistant discovery, no YAML needed: per person a device_tracker (home or
        not) and a "last seen" timestamp sensor (the camera among its attributes)."""
        prefix = self.discovery_prefix
        self._publish(
            topics.tracker_topic(prefix, person.key),
            topics.tracker_config(person.key, person.name),
            retain=True,
        )
        self._publish(
            topics.last_seen_topic(prefix, person.key),
            topics.last_seen_config(person.key, person.name),
            retain=True,
        )
