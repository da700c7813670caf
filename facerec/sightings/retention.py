"""Retention: sightings older than ``FACEREC_RETENTION_DAYS`` (default 30; 0 keeps them all)
are deleted automatically while the server runs, and by ``facerec sightings prune``."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Sighting, utcnow

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0


def prune(days: int, limit: int | None = None) -> int:
    """Delete the sightings that ended (or, still open, started) more than ``days`` days
    ago, at most ``limit`` of them; returns how many. ``days`` 0 deletes nothing."""
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    age = db.func.coalesce(Sighting.ended_at, Sighting.started_at)
    condition = age < cutoff
    if limit is not None:
        oldest = db.select(Sighting.id).where(condition).order_by(Sighting.id).limit(limit)
        condition = Sighting.id.in_(db.session.scalars(oldest).all())
    result = db.session.execute(db.delete(Sighting).where(condition))
    db.session.commit()
    return result.rowcount or 0


class Retention:
    """Deletes expired sightings as the server runs: checked at most every ``PRUNE_EVERY``
    seconds, on the next request, ``BATCH`` rows at a time (a full batch makes the next
    request continue), so no request ever waits for a long delete and no thread of its own
    outlives the work."""

    BATCH = 500
    WHAT = "sightings"  # in the log's words

    def __init__(self, app, days: int):
        self.app = app
        self.days = days
        self._next = 0.0
        self._lock = threading.Lock()

    def prune_if_due(self):
        if self.days <= 0 or time.monotonic() < self._next:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is pruning
        try:
            removed = self.prune(self.days, self.BATCH)
            if removed:
                log.info(
                    "retention: %d %s older than %d days deleted", removed, self.WHAT, self.days
                )
            more = removed >= self.BATCH
            self._next = time.monotonic() + (0 if more else PRUNE_EVERY)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("retention: could not delete old %s", self.WHAT)
            self._next = time.monotonic() + 60
        finally:
            self._lock.release()

    def prune(self, days: int, limit: int) -> int:
        """Delete at most ``limit`` expired rows; how many went (a subclass prunes its own)."""
        return prune(days, limit)
