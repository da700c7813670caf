"""The audit page: who changed what and when, filtered, a page at a time, and as CSV."""

from __future__ import annotations

from flask import render_template, request, url_for

from .. import csvfiles
from ..audit import ACTIONS, as_dict, queries
from ..auth.roles import requires
from ..config import current_settings
from ..shapes import AUDIT_COLUMNS
from ..sightings.queries import FilterError
from . import bp

PAGE = 50
FILTERS = ("since", "until", "action", "actor", "object_type", "object_id")


def _families() -> list[tuple[str, str]]:
    """The action filter's choices: each family ("person": every person.* action), then each
    action, as (value, label)."""
    families = sorted({name.split(".")[0] for name in ACTIONS if "." in name})
    return [(f, f"{f}: every action") for f in families] + [
        (name, f"{name}: {label}") for name, label in sorted(ACTIONS.items())
    ]


def _filter() -> tuple[queries.AuditFilter, str | None]:
    try:
        wanted = queries.parse_filter(request.args)
    except FilterError as exc:
        return queries.AuditFilter(limit=PAGE), str(exc)
    if not request.args.get("limit"):
        wanted = queries.AuditFilter(**{**wanted.__dict__, "limit": PAGE})
    return wanted, None


@bp.get("/audit")
@requires("audit")
def audit():
    """The audit trail, newest first, with filters; the CSV link keeps them."""
    wanted, problem = _filter()
    rows, next_before_id = ([], None) if problem else wanted.page()
    args = {k: v for k, v in request.args.items() if k in FILTERS and v}
    return render_template(
        "admin/audit.html",
        entries=[as_dict(row) for row in rows],
        labels=ACTIONS,
        action_choices=_families(),
        values={name: request.args.get(name, "") for name in FILTERS},
        problem=problem,
        filtered=bool(args),
        newest_url=url_for("admin.audit", **args),
        older_url=url_for("admin.audit", **args, before_id=next_before_id),
        next_before_id=next_before_id,
        csv_url=url_for("admin.audit_csv", **args),
        retention_days=current_settings().audit_retention_days,
    ), 422 if problem else 200


@bp.get("/audit.csv")
@requires("audit")
def audit_csv():
    """The filtered audit (every page) as CSV, the columns of GET /api/v1/audit."""
    wanted, problem = _filter()
    return csvfiles.download("facerec-audit.csv", AUDIT_COLUMNS, wanted.all, as_dict, problem)
