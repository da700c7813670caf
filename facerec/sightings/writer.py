"""The sightings writer: one database row per track, written off the capture thread.

The camera service tells its listeners what happened to tracks on every published frame
(``camera.tracks.TrackEvent``). The ``SightingWriter`` listener only puts those events on a
bounded queue: the capture thread never waits for the database. When the queue is full the
event is dropped and counted (``dropped``), never queued without bound. A writer thread with
its own app context inserts the row when a track starts (so an open sighting shows while the
person is in view), updates it when its identity changes and when it ends, and after each
commit tells the subscribers (``subscribe()``): ``callback(event, sighting_dict)`` with
``event`` one of ``sighting.started``, ``sighting.updated``, ``sighting.ended``.

When the database cannot take a write (it is down, unreachable or locked), the event is not
lost: it goes to a backlog (``backlog.Backlog``: memory, then a spool file), every later
event goes after it to keep their order, and the writer tries again every RETRY seconds
until the database answers; then it writes them all, oldest first, and the subscribers
(webhooks, MQTT) hear of them, late but complete. ``pending`` counts them (in /metrics).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from .. import shapes
from ..extensions import db
from ..idle_thread import IdleThread
from ..models import Sighting
from .backlog import Backlog

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
IDLE_EXIT = 30.0  # seconds without work after which the writer thread ends (restarts on demand)
RETRY = 2.0  # seconds between attempts to write the backlog while the database is away
WRITTEN, FAILED, UNAVAILABLE = "written", "failed", "unavailable"
ERASED = "erased"  # a track whose row was erased (its person deleted): nothing written
_TIME_TO_RETRY = object()  # what the writer thread gets when no event came for RETRY s

Subscriber = Callable[[str, dict], None]


def _when(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class SightingWriter:
    """The app's sightings writer: a bounded queue and one thread (see the module doc)."""

    def __init__(self, app, maxsize: int = QUEUE_SIZE, spool=None):
        self.app = app
        self.backlog = Backlog(spool)  # events waiting for the database to come back
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.subscribers: list[Subscriber] = []
        self.dropped = 0  # events lost because the queue was full
        self.failed = 0  # events the database refused
        self.written = 0
        self._open: dict[tuple[str, int], int] = {}  # (camera, track id) -> sighting id
        # Tracks whose row was erased (their person deleted while in view, facerec.forget):
        # nothing more of them is written, under any name, until they end.
        self._erased: set[tuple[str, int]] = set()
        self.worker = IdleThread(self._run, "facerec-sightings")
        if len(self.backlog):
            self.worker.start()  # a stopped server's events, written as soon as possible

    @property
    def pending(self) -> int:
        """Track events not written yet: queued, or waiting for the database."""
        return self.queue.qsize() + len(self.backlog)

    # ---- capture side --------------------------------------------------------------------

    def listener_for(self, service) -> Callable:
        """Attach to a camera service: its track events become sightings under its name."""
        if self._on_frame not in service.listeners:
            service.listeners.append(self._on_frame)
        return self._on_frame

    def _on_frame(self, info):
        for event in info.events:
            self.put(info.camera, event)

    def put(self, camera: str, event) -> bool:
        """Queue one track event; never blocks. False (and counted) if the queue is full."""
        try:
            self.queue.put_nowait((camera, event))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("sightings queue full: %d track events dropped", self.dropped)
            return False
        self.worker.start()
        return True

    # ---- writer thread -------------------------------------------------------------------

    def _run(self):
        with self.app.app_context():
            try:
                while True:
                    waiting = len(self.backlog) > 0
                    try:
                        item = self.queue.get(timeout=RETRY if waiting else IDLE_EXIT)
                    except queue.Empty:
                        item = _TIME_TO_RETRY
                    try:
                        if item is None:
                            self._drain()
                            self.backlog.spill()  # what is left waits on disk for the next start
                            return
                        if item is not _TIME_TO_RETRY:
                            self._take(item)
                        if waiting or item is _TIME_TO_RETRY:
                            self._drain()
                        idle = item is _TIME_TO_RETRY and not len(self.backlog)
                        if idle and self.worker.end_if(self.queue.empty):
                            return
                    except Exception:  # the thread must outlive any one bad event
                        self.failed += 1
                        log.exception("could not record a sighting event")
                    finally:
                        if item is not _TIME_TO_RETRY:
                            self.queue.task_done()
            finally:
                db.session.remove()

    def _take(self, item):
        """Write one event, or keep it in the backlog (after those already there)."""
        if len(self.backlog):
            self.backlog.append(item)
        elif self._write(*item) == UNAVAILABLE:
            log.warning("the database is unavailable: sightings are kept until it is back")
            self.backlog.append(item)

    def _drain(self):
        """Write the backlog, oldest first, until it is empty or the database fails again."""
        while (item := self.backlog.peek()) is not None:
            if self._write(*item) == UNAVAILABLE:
                return
            self.backlog.pop()

    def _write(self, camera: str, event) -> str:
        track = event.track
        key = (camera, track.track_id)
        if key in self._erased:
            if event.kind == "ended":
                self._erased.discard(key)
            return ERASED
        try:
            row = self._row(key, camera, track)
            if row is None:
                return self._erase(key, event)
            self._fill(row, track)
            try:
                db.session.commit()
            except IntegrityError:
                # The person was deleted while in view (their id is gone): the track is
                # forgotten, never written again as an unknown face (it is theirs).
                db.session.rollback()
                return self._erase(key, event)
        except (OperationalError, InterfaceError) as exc:
            # Down, unreachable, restarting, locked: it will answer again; keep the event.
            db.session.rollback()
            log.info("sighting of track %s kept: %s", track.track_id, type(exc.orig).__name__)
            return UNAVAILABLE
        except DBAPIError as exc:
            db.session.rollback()
            if exc.connection_invalidated:
                return UNAVAILABLE
            self.failed += 1
            log.exception("could not record a sighting of track %s", track.track_id)
            return FAILED
        except SQLAlchemyError:
            db.session.rollback()
            self.failed += 1
            log.exception("could not record a sighting of track %s", track.track_id)
            return FAILED
        if event.kind == "ended":
            self._open.pop(key, None)
        else:
            self._open[key] = row.id
        self.written += 1
        self._notify(f"sighting.{event.kind}", shapes.sighting(row))
        return WRITTEN

    def _erase(self, key, event) -> str:
        self._open.pop(key, None)
        if event.kind != "ended":
            self._erased.add(key)
        log.info("sightings: track %s of camera %s was erased; not written again", key[1], key[0])
        return ERASED

    def _row(self, key, camera: str, track) -> Sighting | None:
        """The track's row: new for a new track (or one whose start was dropped); None when
        its row was erased meanwhile (its person deleted: facerec.forget)."""
        row_id = self._open.get(key)
        if row_id is None:
            row = Sighting(camera=camera)
            db.session.add(row)
            return row
        return db.session.get(Sighting, row_id)

    @staticmethod
    def _fill(row: Sighting, track):
        if not row.labelled_by_hand:  # a person said who this is: the track does not undo it
            row.user_id = track.user_id
            row.name = track.name
        row.started_at = _when(track.started)
        row.ended_at = _when(track.ended)
        row.frames = track.frames
        row.distance = track.distance
        if track.encoding is not None:
            row.vector = track.encoding
        if track.crop:
            row.crop = track.crop
        if track.quality is not None:
            row.quality = track.quality

    def _notify(self, event: str, sighting: dict):
        for callback in list(self.subscribers):
            try:
                callback(event, sighting)
            except Exception:  # one subscriber's bug must not stop the others or the writer
                log.exception("sighting subscriber %r failed", callback)

    # ---- control -------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event is written (tests, shutdown). True if it was."""
        deadline = time.monotonic() + timeout
        while (self.queue.unfinished_tasks or len(self.backlog)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return not (self.queue.unfinished_tasks or len(self.backlog))

    def close(self, timeout: float = 5.0):
        """Write what is queued, then end the thread."""
        thread = self.worker.running()
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self.queue.put(None, timeout=timeout)
            thread.join(timeout)
