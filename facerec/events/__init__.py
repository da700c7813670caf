"""Sighting events out of facerec: a bounded queue, one dispatcher thread, the sinks.

The capture side calls ``publish()``, which only appends to a bounded queue (when it is full
the oldest event is dropped and counted): nothing a receiver or a broker does can slow
recognition or the streams. One dispatcher thread per app hands each event to the sinks
(``sink.EventSink``: webhooks, MQTT, ...), each of which does its own slow work off that
thread. Every module of this package that defines an ``EventSink`` subclass is a sink.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import logging
import pkgutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from ..config import current_settings
from ..models import EVENT_NAMES, iso, utcnow
from .sink import EventSink

log = logging.getLogger(__name__)

EVENTS = EVENT_NAMES  # the names are stored with each webhook, so models.py owns them
TEST_EVENT = "webhook.test"


THUMBNAIL_SIDE = 96  # pixels, the longer side of a webhook's inline thumbnail


@dataclass(frozen=True)
class Event:
    """One event: its name, when it happened, and the sighting as the API returns it.

    ``crop()`` is the sighting's face (JPEG), read from the database the first time a sink
    asks for it (on that sink's own thread) and kept for the others.
    """

    name: str
    time: str
    sighting: dict | None = field(default=None)
    loader: Callable[[int], bytes | None] | None = field(default=None, repr=False, compare=False)
    _kept: dict = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {"event": self.name, "time": self.time, "sighting": self.sighting}

    def body(self, thumbnail: bool = False) -> bytes:
        """The JSON body receivers get (the bytes that are signed); with ``thumbnail``, the
        face as a small base64 JPEG beside the sighting (null when there is none)."""
        data = self.as_dict()
        if thumbnail:
            small = self.thumbnail()
            data["thumbnail"] = base64.b64encode(small).decode() if small else None
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def crop(self) -> bytes | None:
        if "crop" not in self._kept:
            sighting_id = (self.sighting or {}).get("id")
            loaded = None
            if self.loader is not None and sighting_id is not None:
                try:
                    loaded = self.loader(sighting_id)
                except Exception:  # a face we cannot read is left out, the event still goes
                    log.exception("could not read the face of sighting %s", sighting_id)
            self._kept["crop"] = loaded
        return self._kept["crop"]

    def thumbnail(self) -> bytes | None:
        if "thumbnail" not in self._kept:
            crop = self.crop()
            from ..faces import smaller_jpeg  # here: OpenCV is not for every command line

            self._kept["thumbnail"] = smaller_jpeg(crop, THUMBNAIL_SIDE) if crop else None
        return self._kept["thumbnail"]


def make_event(name: str, sighting: dict | None, loader=None) -> Event:
    return Event(name, iso(utcnow()), dict(sighting) if sighting is not None else None, loader)


class EventBus:
    """A bounded queue of events and the thread that hands them to the sinks.

    ``publish()`` never blocks: it takes a lock for an append. The dispatcher thread starts
    on the first event and ends after ``idle`` seconds without one (apps made by the test
    suite leave no threads behind).
    """

    def __init__(self, maxsize: int = 1000, idle: float = 30.0, *, base_url: str = "", loader=None):
        self.maxsize = max(1, maxsize)
        self.idle = idle
        self.base_url = base_url.rstrip("/")  # FACEREC_BASE_URL: links in events are absolute
        self.loader = loader  # sighting id -> its face crop (JPEG), for the sinks that send it
        self.sinks: list[EventSink] = []  # deliver(event) on the dispatcher thread
        self.published = 0
        self.dropped = 0
        self.started = {"known": 0, "unknown": 0}  # sighting.started by identity
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def publish(self, name: str, sighting: dict | None) -> Event:
        """Queue an event for every sink; on overflow the oldest queued event is dropped."""
        if sighting and self.base_url and str(sighting.get("crop_url") or "").startswith("/"):
            sighting = {**sighting, "crop_url": self.base_url + sighting["crop_url"]}
        event = make_event(name, sighting, self.loader)
        with self._cond:
            if self._closed:
                return event
            if len(self._queue) >= self.maxsize:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            self.published += 1
            if name == "sighting.started":
                known = bool(sighting and sighting.get("user_id") is not None)
                self.started["known" if known else "unknown"] += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="facerec-events", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return event

    def _run(self):
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._queue or self._closed, self.idle):
                    self._thread = None  # idle: the next publish starts a new thread
                    return
                if not self._queue:
                    self._thread = None
                    return
                event = self._queue.popleft()
            for sink in list(self.sinks):
                try:
                    sink.deliver(event)
                except Exception:
                    log.exception("event sink %s failed on %s", type(sink).__name__, event.name)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is empty (tests, shutdown). True if it emptied in time."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._queue:
                return True
            time.sleep(0.01)
        return not self._queue

    def close(self, timeout: float = 0.0):
        """Stop dispatching; with ``timeout``, wait that long for threads still at work."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and timeout:
            thread.join(timeout)
        for sink in self.sinks:
            sink.close(timeout=timeout)


def sink_classes() -> list[type[EventSink]]:
    """Every sink this package holds: the ``EventSink`` subclass defined in each module."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, EventSink)
                and value.__module__ == module.__name__
                and not inspect.isabstract(value)
            ):
                found.append(value)
    return found


def init_app(app):
    """The app's event bus, fed by its sightings writer, and every sink its settings ask for.

    Runs after the app's other extensions, so that the sightings writer exists to subscribe to.
    Each sink is also ``app.extensions[sink.name]`` (the admin pages and tests reach it there).
    """
    import atexit

    settings = current_settings(app)
    bus = EventBus(settings.event_queue, base_url=settings.base_url, loader=_crop_loader(app))
    for kind in sink_classes():
        sink = kind.from_app(app)
        if sink is not None:
            bus.sinks.append(sink)
            app.extensions[kind.name] = sink
    app.extensions["events"] = bus

    @app.before_request
    def _start_sinks():
        for sink in bus.sinks:
            sink.start()

    if "sightings" in app.extensions:
        # The sightings writer calls us after each commit, on its own thread: queue, return.
        from .. import sightings

        sightings.subscribe(bus.publish, app)
    atexit.register(bus.close)
    return bus


def _crop_loader(app) -> Callable[[int], bytes | None]:
    def load(sighting_id: int) -> bytes | None:
        from sqlalchemy import select

        from ..extensions import db
        from ..models import Sighting

        with app.app_context():
            try:
                return db.session.scalar(select(Sighting.crop).where(Sighting.id == sighting_id))
            finally:
                db.session.remove()

    return load


def bus(app=None) -> EventBus:
    return (app or current_app).extensions["events"]


def sinks(app=None) -> list[EventSink]:
    """The app's sinks (what /readyz and /metrics ask for their checks and figures)."""
    return bus(app).sinks


def publish(name: str, sighting: dict | None, app=None) -> Event:
    """Send an event to every webhook and the MQTT broker, without ever waiting for them."""
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}; one of {', '.join(EVENTS)}")
    return bus(app).publish(name, sighting)


def close(app, timeout: float = 0.0):
    """Stop the app's dispatcher, delivery threads and MQTT client (shutdown, tests)."""
    events = app.extensions.get("events")
    if events is not None:
        events.close(timeout)


__all__ = [
    "EVENTS",
    "TEST_EVENT",
    "Event",
    "EventBus",
    "EventSink",
    "bus",
    "close",
    "init_app",
    "publish",
    "sinks",
]
