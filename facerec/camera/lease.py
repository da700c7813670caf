"""One process runs a camera at a time: a lease in the database, taken at start.

Two servers on one database (or a server started while the old one still runs, its port
dead but its worker alive) must never both run one camera: both would write the same
sightings twice. Before a camera opens its source it takes the camera's row of
``camera_leases`` (an atomic upsert that succeeds only when the row is free, expired, or
already its own), and renews it every ``renew`` seconds while it runs. A lease whose owner
stopped renewing (killed, frozen, cut off) expires after ``ttl`` seconds and the next server
takes it; a camera that stops releases it at once. Losing the lease (another process took
it while this one could not renew) stops the camera, which then waits for it again.

When a process takes a camera over, the sightings of that camera still open are ones a dead
or cut-off process left "in view" for ever: they are closed, ended when their owner was last
known to be alive.

The database's own clock is not used: servers sharing a database keep their clocks in step
(NTP), as any cluster does; a few seconds apart only move a takeover by as much.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import UPSERT, CameraLease, Sighting

log = logging.getLogger(__name__)

TTL = 15.0  # seconds a lease outlives its last renewal
RENEW = 4.0  # seconds between renewals


def new_owner() -> str:
    """``host:pid:random``: who holds a lease (one per camera registry, so one per server
    process; two apps in one test process are two owners, as two servers would be)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """The lease of one camera for one owner (``new_owner``)."""

    def __init__(self, app, camera: str, owner: str, ttl: float = TTL, renew: float = RENEW):
        self.app = app
        self.camera = camera
        self.owner = owner
        self.ttl = ttl
        self.renew_every = renew
        self.holder: str | None = None  # who holds it, when not us (for the message)
        self.held = False

    # ---- the database ---------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or ours; True if this process holds it.

        On a takeover, the camera's sightings left open are closed.
        """
        now = time.time()
        table = CameraLease.__table__
        try:
            with self.app.app_context():
                session = db.session
                previous = session.execute(
                    select(CameraLease.owner, CameraLease.expires_at).where(
                        CameraLease.camera == self.camera
                    )
                ).first()
                stmt = (
                    UPSERT[session.get_bind().dialect.name](CameraLease)
                    .values(camera=self.camera, owner=self.owner, expires_at=now + self.ttl)
                    .on_conflict_do_update(
                        index_elements=[CameraLease.camera],
                        set_={"owner": self.owner, "expires_at": now + self.ttl},
                        where=or_(table.c.owner == self.owner, table.c.expires_at < now),
                    )
                )
                session.execute(stmt)
                owner = session.execute(
                    select(CameraLease.owner).where(CameraLease.camera == self.camera)
                ).scalar()
                taken = owner == self.owner
                # Taken over from a process that did not give it back (a lease given back
                # at a stop has expired at 0: that process ended its own tracks).
                orphaned = previous is not None and previous.owner != self.owner
                if taken and orphaned and previous.expires_at > 0:
                    # Its last proof of life: the end of its lease less the TTL.
                    self._close_open_sightings(session, previous.expires_at - self.ttl)
                session.commit()
                session.remove()
        except SQLAlchemyError as exc:
            log.warning("camera %s: lease not taken (%s)", self.camera, exc.__class__.__name__)
            return False
        self.held = taken
        self.holder = None if taken else owner
        return taken

    def renew(self) -> bool | None:
        """Extend the lease: True, False when another process took it, None when the
        database cannot be reached (the camera runs on: nobody else can take it either
        while the database is away, and the sightings meanwhile are kept until it is back)."""
        now = time.time()
        try:
            with self.app.app_context():
                result = db.session.execute(
                    update(CameraLease)
                    .where(CameraLease.camera == self.camera, CameraLease.owner == self.owner)
                    .values(expires_at=now + self.ttl)
                )
                db.session.commit()
                db.session.remove()
        except SQLAlchemyError as exc:
            log.warning("camera %s: lease not renewed (%s)", self.camera, exc.__class__.__name__)
            return None
        if result.rowcount == 1:
            return True
        self.held = False
        return False

    def release(self):
        """Give the lease up at once (the camera stopped): another server may take it."""
        if not self.held:
            return
        self.held = False
        try:
            with self.app.app_context():
                db.session.execute(
                    update(CameraLease)
                    .where(CameraLease.camera == self.camera, CameraLease.owner == self.owner)
                    .values(expires_at=0.0)
                )
                db.session.commit()
                db.session.remove()
        except SQLAlchemyError:
            pass  # it expires by itself

    def _close_open_sightings(self, session, alive_until: float):
        until = datetime.fromtimestamp(max(0.0, alive_until), UTC).replace(tzinfo=None)
        rows = session.execute(
            select(Sighting).where(Sighting.camera == self.camera, Sighting.ended_at.is_(None))
        ).scalars()
        closed = 0
        for row in rows:
            row.ended_at = max(row.started_at, until)
            closed += 1
        if closed:
            log.info(
                "camera %s: closed %d sighting(s) left open by a process that stopped",
                self.camera,
                closed,
            )

    # ---- while the camera runs -------------------------------------------------------------

    def keep(self, running: threading.Event):
        """Renew the lease until ``running`` is set; set it as soon as the lease is lost
        (the capture reads frames until it is set, and sets it when it stops reading)."""

        def keeper():
            while not running.wait(self.renew_every):
                if self.renew() is False:
                    log.warning("camera %s: another process took the lease", self.camera)
                    running.set()
                    return

        threading.Thread(target=keeper, name=f"facerec-lease-{self.camera}", daemon=True).start()

    def lost(self) -> bool:
        return not self.held


def close_stale_sightings(app) -> int:
    """At a server's start: close the sightings still "in view" whose camera no live process
    runs (its lease expired, given back, or never taken), ended when their process was last
    known alive (the end of its lease less the TTL), else when they started. A camera that
    another server runs keeps its open sightings (its lease is live). Returns how many."""
    now = time.time()
    try:
        with app.app_context():
            session = db.session
            leases = dict(session.execute(select(CameraLease.camera, CameraLease.expires_at)).all())
            closed = 0
            rows = session.execute(select(Sighting).where(Sighting.ended_at.is_(None))).scalars()
            for row in rows:
                expires_at = leases.get(row.camera)
                if expires_at is not None and expires_at >= now:
                    continue  # its camera runs somewhere: the sighting may well be open
                ended = row.started_at
                if expires_at:  # a process died holding it: last alive a TTL before the end
                    alive = datetime.fromtimestamp(expires_at - TTL, UTC).replace(tzinfo=None)
                    ended = max(ended, alive)
                row.ended_at = ended
                closed += 1
            session.commit()
            session.remove()
    except SQLAlchemyError as exc:
        log.warning("open sightings not checked (%s)", exc.__class__.__name__)
        return 0
    if closed:
        log.info("closed %d sighting(s) left open by a process that stopped", closed)
    return closed
