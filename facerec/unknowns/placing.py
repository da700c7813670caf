"""Unknown sightings placed in groups as they end: on a queue and a thread of their own.

The sightings writer tells its subscribers of every committed sighting, one after the other
on its thread. For an unknown sighting that ended, ``Placer.on_sighting`` only queues its id,
so the event bus (webhooks, MQTT) hears of it at once and never waits for grouping. The
placer's thread then places each queued sighting with a ``GroupIndex``: every group's
centroid kept in memory (``facerec.grouping.Groups``), as the search index keeps every
encoding, so placing a face costs O(groups) instead of a read of every unknown face.

The index stays right without rereading: any change to which sightings make up a group (an
assignment, a merge, retention, another server placing a face) moves
``GroupingState.version`` on (``models.bump_grouping_version``, hooked on every flush and
bulk statement). Placing takes the next version first, which also serialises servers
sharing one database; when it is not the one after the version the index was built at,
someone else changed the groups, and the index is built again from the database.

Sightings missed by the queue (the server stopped, the queue overflowed, the gallery
changed since) are caught by ``sweep()``: on the first request a server answers, after an
overflow, and after the gallery changed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from sqlalchemy import select, update

from .. import camera, faces, gallery, thresholds
from ..config import current_settings
from ..extensions import db
from ..grouping import Groups
from ..idle_thread import IdleThread
from ..models import Sighting, UnknownGroup, bump_grouping_version
from .looking import look_again, name_if_known

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
IDLE_EXIT = 30.0  # seconds without work after which the thread ends (restarts on demand)
BATCH = 200  # queued sightings placed in one transaction


def join_distance(app=None) -> float:
    """How close a face must be to a group's centroid to join it (FACEREC_GROUP_DISTANCE, or a
    fraction of the recognition tolerance)."""
    return current_settings(app).group_join_distance()


def unknown(stmt):
    """Only sightings nobody is named in and that have a face encoding."""
    return stmt.where(Sighting.user_id.is_(None), Sighting.encoding.is_not(None))


class GroupIndex:
    """Every unknown group's centroid, in memory; see the module doc for how it stays right."""

    def __init__(self):
        self.groups: Groups | None = None
        self.version: int | None = None  # the grouping version the groups are right for
        self.loads = 0  # times the groups were read from the database (tests, metrics)

    def invalidate(self):
        self.version = None

    def begin(self, join: float) -> Groups:
        """Start placing: take the next grouping version; rebuild if anyone else took one."""
        taken = bump_grouping_version(db.session)
        stale = taken is None or self.version is None or taken != self.version + 1
        if stale or self.groups is None or self.groups.join != join:
            self.groups = self._load(join)
        self.version = taken
        return self.groups

    def _load(self, join: float) -> Groups:
        """Every group with unknown members (dismissed ones too: a dismissed visitor who
        returns stays dismissed)."""
        members = defaultdict(list)
        rows = db.session.execute(
            unknown(select(Sighting.group_id, Sighting.encoding)).where(
                Sighting.group_id.is_not(None)
            )
        )
        for group_id, encoding in rows:
            members[group_id].append(np.frombuffer(encoding, dtype="<f8"))
        groups = Groups(join)
        for group_id in sorted(members):
            groups.load(group_id, members[group_id])
        for group_id in db.session.scalars(
            select(UnknownGroup.id).where(UnknownGroup.kept_apart.is_(True))
        ):
            groups.keep_apart(group_id)
        self.loads += 1
        return groups


def _new_group() -> int:
    row = UnknownGroup()
    db.session.add(row)
    db.session.flush()
    return row.id


def _merge(into: int, merged: list[int]):
    """Move the sightings of ``merged`` groups to group ``into`` and delete those groups."""
    survivor = db.session.get(UnknownGroup, into)
    for group_id in merged:
        gone = db.session.get(UnknownGroup, group_id)
        if gone is None:
            continue
        # A visitor that is visible in either group stays visible.
        if gone.dismissed_at is None:
            survivor.dismissed_at = None
        db.session.execute(
            update(Sighting).where(Sighting.group_id == group_id).values(group_id=into)
        )
        db.session.delete(gone)


def placeable(sighting: Sighting) -> bool:
    """An ended unknown sighting in no group yet, whose face is good enough to group: a face
    too small, blurred or turned away stays in the history but never seeds or joins a group
    (``faces.MEMBER_GATE``)."""
    return (
        sighting.user_id is None
        and sighting.encoding is not None
        and sighting.group_id is None
        and sighting.ended_at is not None
        and faces.MEMBER_GATE.passes(sighting.quality)
    )


