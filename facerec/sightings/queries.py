"""The history as the API, the history page and its CSV export read it: filtered, newest first,
a page at a time (``before_id``: the rows older than a given one, so pages stay put while new
sightings arrive)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..extensions import db
from ..models import CAMERA_NAME_MAX, Sighting
from ..paging import NewestFirstPages

LIMIT_DEFAULT = 50
LIMIT_MAX = 200
CAMERA_MAX = CAMERA_NAME_MAX  # a camera filter names a camera


class FilterError(ValueError):
    """A filter value that cannot be used; the message is written for a person."""


@dataclass(frozen=True)
class SightingFilter(NewestFirstPages):
    user_id: int | None = None
    unknown: bool = False
    camera: str | None = None
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive
    before_id: int | None = None
    limit: int = LIMIT_DEFAULT
    # The cameras the asker may see (auth.roles.visible_cameras); None: every camera.
    cameras: frozenset | None = None

    def statement(self, newest_first: bool = True):
        query = db.select(Sighting)
        if self.cameras is not None:
            query = query.where(Sighting.camera.in_(sorted(self.cameras)))
        if self.user_id is not None:
            query = query.where(Sighting.user_id == self.user_id)
        if self.unknown:
            query = query.where(Sighting.user_id.is_(None))
        if self.camera:
            query = query.where(Sighting.camera == self.camera)
        if self.since is not None:
            query = query.where(Sighting.started_at >= self.since)
        if self.until is not None:
            query = query.where(Sighting.started_at < self.until)
        if self.before_id is not None:
            query = query.where(Sighting.id < self.before_id)
        return query.order_by(Sighting.id.desc() if newest_first else Sighting.id)


def naive_utc(moment: datetime | None) -> datetime | None:
    """A datetime as naive UTC (how times are stored); one without an offset is UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # year 1 minus an offset: before any sighting anyway
        return datetime.min if moment.year < 2 else datetime.max


def parse_time(raw: str, field: str, end_of_day: bool = False) -> datetime:
    """An ISO 8601 time (a Z or an offset, else UTC) or a date, as naive UTC.

    A bare date means its start, or with ``end_of_day`` the start of the next day (so that
    ``until=2026-11-24`` includes the whole of that day).
    """
    raw = raw.strip()
    try:
        if "\x00" in raw:
            raise ValueError(raw)
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time())
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"“{field}” must be a date (2026-11-24) or a UTC time (2026-11-24T18:41:59Z)."
        ) from None
    return naive_utc(moment)


def parse_filter(args, *, limit_max: int = LIMIT_MAX, cameras=None) -> SightingFilter:
    """A SightingFilter from query arguments (``user_id``, ``unknown``, ``camera``, ``since``,
    ``until``, ``limit``, ``before_id``), limited to ``cameras`` (None: all); raises
    FilterError with a readable message."""
    user_id = _int(args, "user_id", 1, 2**63 - 1)
    unknown = _flag(args, "unknown")
    camera = (args.get("camera") or "").strip() or None
    if camera is not None and (len(camera) > CAMERA_MAX or "\x00" in camera):
        raise FilterError(f"“camera” is a camera's name, at most {CAMERA_MAX} characters.")
    since = parse_time(args["since"], "since") if (args.get("since") or "").strip() else None
    until = (
        parse_time(args["until"], "until", end_of_day=True)
        if (args.get("until") or "").strip()
        else None
    )
    limit = _int(args, "limit", 1, limit_max)
    return SightingFilter(
        user_id=user_id,
        unknown=unknown,
        camera=camera,
        since=since,
        until=until,
        before_id=_int(args, "before_id", 1, 2**63 - 1),
        limit=LIMIT_DEFAULT if limit is None else limit,
        cameras=cameras,
    )


def _int(args, name: str, low: int, high: int) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise FilterError(f"“{name}” must be a whole number from {low} to {high}.")
    return value


def _flag(args, name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise FilterError(f"“{name}” must be 1 or 0.")
