from __future__ import annotations

import csv
import io

from flask import Response, current_app, render_template, request, stream_with_context, url_for

from ..extensions import db
from ..models import Sighting, User
from ..sightings import queries
from . import bp

PAGE = 50
CSV_FIELDS = (
    "id",
    "camera",
    "user_id",
    "name",
    "started_at",
    "ended_at",
    "seconds",
    "frames",
    "distance",
    "crop_url",
)


def _filter() -> tuple[queries.SightingFilter, str | None]:
    """The filters of this request (the API's names), or no filter and what is wrong."""
    try:
        return queries.parse_filter(request.args), None
    except queries.FilterError as exc:
        return queries.SightingFilter(limit=PAGE), str(exc)


def _page_context():
    wanted, problem = _filter()
    if wanted.limit == queries.LIMIT_DEFAULT:
        wanted = queries.SightingFilter(**{**wanted.__dict__, "limit": PAGE})
    rows, next_before_id = ([], None) if problem else wanted.page()
    args = {k: v for k, v in request.args.items() if k != "before_id"}
    return {
        "newest_url": url_for("history.index", **args),
        "older_url": url_for("history.index", **args, before_id=next_before_id),
        "rows": rows,
        "next_before_id": next_before_id,
        "wanted": wanted,
        "problem": problem,
        "tolerance": float(current_app.config["FACEREC_TOLERANCE"]),
        # For the filter and each row's "This is <person>".
        "people": db.session.execute(db.select(User.id, User.name).order_by(User.name)).all(),
        "filtered": any(
            request.args.get(k) for k in ("user_id", "unknown", "camera", "since", "until")
        ),
    }


@bp.get("/history")
def index():
    """Every sighting, newest first: crop, name, camera, when, how long, how close a match."""
    context = _page_context()
    cameras = db.session.scalars(db.select(Sighting.camera).distinct().order_by(Sighting.camera))
    status = 422 if context["problem"] else 200
    return render_template(
        "history/index.html",
        camera_choices=[(name, name) for name in cameras],
        retention_days=int(current_app.config["FACEREC_RETENTION_DAYS"]),
        **context,
    ), status


@bp.get("/history/rows")
def rows():
    """The table body alone, for the page's script to refresh without a reload."""
    context = _page_context()
    return render_template("history/_rows.html", **context), 422 if context["problem"] else 200


@bp.get("/history.csv")
def export_csv():
    """The filtered history (all pages) as CSV."""
    wanted, problem = _filter()
    if problem:
        return Response(problem + "\n", status=422, mimetype="text/plain")

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def taken() -> str:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text

        writer.writerow(CSV_FIELDS)
        yield taken()
        for row in wanted.all():
            data = row.to_dict()
            seconds = (
                round((row.ended_at - row.started_at).total_seconds(), 1) if row.ended_at else ""
            )
            writer.writerow(
                [
                    data["id"],
                    _cell(data["camera"]),
                    data["user_id"] if data["user_id"] is not None else "",
                    _cell(data["name"] or ""),
                    data["started_at"],
                    data["ended_at"] or "",
                    seconds,
                    data["frames"],
                    data["distance"] if data["distance"] is not None else "",
                    data["crop_url"] or "",
                ]
            )
            yield taken()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="facerec-history.csv"'
    return response


def _cell(text: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: make it plain text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
