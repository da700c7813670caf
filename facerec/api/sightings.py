"""The sightings endpoints: the history of who was seen when, and each sighting's face crop."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from .. import models
from ..auth.roles import require_camera, requires, visible_cameras
from ..sightings import queries
from ..web import DATABASE_ID_MAX as ID_MAX
from . import bp, errors
from .contract import BINARY, Query, binary, operation, operations_on_id, utc_time
from .errors import ApiError
from .schemas import Sighting, nullable


class SightingQuery(Query):
    user_id = ma.fields.Integer(
        validate=validate.Range(1, ID_MAX, error="must be a person's id (1 to {max})."),
        metadata={"description": "Only this person's sightings."},
    )
    unknown = ma.fields.String(
        validate=validate.OneOf(["0", "1", "true", "false"]),
        metadata={"description": "1: only faces that matched nobody (not with `user_id`)."},
    )
    camera = ma.fields.String(
        validate=validate.Length(max=queries.CAMERA_MAX),
        metadata={"description": "Only this camera's sightings."},
    )
    since = utc_time("Started at or after", "2026-11-24T18:00:00Z")
    until = utc_time("Started before", "2026-11-25T00:00:00Z")
    limit = ma.fields.Integer(
        validate=validate.Range(min=1, max=queries.LIMIT_MAX),
        metadata={"description": f"Sightings per page (default {queries.LIMIT_DEFAULT})."},
    )
    before_id = ma.fields.Integer(
        validate=validate.Range(1, ID_MAX, error="must be a sighting's id (1 to {max})."),
        metadata={"description": "Only sightings older than this one (paging)."},
    )


class SightingList(ma.Schema):
    sightings = ma.fields.List(ma.fields.Nested(Sighting), required=True)
    next_before_id = nullable(
        ma.fields.Integer, "Pass as `before_id` for the next (older) page; null on the last."
    )


def get_or_404(sighting_id: int) -> models.Sighting:
    """The sighting with this id (404), if the asker may see its camera (403)."""
    row = errors.get_or_404(models.Sighting, sighting_id, "sighting")
    require_camera(row.camera)
    return row


# The operations on the sighting the path names: the view gets the Sighting.
on_sighting = operations_on_id("sighting_id", get_or_404, noun="sighting", tag="Sightings")


@bp.get("/sightings")
@requires("history")
@operation(
    "listSightings",
    tag="Sightings",
    summary="Who was seen when",
    description=(
        "Sightings newest first (one per track: a face continuously in view). Filters "
        "combine (`user_id` with `unknown=1`, or `until` before `since`, match nothing); "
        "`since`/`until` apply to when the sighting started. For the next page pass "
        "`next_before_id` as `before_id`."
    ),
    query=SightingQuery,
    responses={200: ("One page of sightings.", SightingList)},
    links={200: [(on_sighting, "$response.body#/sightings/0/id")]},
)
def list_sightings(query):
    """Sightings newest first, filtered, a page at a time (``next_before_id``)."""
    wanted = queries.SightingFilter(
        user_id=query.get("user_id"),
        unknown=query.get("unknown") in ("1", "true"),
        camera=query.get("camera") or None,
        since=queries.naive_utc(query.get("since")),
        until=queries.naive_utc(query.get("until")),
        before_id=query.get("before_id"),
        limit=query.get("limit") or queries.LIMIT_DEFAULT,
        cameras=visible_cameras(),
    )
    rows, next_before_id = wanted.page()
    return {"sightings": rows, "next_before_id": next_before_id}


@bp.get("/sightings/<int:sighting_id>")
@requires("history")
@on_sighting("getSighting", summary="One sighting", responses={200: ("The sighting.", Sighting)})
def get_sighting(sighting: models.Sighting):
    """One sighting."""
    return sighting


@bp.get("/sightings/<int:sighting_id>/crop.jpg")
@requires("history")
@on_sighting(
    "getSightingCrop",
    summary="The picture of a sighting's best face",
    responses={
        200: (
            "A JPEG of the face with a little margin, at most 200 px.",
            BINARY,
            ("image/jpeg", "application/octet-stream"),
        )
    },
)
def sighting_crop(sighting: models.Sighting):
    """The JPEG crop of the sighting's best face."""
    if not sighting.crop:
        raise ApiError(404, f"Sighting {sighting.id} has no picture.")
    # Sent as image/jpeg, or labelled application/octet-stream for a client that asks so.
    response = binary(sighting.crop, "image/jpeg")
    # A face: private to the signed-in user's browser, never kept by shared caches.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
