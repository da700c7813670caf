"""The rows that are on record by themselves: every flush that adds, changes or deletes a row
of an audited table writes its audit entries, whatever code path made the change.

``AUDITED`` says, per table, what each change is called; bookkeeping columns (``_QUIET``)
are not changes anyone made, and secret columns (``_SECRET``) go on record as "changed",
never with their values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, object_session

from ..models import (
    Account,
    ApiToken,
    AuditEntry,
    Camera,
    FaceSample,
    NegativeSample,
    NotificationTarget,
    User,
    Webhook,
    iso,
)
from . import NAMES, values


def _shown(value):
    if isinstance(value, datetime):
        return iso(value)
    return value.isoformat() if isinstance(value, date) else value  # a date: 2027-06-30


def _changed(state, names) -> dict:
    """{column: [before, after]} of the columns among ``names`` that this flush changes."""
    changes = {}
    for name in names:
        history = state.attrs[name].history
        if history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changes[name] = [_shown(before), _shown(after)]
    return changes


def _columns(cls) -> list[str]:
    return [c.key for c in inspect(cls).column_attrs]


# Columns whose change is bookkeeping, not something anyone did (or is its own entry).
_QUIET = {"id", "name_key", "created_at", "updated_at", "last_used_at", "last_login_at",
          "consent_recorded_at", "consent_recorded_by"}  # fmt: skip
# Columns whose values are never written into the audit (only that they changed): a URL may
# hold credentials (notification targets always do, webhooks may; a camera's sub-stream
# like its source).
_SECRET = {
    "source",
    "detect_source",
    "secret",
    "password_hash",
    "token_hash",
    "encoding",
    "thumbnail",
    "url",
}


def _details(changes: dict) -> dict:
    return {
        name: (values if name not in _SECRET else "changed") for name, values in changes.items()
    }


def _person_update(state, changes):
    if "name" in changes:
        before, after = changes.pop("name")
        yield "person.renamed", {"from": before, "to": after}
    if "tolerance" in changes:  # null: computed again (facerec.thresholds)
        before, after = changes.pop("tolerance")
        yield "person.threshold_set", {"from": before, "to": after}
    if changes:
        yield "person.changed", _details(changes)


def _account_update(state, changes):
    roles = {k: changes.pop(k) for k in ("role", "cameras") if k in changes}
    if roles:
        yield "account.role_changed", roles
    if "disabled_at" in changes:
        yield ("account.disabled" if changes.pop("disabled_at")[1] else "account.enabled"), {}
        changes.pop("session_generation", None)  # disabling ends the sessions: one entry
    if "password_hash" in changes:
        changes.pop("password_hash")
        changes.pop("session_generation", None)  # a new password ends the other sessions
        yield "account.password_changed", {}
    if changes.pop("session_generation", None):
        yield "account.signed_out", {}  # sign-out, or "sign out everywhere"
    if changes:
        yield "account.changed", _details(changes)


def _token_update(state, changes):
    if "revoked_at" in changes:
        changes.pop("revoked_at")
        yield "token.revoked", {}
    if changes:
        yield "token.changed", _details(changes)


def _enabled_update(kind):
    def update(state, changes):
        if "enabled" in changes:
            yield f"{kind}.{'enabled' if changes.pop('enabled')[1] else 'disabled'}", {}
        if changes:
            yield f"{kind}.changed", _details(changes)

    return update


def _token_created(obj) -> dict:
    return {
        "prefix": obj.prefix,
        "account_id": obj.account_id,
        "scopes": obj.scope_list,
        "cameras": obj.camera_list,
        "expires_at": iso(obj.expires_at),
    }


@dataclass(frozen=True)
class Audited:
    """How the rows of one table go on record: the actions, and the details of a new row."""

    created: str
    new_details: Callable[[object], dict]
    updated: Callable | None  # (state, changes) -> iterable of (action, details)
    deleted: str | None  # None: rows of this table are never deleted (revoked, disabled)


AUDITED = {
    User: Audited("person.created", lambda o: {}, _person_update, "person.deleted"),
    FaceSample: Audited("sample.added", lambda o: {"source": o.source}, None, "sample.removed"),
    NegativeSample: Audited(
        "negative.added", lambda o: {"sighting_id": o.sighting_id}, None, "negative.removed"
    ),
    Camera: Audited("camera.added", lambda o: {}, _enabled_update("camera"), "camera.removed"),
    Webhook: Audited(
        "webhook.added",
        lambda o: {"events": o.event_list},
        _enabled_update("webhook"),
        "webhook.removed",
    ),
    NotificationTarget: Audited(
        "notification.added",
        lambda o: {
            "who": o.who,
            "cameras": o.cameras or "all",
            "days": o.days,
            "hours": [o.start_minute, o.end_minute],
            "cooldown": o.cooldown,
            "face": o.attach,
        },
        _enabled_update("notification"),
        "notification.removed",
    ),
    ApiToken: Audited("token.created", _token_created, _token_update, None),
    Account: Audited(
        "account.created",
        lambda o: {"role": o.role, "cameras": o.camera_list},
        _account_update,
        None,
    ),
}


def _owner_name(session, obj) -> str | None:
    """The person a sample or a negative belongs to, without a query (this runs in a flush)."""
    state = inspect(obj)
    if "user" not in state.unloaded and obj.user is not None:
        return obj.user.name
    person = session.identity_map.get(session.identity_key(User, obj.user_id))
    return person.name if person is not None else None


def _name_of(session, obj):
    if isinstance(obj, FaceSample | NegativeSample):
        return _owner_name(session, obj)
    _kind, attribute = NAMES[type(obj).__name__]
    return getattr(obj, attribute, None) if attribute else None


# The audited rows this flush deletes, as the mapper deletes them (session.info key). Not
# session.deleted: that holds only what session.delete() was given, and a row taken out of
# its owner's list (user.samples.remove(sample): delete-orphan) is deleted by the flush itself.
_DELETED = "facerec.audit.deleted"


@event.listens_for(Session, "before_flush")
def _start_flush(session, _context, _instances):
    session.info[_DELETED] = []  # nothing left over from a flush that failed


def _row_deleted(_mapper, _connection, target):
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_DELETED, []).append(target)


for _cls, _spec in AUDITED.items():
    if _spec.deleted:
        event.listen(_cls, "after_delete", _row_deleted)


@event.listens_for(Session, "after_flush")
def _record_rows(session, _context):
    """Write an entry for each audited row this flush adds, changes or deletes.

    After the flush, so new rows have their ids; through the flush's own connection, so the
    entries commit or roll back with the change.
    """
    rows = []
    for obj in session.new:
        spec = AUDITED.get(type(obj))
        if spec is not None:
            rows.append(_row(session, obj, spec.created, spec.new_details(obj)))
    for obj in session.dirty:
        spec = AUDITED.get(type(obj))
        if spec is None or spec.updated is None or not session.is_modified(obj):
            continue
        state = inspect(obj)
        changes = _changed(state, [c for c in _columns(type(obj)) if c not in _QUIET])
        for action, details in spec.updated(state, changes):
            rows.append(_row(session, obj, action, details))
    for obj in session.info.pop(_DELETED, []):
        # What else went with it (facerec.forget puts the counts on the row it deletes).
        details = dict(getattr(obj, "audit_deleted_details", None) or {})
        rows.append(_row(session, obj, AUDITED[type(obj)].deleted, details))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def _row(session, obj, action: str, details: dict) -> dict:
    kind = NAMES[type(obj).__name__][0]
    return values(action, None, details, kind, obj.id, _name_of(session, obj), None, flush=False)
