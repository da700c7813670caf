"""The audit trail: every change on record, append-only (``models.AuditEntry``).

Rows of the audited tables are on record by themselves: whatever code path adds, changes or
deletes a person, a face sample, a negative sample, a camera, a webhook, an API token or an
account, the flush that writes it writes its entry too, in the same transaction
(``AUDITED`` in ``audit/rows.py``: ``person.created``, ``person.renamed``, ``sample.removed``,
``account.role_changed``...). Nobody can forget those.

Call ``record`` for what a row change does not say by itself (an unknown visitor enrolled or
assigned, a sighting relabelled, a search, a camera started), in the same transaction as the
change, before its commit::

    from facerec import audit

    user, refused, created = service.enroll_group(group, name)
    audit.record("unknown.enrolled", group, details={"person_id": user.id, "person": user.name})
    db.session.commit()                       # the change and its entry, or neither

Sign-ins change nothing, and a busy database must not refuse a right password: they use
``record_when_sent``, written just after the response::

    audit.record_when_sent("signin.failed", object_type="account", object_name=typed)

Who (the signed-in account, or the API token and its account; "command line" outside a
request), when and from which address are filled in; the object's type, id and name at the
time come from ``obj`` (a person, account, token, camera, webhook, sample, negative, unknown
group, sighting...) unless given. ``details`` is a small JSON object (what changed).

Action names are ``<object>.<past participle>``: ``person.created``, ``sample.removed``,
``unknown.enrolled``, ``sighting.relabelled``, ``camera.changed``, ``account.role_changed``,
``signin``, ``signin.failed``... (``ACTIONS`` lists those the product writes; a new one is
added there with its wording for the audit page's filter).

Nothing in the product updates or deletes an entry; ``prune(days)`` (retention,
FACEREC_AUDIT_RETENTION_DAYS, default 365) is the only delete.
"""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

import click
from flask import g, has_request_context, request
from sqlalchemy import delete, insert, inspect, select

from ..extensions import db
from ..models import AUDIT_ACTION_MAX, Account, AuditEntry, utcnow

# What each action means, for the audit page's filter and the docs. Other modules add their
# own actions here as they record them.
ACTIONS = {
    "signin": "Signed in",
    "signin.failed": "Failed sign-in",
    "person.created": "Person created",
    "person.renamed": "Person renamed",
    "person.changed": "Person's details changed",
    "person.threshold_set": "Person's threshold set by hand (or computed again)",
    "person.deleted": "Person deleted",
    "person.exported": "Person's data exported",
    "sample.added": "Face sample added",
    "sample.removed": "Face sample removed",
    "negative.added": "“Not this person” added",
    "negative.removed": "“Not this person” removed",
    "unknown.enrolled": "Unknown visitor enrolled",
    "unknown.assigned": "Unknown visitor assigned",
    "unknown.dismissed": "Unknown visitor dismissed",
    "sighting.relabelled": "Sighting relabelled",
    "sightings.searched": "History searched by face",
    "camera.added": "Camera added",
    "camera.changed": "Camera changed",
    "camera.removed": "Camera removed",
    "camera.enabled": "Camera enabled",
    "camera.disabled": "Camera disabled",
    "camera.started": "Camera started",
    "camera.stopped": "Camera stopped",
    "webhook.added": "Webhook added",
    "webhook.changed": "Webhook changed",
    "webhook.removed": "Webhook removed",
    "webhook.enabled": "Webhook enabled",
    "webhook.disabled": "Webhook disabled",
    "notification.added": "Notification target added",
    "notification.removed": "Notification target removed",
    "notification.enabled": "Notification target enabled",
    "notification.disabled": "Notification target disabled",
    "token.created": "API token created",
    "token.revoked": "API token revoked",
    "account.created": "Account created",
    "account.role_changed": "Role or cameras changed",
    "account.disabled": "Account disabled",
    "account.enabled": "Account enabled",
    "account.signed_out": "Signed out (every session of the account)",
    "account.changed": "Account changed",
    "token.changed": "API token changed",
    "account.password_changed": "Password changed",
    "settings.changed": "Settings changed",
}

# Object type and the attribute that names it, by model class name.
NAMES = {
    "User": ("person", "name"),
    "Account": ("account", "username"),
    "ApiToken": ("token", "name"),
    "Camera": ("camera", "name"),
    "Webhook": ("webhook", "url"),
    "NotificationTarget": ("notification", "shown_url"),  # its URL with secrets masked
    "FaceSample": ("sample", None),
    "NegativeSample": ("negative", None),
    "UnknownGroup": ("unknown_group", "id"),
    "Sighting": ("sighting", "name"),
}
# The person a sample or a negative belongs to names it.
_OWNER = {"FaceSample": "user", "NegativeSample": "user"}

TEXT_MAX = 200


