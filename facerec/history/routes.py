from __future__ import annotations

from flask import render_template, request, url_for

from .. import camera, csvfiles, shapes
from ..auth.roles import only_visible, requires, visible_cameras
from ..config import current_settings
from ..extensions import db
from ..gallery import distance_verdict
from ..models import Sighting, User
from ..sightings import Periods, queries
from . import bp

PAGE = 50


# The CSV's columns in order: the sighting's API shape (S) with "seconds" and "match" (the
# distance's verdict in the pages' words: "match below 0.60", "no match: above 0.60",
# "labelled by hand") added.
CSV_COLUMNS = (
    "id",
    "camera",
    "user_id",
    "name",
    "started_at",
    "ended_at",
    "seconds",
    "frames",
    "distance",
    "match",
    "crop_url",
)


def _verdict(row: Sighting, tolerance: float) -> str | None:
    """The CSV's "match" cell: the words the pages put after a distance, without brackets."""
    if row.distance is None:
        return None
    return distance_verdict(row.distance, tolerance, by_hand=row.labelled_by_hand)


def _tolerances():
    """camera name -> the tolerance it names faces with (its own, or the server's): a
    sighting's distance is read against the tolerance of the camera that saw it."""
    known: dict[str, float] = {}

    def tolerance_of(name: str) -> float:
        if name not in known:
            known[name] = camera.tuning(name).tolerance
        return known[name]

    return tolerance_of


def _filter() -> tuple[queries.SightingFilter, str | None]:
    """The filters of this request (the API's names), or no filter and what is wrong."""
    try:
        return queries.parse_filter(request.args, cameras=visible_cameras()), None
    except queries.FilterError as exc:
        return queries.SightingFilter(limit=PAGE, cameras=visible_cameras()), str(exc)


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
        "tolerance_of": _tolerances(),
        # For the filter and each row's "This is <person>".
        "people": db.session.execute(db.select(User.id, User.name).order_by(User.name)).all(),
        "filtered": any(
            request.args.get(k) for k in ("user_id", "unknown", "camera", "since", "until")
        ),
    }


@bp.get("/history")
@requires("history")
def index():
    """Every sighting, newest first: crop, name, camera, when, how long, how close a match."""
    context = _page_context()
    cameras = db.session.scalars(
        only_visible(db.select(Sighting.camera).distinct(), Sighting.camera).order_by(
            Sighting.camera
        )
    )
    status = 422 if context["problem"] else 200
    return render_template(
        "history/index.html",
        camera_choices=[(name, name) for name in cameras],
        kept=Periods.of(current_settings()),
        **context,
    ), status


@bp.get("/history/rows")
@requires("history")
def rows():
    """The table body alone, for the page's script to refresh without a reload."""
    context = _page_context()
    return render_template("history/_rows.html", **context), 422 if context["problem"] else 200


@bp.get("/history.csv")
@requires("history")
def export_csv():
    """The filtered history (all pages) as CSV."""
    wanted, problem = _filter()
    tolerance_of = _tolerances()

    def values(row: Sighting) -> dict:
        ended = row.ended_at
        seconds = round((ended - row.started_at).total_seconds(), 1) if ended else None
        match = _verdict(row, tolerance_of(row.camera))
        return shapes.sighting(row) | {"seconds": seconds, "match": match}

    return csvfiles.download("facerec-history.csv", CSV_COLUMNS, wanted.all, values, problem)
