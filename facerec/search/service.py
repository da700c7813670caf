"""Running a face search (for the API and the page alike) and recording it in the audit."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from .. import audit
from ..config import current_settings
from ..extensions import db
from ..models import Sighting
from ..sightings.queries import CAMERA_MAX, naive_utc
from .index import SightingIndex

LIMIT_DEFAULT = 50
LIMIT_MAX = 500

_lock = threading.Lock()


class SearchError(ValueError):
    """A bad search request; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass
class Filters:
    tolerance: float
    limit: int = LIMIT_DEFAULT
    since: datetime | None = None
    until: datetime | None = None
    camera: str | None = None
    given: dict = field(default_factory=dict)  # as sent, for the audit

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.given.items() if v not in (None, ""))


def index() -> SightingIndex:
    """This app's index of sighting encodings, brought up to date."""
    extensions = current_app.extensions
    with _lock:
        found = extensions.get("sighting_index")
        if found is None:
            found = extensions["sighting_index"] = SightingIndex()
    found.refresh(db.session)
    return found


def parse_time(raw, name: str) -> datetime | None:
    """An ISO 8601 time (a date alone means its midnight, UTC when no zone is given)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    message = f"“{name}” must be a date or time such as 2026-11-24T18:41:59Z."
    if not isinstance(raw, str) or len(raw) > 40:
        raise SearchError(message, 400)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(message, 400) from None
    return naive_utc(moment)


def parse_filters(values: dict, empty_range: bool = False) -> Filters:
    """tolerance, limit, since, until, camera from a form or a JSON body (strings or numbers).

    ``since`` after ``until`` is refused (the page says why), or with ``empty_range`` matches
    nothing (the API, like its list of sightings).
    """
    config_tolerance = current_settings().tolerance
    tolerance = _number(values.get("tolerance"), "tolerance", config_tolerance, 0.0, 1.0, float)
    limit = _number(values.get("limit"), "limit", LIMIT_DEFAULT, 1, LIMIT_MAX, int)
    since = parse_time(values.get("since"), "since")
    until = parse_time(values.get("until"), "until")
    if since and until and since > until and not empty_range:
        raise SearchError("“since” is later than “until”: no sighting can match.", 400)
    camera = values.get("camera")
    if camera is not None and not isinstance(camera, str):
        raise SearchError("“camera” must be a camera's name.")
    camera = (camera or "").strip() or None
    if camera and len(camera) > CAMERA_MAX:
        raise SearchError(f"“camera” is too long (at most {CAMERA_MAX} characters).")
    given = {"tolerance": tolerance, "limit": limit, "since": values.get("since"),
             "until": values.get("until"), "camera": camera}  # fmt: skip
    return Filters(tolerance, limit, since, until, camera, given)


def _number(raw, name, default, low, high, kind):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    message = f"“{name}” must be a number from {low} to {high}."
    if isinstance(raw, bool):
        raise SearchError(message)
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):
        raise SearchError(message) from None
    if kind is int and isinstance(raw, float) and raw != value:
        raise SearchError(message)
    if not low <= value <= high:
        raise SearchError(message)
    return value


def search(encoding, filters: Filters) -> list[tuple[float, Sighting]]:
    """Sightings within the tolerance of ``encoding``, nearest first, at most ``limit``."""
    return search_page(encoding, filters)[0]


def search_page(
    encoding, filters: Filters, offset: int = 0
) -> tuple[list[tuple[float, Sighting]], int]:
    """One page of the sightings within the tolerance of ``encoding`` (nearest first, at most
    ``limit`` from ``offset``), and how many there are in all."""
    found = index()
    hits = found.search(encoding, filters.tolerance, filters.since, filters.until, filters.camera)
    total = len(hits)
    hits = hits[offset:]
    results: list[tuple[float, Sighting]] = []
    start = 0
    while len(results) < filters.limit and start < len(hits):
        chunk = hits[start : start + filters.limit * 2]
        start += len(chunk)
        rows = {
            s.id: s
            for s in db.session.scalars(
                select(Sighting).where(Sighting.id.in_([h.sighting_id for h in chunk]))
            )
        }
        gone = [h.sighting_id for h in chunk if h.sighting_id not in rows]
        found.forget(gone)
        total -= len(gone)  # deleted since the index saw them
        for hit in chunk:
            if hit.sighting_id in rows and len(results) < filters.limit:
                results.append((round(hit.distance, 4), rows[hit.sighting_id]))
    return results, total


def record(source: str, filters: Filters, results: int, sighting_id: int | None = None):
    """Keep the search in the audit trail (committed at once: a search is never left
    unrecorded). Searching people by face is the most sensitive thing facerec does."""
    audit.record(
        "sightings.searched",
        object_type="sighting" if sighting_id else None,
        object_id=sighting_id,
        details={
            "source": source,
            "tolerance": filters.tolerance,
            "filters": filters.describe(),
            "results": results,
        },
    )
    db.session.commit()
