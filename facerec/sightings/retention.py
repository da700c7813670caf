"""Retention: sightings older than ``FACEREC_RETENTION_DAYS`` (default 30; 0 keeps them all)
are deleted in the background, at most once an hour, and by ``flask sightings prune``."""

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


def prune(days: int) -> int:
    """Delete the sightings that ended (or, still open, started) more than ``days`` days
    ago; returns how many. ``days`` 0 deletes nothing."""
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    age = db.func.coalesce(Sighting.ended_at, Sighting.started_at)
    result = db.session.execute(db.delete(Sighting).where(age < cutoff))
    db.session.commit()
    return result.rowcount or 0


class Retention:
    """Prunes in the background at most every ``PRUNE_EVERY`` seconds, when asked."""

    def __init__(self, app, days: int):
        self.app = app
        self.days = days
        self._last = -PRUNE_EVERY
        self._lock = threading.Lock()

    def prune_if_due(self):
        if self.days <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < PRUNE_EVERY:
                return
            self._last = now
        threading.Thread(target=self._prune, name="facerec-retention", daemon=True).start()

    def _prune(self):
        with self.app.app_context():
            try:
                removed = prune(self.days)
                if removed:
                    log.info(
                        "retention: %d sightings older than %d days deleted", removed, self.days
                    )
            except SQLAlchemyError:
                db.session.rollback()
                log.exception("retention: could not delete old sightings")
            finally:
                db.session.remove()