class Placer:
    """The app's unknown-sighting placer: a bounded queue of sighting ids and one thread."""

    def __init__(self, app, maxsize: int = QUEUE_SIZE):
        self.app = app
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.index = GroupIndex()
        self.placed = 0
        self.dropped = 0  # ids lost because the queue was full (a sweep finds them)
        self.failed = 0
        self._sweep = threading.Event()
        self._look = threading.Event()  # the gallery changed: look at the unknowns again
        self.looked = 0
        self._swept_once = False
        self._lock = threading.Lock()  # one placing at a time (the thread or a request)
        self.worker = IdleThread(self._run, "facerec-unknowns")
        self._busy = False

    # ---- producers (never block) ---------------------------------------------------------

    def on_sighting(self, event: str, sighting: dict):
        """The sightings subscription: queue an unknown sighting that ended, nothing more."""
        if event != "sighting.ended" or sighting.get("user_id") is not None:
            return
        try:
            self.queue.put_nowait(sighting["id"])
        except queue.Full:
            self.dropped += 1
            self._sweep.set()
        self.worker.start()

    def request_sweep(self):
        """Look at every ungrouped unknown sighting again, on the thread (soon, not now)."""
        self._sweep.set()
        with contextlib.suppress(queue.Full):  # full: it is awake and busy anyway
            self.queue.put_nowait(None)  # wakes the thread
        self.worker.start()

    def request_look_again(self):
        """The gallery changed: look at the unknowns again, on the thread (``looking``)."""
        self._look.set()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(None)
        self.worker.start()

    def sweep_once(self):
        """The first request a server answers: catch up with what ended while it was down."""
        if not self._swept_once:
            self._swept_once = True
            self._look.set()
            self.request_sweep()

    # ---- the thread ----------------------------------------------------------------------

    def _run(self):
        with self.app.app_context():
            try:
                while True:
                    try:
                        first = self.queue.get(timeout=IDLE_EXIT)
                    except queue.Empty:
                        if self.worker.end_if(
                            lambda: (
                                self.queue.empty()
                                and not (self._sweep.is_set() or self._look.is_set())
                            )
                        ):
                            return
                        continue
                    if first == "stop":
                        self.queue.task_done()
                        return
                    batch = [first]
                    while len(batch) < BATCH:
                        try:
                            batch.append(self.queue.get_nowait())
                        except queue.Empty:
                            break
                    self._busy = True
                    try:
                        self._work([i for i in batch if isinstance(i, int)])
                    finally:
                        self._busy = False
                        for _ in batch:
                            self.queue.task_done()
                    # close() asked while this batch was gathered (behind a wake-up): the
                    # batch held all that came before it, so the thread ends now, rather
                    # than after IDLE_EXIT (close() stopped waiting long before that).
                    if "stop" in batch:
                        return
            finally:
                db.session.remove()

    def _work(self, ids: list[int]):
        try:
            if ids:
                self.place(ids)
            if self._sweep.is_set():
                self._sweep.clear()
                self.sweep()
            if self._look.is_set():
                self._look.clear()
                self.look_again()
        except Exception:  # the thread must outlive any one bad batch
            self.failed += 1
            log.exception("could not group unknown sightings")

    # ---- placing (the thread, or a request that needs the answer at once) -----------------

    def place(self, sighting_ids: Iterable[int]) -> int:
        """Place these sightings (those still placeable) and commit; returns how many.

        Call it with no transaction open (after the caller's commit): it takes the grouping
        version first, so it waits for no lock while holding the index.
        """
        with self._lock:
            try:
                groups = self.index.begin(join_distance(self.app))
                wanted = sorted(set(sighting_ids))
                rows = db.session.scalars(
                    select(Sighting).where(Sighting.id.in_(wanted)).order_by(Sighting.id)
                ).all()
                placed = self._place(rows, groups)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                self.index.invalidate()  # the groups in memory may hold what was undone
                raise
        self.placed += placed
        return placed

    def sweep(self) -> int:
        """Place every ungrouped, ended unknown sighting, oldest first; returns how many."""
        self._swept_once = True
        pending = db.session.scalars(
            unknown(select(Sighting.id))
            .where(
                Sighting.group_id.is_(None),
                Sighting.ended_at.is_not(None),
                Sighting.passes(faces.MEMBER_GATE),
            )
            .order_by(Sighting.started_at, Sighting.id)
        ).all()
        db.session.commit()  # end the read: place() starts its own transaction
        placed = 0
        for start in range(0, len(pending), BATCH):
            placed += self.place(pending[start : start + BATCH])
        return placed

    def _place(self, rows: list[Sighting], groups: Groups) -> int:
        """A face that the gallery now names (someone was enrolled since) is left out:
        grouping never puts a known person's face in an unknown group. Each face is judged
        with the tolerance of the camera that saw it, as that camera named it."""
        matcher = gallery.current()
        settings = current_settings(self.app)
        tolerances: dict[str, float] = {}
        placed = 0
        for sighting in rows:
            if not placeable(sighting):
                continue
            if sighting.camera not in tolerances:
                tolerances[sighting.camera] = camera.tuning(sighting.camera, self.app).tolerance
            tolerance = tolerances[sighting.camera]
            if matcher.match(sighting.vector, tolerance).known:
                # Someone was enrolled since it was seen: name it after them (or leave it for
                # the unknowns page's "Looks like" when FACEREC_AUTO_ASSIGN is off).
                if settings.auto_assign:
                    name_if_known(sighting, matcher, tolerance)
                continue
            nearest = matcher.nearest_person([sighting.vector])
            if nearest.known:  # the person page's "closest stranger seen"
                thresholds.note_stranger(nearest.user_id, nearest.distance, sighting.id)
            join = settings.group_join_distance(tolerance)
            group_id, merged = groups.add(sighting.vector, new_id=_new_group, join=join)
            sighting.group_id = group_id
            db.session.flush()
            if merged:
                _merge(group_id, merged)
            placed += 1
        return placed

    def look_again(self):
        """Thresholds, "looks like" and names after a gallery change (``looking``)."""
        with self._lock:
            try:
                found = look_again(self.app)
            except BaseException:
                db.session.rollback()
                raise
        self.looked += 1
        return found

    # ---- control -------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued sighting is placed (tests, shutdown). True if it was."""
        deadline = time.monotonic() + timeout
        while (self.queue.unfinished_tasks or self._busy) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks

    def close(self, timeout: float = 5.0):
        """Place what is queued, then end the thread."""
        thread = self.worker.running()
        if thread is not None:
            try:
                self.queue.put("stop", timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)