def record(
    action: str,
    obj=None,
    *,
    details: dict | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    object_name: str | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add an entry for ``action`` on ``obj`` to the session; the caller's commit writes it.

    A new ``obj`` without an id yet is flushed first, so the entry names its id. Returns the
    entry (added, not committed).
    """
    entry = AuditEntry(
        **values(action, obj, details, object_type, object_id, object_name, actor, flush=True)
    )
    db.session.add(entry)
    return entry


def record_when_sent(action: str, obj=None, **what):
    """``record`` for what changes nothing (a sign-in, a failed one): written in a
    transaction of its own once the response is sent, so a busy database delays and refuses
    nobody's sign-in (the entry is then skipped, and the log says so). Takes ``record``'s
    keywords."""
    from ..auth import record_later

    row = values(
        action,
        obj,
        what.get("details"),
        what.get("object_type"),
        what.get("object_id"),
        what.get("object_name"),
        what.get("actor"),
        flush=False,
    )
    record_later(insert(AuditEntry).values(**row))


def values(action, obj, details, object_type, object_id, object_name, actor, *, flush):
    if not action or len(action) > AUDIT_ACTION_MAX:
        raise ValueError(f"an audit action is 1 to {AUDIT_ACTION_MAX} characters: {action!r}")
    kind, name = None, None
    if obj is not None:
        cls = type(obj).__name__
        kind, attribute = NAMES.get(cls, (cls.lower(), None))
        if flush and getattr(obj, "id", None) is None and inspect(obj).pending:
            db.session.flush()
        if attribute:
            name = getattr(obj, attribute, None)
        elif cls in _OWNER:
            owner = getattr(obj, _OWNER[cls], None)
            name = getattr(owner, "name", None)
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    who, account_id, token_id = _actor()
    return {
        "created_at": utcnow(),
        "actor": _text(actor or who),
        "account_id": account_id,
        "token_id": token_id,
        "address": _address(),
        "action": action,
        "object_type": object_type or kind,
        "object_id": object_id,
        "object_name": _text(object_name if object_name is not None else name),
        "details": json.dumps(details or {}, ensure_ascii=False, default=str, sort_keys=True),
    }


def _text(value) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= TEXT_MAX else value[: TEXT_MAX - 1] + "…"


def _actor() -> tuple[str, int | None, int | None]:
    """(who, account id, token id): the request's account or token; "command line" in a
    CLI command; "facerec" for what the server does by itself (grouping, retention)."""
    if has_request_context() and g.get("audit_actor"):
        return g.audit_actor, None, None  # set by a view that knows better (first-run setup)
    if not has_request_context():
        if click.get_current_context(silent=True) is None:
            return "facerec", None, None
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = None
        return (f"command line ({user})" if user else "command line"), None, None
    token = g.get("api_token")
    # Flask-Login's cache of the request's user, never a query (this may run inside a flush;
    # roles.enforce has loaded the user before any view runs).
    principal = g.get("_login_user")
    account = principal if isinstance(principal, Account) else None
    if token is not None:
        owner = f" of {account.username}" if account is not None else ""
        return f"token “{token.name}”{owner}", getattr(account, "id", None), token.id
    if account is not None:
        return account.username, account.id, None
    return "anonymous", None, None


def actor_name() -> str:
    """Who is acting, in the audit's words: an account, "token “x” of alice", "command line
    (root)" or "facerec" (what the server does by itself). The consent record uses it."""
    return _actor()[0]


def _address() -> str | None:
    """The client's address (X-Forwarded-For only from FACEREC_TRUSTED_PROXIES, see web.py)."""
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:64] or None


def as_dict(entry: AuditEntry) -> dict:
    """An entry as ``GET /api/v1/audit`` returns it (``shapes.AuditEntry``)."""
    from ..shapes import AUDIT_ENTRY

    return AUDIT_ENTRY.dump(entry)


def prune(days: int, limit: int | None = None) -> int:
    """Delete the entries older than ``days`` days, at most ``limit`` of them (0 days keeps
    them all); returns how many. Retention is the only delete of the audit trail."""
    if days <= 0:
        return 0
    condition = AuditEntry.created_at < utcnow() - timedelta(days=days)
    if limit is not None:
        oldest = select(AuditEntry.id).where(condition).order_by(AuditEntry.id).limit(limit)
        condition = AuditEntry.id.in_(db.session.scalars(oldest).all())
    result = db.session.execute(delete(AuditEntry).where(condition))
    db.session.commit()
    return result.rowcount or 0


def init_app(app):
    """Prune the audit as the server runs (FACEREC_AUDIT_RETENTION_DAYS), like sightings."""
    from ..config import current_settings
    from ..sightings.retention import Retention

    class AuditRetention(Retention):
        WHAT = "audit entries"

        def prune(self, days: int, limit: int) -> int:
            return prune(days, limit)

    retention = AuditRetention(app, current_settings(app).audit_retention_days)
    app.extensions["audit_retention"] = retention
    app.before_request(retention.prune_if_due)


from . import rows  # noqa: E402,F401  (the automatic entries: registers its flush hook)

__all__ = ["ACTIONS", "as_dict", "init_app", "prune", "record", "record_when_sent"]
