"""``POST /api/v1/sightings/search``: earlier sightings of a face, nearest first."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from .. import face_jobs
from ..auth.roles import requires
from ..search import service
from ..web import DATABASE_ID_MAX as ID_MAX
from . import bp
from .contract import ENGINE_BUSY, File, FormBody, JsonBody, operation
from .errors import ApiError
from .schemas import IMAGE, Sighting
from .sightings import get_or_404 as sighting_or_404

FILTER_FIELDS = {
    "tolerance": lambda: ma.fields.Float(
        allow_nan=False,
        validate=validate.Range(0, 1, error="must be a number from 0 to 1."),
        metadata={
            "description": (
                "The largest distance returned; ${tolerance} (FACEREC_TOLERANCE) when absent."
            ),
            "example": 0.5,
        },
    ),
    "limit": lambda: ma.fields.Integer(
        validate=validate.Range(1, service.LIMIT_MAX, error="must be a number from 1 to 500."),
        metadata={"description": "At most this many matches (default 50).", "example": 20},
    ),
    "since": lambda: ma.fields.String(
        validate=validate.Length(max=40),
        metadata={
            "description": "Only sightings that started at or after this (ISO 8601; a date "
            "alone is its midnight, UTC).",
            "example": "2026-11-01",
        },
    ),
    "until": lambda: ma.fields.String(
        validate=validate.Length(max=40),
        metadata={
            "description": "Only sightings that started at or before this.",
            "example": "2026-11-30T23:59:59Z",
        },
    ),
    "camera": lambda: ma.fields.String(
        validate=validate.Length(max=service.CAMERA_MAX),
        metadata={"description": "Only this camera.", "example": "main"},
    ),
}


class SearchPhoto(FormBody):
    image = File(required=True, metadata={"description": IMAGE})
    face = ma.fields.Integer(
        validate=validate.Range(0, 100),
        metadata={"description": "With several faces: which one (0 = the largest)."},
    )
    tolerance = FILTER_FIELDS["tolerance"]()
    limit = FILTER_FIELDS["limit"]()
    since = FILTER_FIELDS["since"]()
    until = FILTER_FIELDS["until"]()
    camera = FILTER_FIELDS["camera"]()


class SearchSighting(JsonBody):
    sighting_id = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, ID_MAX, error="must be a sighting's id (from 1)."),
        metadata={
            "description": "Find similar: search with this sighting's face.",
            "example": 17,
        },
    )
    tolerance = FILTER_FIELDS["tolerance"]()
    limit = FILTER_FIELDS["limit"]()
    since = FILTER_FIELDS["since"]()
    until = FILTER_FIELDS["until"]()
    camera = FILTER_FIELDS["camera"]()


class SearchMatch(ma.Schema):
    distance = ma.fields.Float(required=True, metadata={"example": 0.32})
    sighting = ma.fields.Nested(Sighting, required=True)


class SearchMatches(ma.Schema):
    matches = ma.fields.List(
        ma.fields.Nested(SearchMatch), required=True, metadata={"description": "Nearest first."}
    )


def face_of_photo(data: bytes, choice):
    """The face to search for in an uploaded photo: the only one, or the one chosen by index."""
    found = face_jobs.faces_in_image(current_app, data)
    if not found:
        raise ApiError(400, "No face was found in the photo.")
    if choice is None:
        if len(found) > 1:
            raise ApiError(
                400,
                f"{len(found)} faces were found in the photo; choose one with the field “face” "
                f"(0 to {len(found) - 1}, largest first).",
            )
        return found[0]
    if not 0 <= choice < len(found):
        raise ApiError(422, f"“face” must be a number from 0 to {len(found) - 1}.")
    return found[choice]


@bp.post("/sightings/search")
@requires("search")
@operation(
    "searchSightings",
    tag="Search",
    summary="Earlier sightings of a face (a photo's, or a sighting's), nearest first",
    description=(
        "Send a photo as multipart `image` (with several faces, choose one with `face`, largest "
        'first from 0), or JSON `{"sighting_id": N}` for **Find similar** (that sighting comes '
        "first, at distance 0). Every search is recorded (who, when, how many results) and "
        "listed on /history/searches."
    ),
    body={"multipart/form-data": SearchPhoto, "application/json": SearchSighting},
    responses={200: ("The matches, nearest first.", SearchMatches)},
    errors={
        400: (
            "Not an image, no face, several faces without a choice, or a `since`/`until` that "
            "is not a date (or `since` after `until`).",
            "2 faces were found in the photo; choose one with the field “face” (0 to 1, "
            "largest first).",
        ),
        404: ("No sighting with this id.", "No sighting with id 42."),
        409: ("The sighting has no face encoding.", "This sighting has no face encoding."),
        503: ENGINE_BUSY,
    },
)
def search_sightings(body):
    """Sightings whose face is within the tolerance of a photo's face or of a sighting's."""
    try:
        filters = service.parse_filters(body)
    except service.SearchError as exc:
        raise ApiError(exc.status, str(exc)) from None
    sighting_id = body.get("sighting_id")
    if sighting_id is not None:
        row = sighting_or_404(sighting_id)
        if row.encoding is None:
            raise ApiError(409, "This sighting has no face encoding to search with.")
        encoding, source = row.vector, "sighting"
    else:
        encoding = face_of_photo(body["image"].read(), body.get("face")).encoding
        source = "photo"
    matches = service.search(encoding, filters)
    service.record(source, filters, len(matches), sighting_id)
    return {"matches": [{"distance": distance, "sighting": s} for distance, s in matches]}
