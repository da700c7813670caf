"""Retention per kind, pruned while the server runs and by ``facerec sightings prune``:

- a known person's sightings: ``FACEREC_RETENTION_DAYS`` (30) after they end;
- an unknown visitor's sightings: ``FACEREC_RETENTION_UNKNOWN_DAYS`` (7): a stranger's face
  goes sooner;
- the audit trail, searches included: ``FACEREC_AUDIT_RETENTION_DAYS`` (365, ``audit``);
- corrections and negative samples: as long as the person (they go with them).
0 keeps that kind for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Sighting, utcnow

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class Periods:
    """Days each kind is kept (0: for ever)."""

    known: int
    unknown: int
    audit: int

    @classmethod
    def of(cls, settings) -> Periods:
        return cls(
            settings.retention_days,
            settings.retention_unknown_days,
            settings.audit_retention_days,
        )


def _expired(days: int, *kind):
    """SQL: sightings of this kind that ended (or, still open, started) ``days`` ago."""
    age = db.func.coalesce(Sighting.ended_at, Sighting.started_at)
    return and_(age < utcnow() - timedelta(days=days), *kind)


def prune(days: int, limit: int | None = None, *, unknown_days: int | None = None) -> int:
    """Delete known people's sightings older than ``days`` days and unknown visitors' older
    than ``unknown_days`` (default: ``days``), at most ``limit`` of them; returns how many.
    0 deletes nothing of that kind."""
    unknown_days = days if unknown_days is None else unknown_days
    kinds = []
    if days > 0:
        kinds.append(_expired(days, Sighting.user_id.is_not(None)))
    if unknown_days > 0:
        kinds.append(_expired(unknown_days, Sighting.user_id.is_(None)))
    if not kinds:
        return 0
    condition = or_(*kinds)
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

    def __init__(self, app, days: int, unknown_days: int | None = None):
        self.app = app
        self.days = days
        # Unknown visitors' sightings, kept for their own time (the sightings' pruning only).
        self.unknown_days = days if unknown_days is None else unknown_days
        self._next = 0.0
        self._lock = threading.Lock()

    def prune_if_due(self):
        if (self.days <= 0 and self.unknown_days <= 0) or time.monotonic() < self._next:
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
        return prune(days, limit, unknown_days=self.unknown_days)
