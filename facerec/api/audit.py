"""GET /api/v1/audit: the audit trail, for administrators (and tokens with the admin scope)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from .. import shapes
from ..audit import queries
from ..auth.roles import requires
from ..models import AUDIT_ACTION_MAX
from ..shapes import nullable
from ..sightings.queries import naive_utc
from . import bp
from .contract import Query, operation, utc_time


class AuditQuery(Query):
    since = utc_time("At or after", "2026-11-24T00:00:00Z")
    until = utc_time("Before", "2026-11-25T00:00:00Z")
    action = ma.fields.String(
        validate=validate.Length(min=1, max=AUDIT_ACTION_MAX),
        metadata={
            "description": "One action (`person.deleted`) or a family of them (`person`).",
            "example": "person",
        },
    )
    actor = ma.fields.String(
        validate=validate.Length(max=queries.ACTOR_MAX),
        metadata={"description": "Part of who did it (an account or a token), any case."},
    )
    object_type = ma.fields.String(
        validate=validate.Length(max=queries.TYPE_MAX),
        metadata={"description": "Only entries on this kind of object.", "example": "person"},
    )
    object_id = ma.fields.Integer(
        validate=validate.Range(min=0, max=queries.ID_MAX),
        metadata={"description": "Only entries on the object with this id (with object_type)."},
    )
    limit = ma.fields.Integer(
        validate=validate.Range(min=1, max=queries.LIMIT_MAX),
        metadata={"description": f"Entries per page (default {queries.LIMIT_DEFAULT})."},
    )
    before_id = ma.fields.Integer(
        validate=validate.Range(min=1, max=queries.ID_MAX),
        metadata={"description": "Only entries older than this one (paging)."},
    )


class AuditList(ma.Schema):
    entries = ma.fields.List(ma.fields.Nested(shapes.AuditEntry), required=True)
    next_before_id = nullable(
        ma.fields.Integer, "Pass as `before_id` for the next (older) page; null on the last."
    )


@bp.get("/audit")
@requires("audit")
@operation(
    "listAudit",
    tag="Audit",
    summary="The audit trail, newest first",
    description=(
        "Every change (people, samples, unknown visitors, sightings, cameras, webhooks, tokens, "
        "accounts and roles), sign-in and failed sign-in, and every search by face: who, when, "
        "from which address, what, and the object's id and name at the time. Entries are "
        "never changed; they are kept FACEREC_AUDIT_RETENTION_DAYS days."
    ),
    query=AuditQuery,
    responses={200: ("A page of entries.", AuditList)},
)
def list_audit(query):
    """A page of the audit trail, newest first."""
    wanted = queries.AuditFilter(
        since=naive_utc(query.get("since")),
        until=naive_utc(query.get("until")),
        action=query.get("action") or None,
        actor=(query.get("actor") or "").strip() or None,
        object_type=query.get("object_type") or None,
        object_id=query.get("object_id"),
        before_id=query.get("before_id"),
        limit=query.get("limit") or queries.LIMIT_DEFAULT,
    )
    rows, next_before_id = wanted.page()
    return {"entries": rows, "next_before_id": next_before_id}
