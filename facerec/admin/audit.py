"""The audit page: who changed what and when, filtered, a page at a time, and as CSV."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, render_template, request, stream_with_context, url_for

from ..audit import ACTIONS, as_dict, queries
from ..auth.roles import requires
from ..config import current_settings
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


def _cell(value) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is made plain text."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_COLUMNS = ("id", "time", "actor", "address", "action", "object_type", "object_id",
               "object_name", "details")  # fmt: skip


@bp.get("/audit.csv")
@requires("audit")
def audit_csv():
    """The filtered audit (every page) as CSV, the columns of GET /api/v1/audit."""
    wanted, problem = _filter()
    if problem:
        return Response(problem + "\n", status=422, mimetype="text/plain")

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        # Closed on the way out: a download cut short (the client went away) leaves the
        # generator at a yield, and PostgreSQL's server-side cursor must not wait for the
        # garbage collector.
        with wanted.all() as rows:
            for row in rows:
                entry = as_dict(row)
                writer.writerow(_cell(entry[key]) for key in CSV_COLUMNS)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="facerec-audit.csv"'
    return response
