"""The audit as the API, the audit page and its CSV read it: filtered, newest first, a page at
a time (``before_id``, like the history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false

from ..extensions import db
from ..models import AUDIT_ACTION_MAX, AuditEntry
from ..paging import NewestFirstPages
from ..sightings.queries import FilterError, parse_time
from ..web import DATABASE_ID_MAX as ID_MAX

LIMIT_DEFAULT = 50
LIMIT_MAX = 500
ACTOR_MAX = 200
TYPE_MAX = 40


@dataclass(frozen=True)
class AuditFilter(NewestFirstPages):
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive
    # An action ("person.deleted") or a family of actions ("person": every person.* action).
    action: str | None = None
    actor: str | None = None  # part of the actor's text, any case
    object_type: str | None = None
    object_id: int | None = None
    before_id: int | None = None
    limit: int = LIMIT_DEFAULT

    def statement(self):
        query = db.select(AuditEntry)
        texts = (self.action, self.actor, self.object_type)
        if any(text and "\x00" in text for text in texts):
            return query.where(false())  # nothing stored holds a NUL character
        if self.since is not None:
            query = query.where(AuditEntry.created_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.created_at < self.until)
        if self.action:
            if "." in self.action:
                query = query.where(AuditEntry.action == self.action)
            else:
                query = query.where(
                    (AuditEntry.action == self.action)
                    | AuditEntry.action.startswith(self.action + ".", autoescape=True)
                )
        if self.actor:
            query = query.where(
                db.func.lower(AuditEntry.actor).contains(self.actor.lower(), autoescape=True)
            )
        if self.object_type:
            query = query.where(AuditEntry.object_type == self.object_type)
        if self.object_id is not None:
            query = query.where(AuditEntry.object_id == self.object_id)
        if self.before_id is not None:
            query = query.where(AuditEntry.id < self.before_id)
        return query.order_by(AuditEntry.id.desc())


def parse_filter(args) -> AuditFilter:
    """An AuditFilter from query arguments (``since``, ``until``, ``action``, ``actor``,
    ``object_type``, ``object_id``, ``limit``, ``before_id``); FilterError says what is wrong."""
    text = {name: (args.get(name) or "").strip() for name in ("action", "actor", "object_type")}
    if len(text["action"]) > AUDIT_ACTION_MAX:
        raise FilterError(f"“action” is an action's name, at most {AUDIT_ACTION_MAX} characters.")
    if len(text["actor"]) > ACTOR_MAX:
        raise FilterError(f"“actor” is at most {ACTOR_MAX} characters.")
    if len(text["object_type"]) > TYPE_MAX:
        raise FilterError(f"“object_type” is a kind of object, at most {TYPE_MAX} characters.")
    since = (args.get("since") or "").strip()
    until = (args.get("until") or "").strip()
    limit = _whole(args, "limit", 1, LIMIT_MAX)
    return AuditFilter(
        since=parse_time(since, "since") if since else None,
        until=parse_time(until, "until", end_of_day=True) if until else None,
        action=text["action"] or None,
        actor=text["actor"] or None,
        object_type=text["object_type"] or None,
        object_id=_whole(args, "object_id", 0, ID_MAX),
        before_id=_whole(args, "before_id", 1, ID_MAX),
        limit=LIMIT_DEFAULT if limit is None else limit,
    )


def _whole(args, name: str, low: int, high: int) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise FilterError(f"“{name}” must be a whole number from {low} to {high}.")
    return int(raw)
