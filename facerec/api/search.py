"""``POST /api/v1/sightings/search``: earlier sightings of a face, nearest first."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from .. import engine
from ..auth.roles import requires
from ..ratelimits import search_limit
from ..search import service
from ..web import DATABASE_ID_MAX, release_database
from . import bp
from .contract import ENGINE_BUSY, RATE_LIMITED, File, FormBody, JsonBody, operation
from .errors import ApiError
from .schemas import IMAGE, Sighting
from .sightings import get_or_404 as sighting_or_404
from .sightings import on_sighting


class Moment(ma.fields.String):
    """A time the search reads (``service.parse_time``): refused here, as a field of the
    body (422), when it is not one. Documented as a date-time, so generated requests send
    one."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=40))
        kwargs["metadata"] = {"format": "date-time", **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            service.parse_time(text, attr)
        except service.SearchError:
            raise ma.ValidationError(
                "must be a date or time such as 2026-11-24T18:41:59Z."
            ) from None
        return text


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
        validate=validate.Range(
            1, service.LIMIT_MAX, error="must be a number from {min} to {max}."
        ),
        metadata={
            "description": f"At most this many matches (default {service.LIMIT_DEFAULT}).",
            "example": 20,
        },
    ),
    "since": lambda: Moment(
        metadata={
            "description": "Only sightings that started at or after this (UTC unless it has an "
            "offset; a date alone, 2026-11-01, is accepted too, as its midnight).",
            "example": "2026-11-01T00:00:00Z",
        },
    ),
    "until": lambda: Moment(
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


def filters() -> dict:
    """A search's filters, as fields of a body (a form with the photo, or JSON)."""
    return {name: field() for name, field in FILTER_FIELDS.items()}


SearchPhoto = type(
    "SearchPhoto",
    (FormBody,),
    {
        "image": File(required=True, metadata={"description": IMAGE}),
        "face": ma.fields.Integer(
            validate=validate.Range(0, 100),
            metadata={"description": "With several faces: which one (0 = the largest)."},
        ),
        **filters(),
    },
)
SearchFilters = type(
    "SearchFilters",
    (JsonBody,),
    {
        "__doc__": "Find similar: the filters of a search with a sighting's face (all optional).",
        **filters(),
    },
)


class SearchBySighting(SearchFilters):
    """Find similar as searchSightings took it before searchSimilar (accepted there still)."""

    sighting_id = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, DATABASE_ID_MAX, error="must be a sighting's id (from 1)."),
    )


class SearchMatch(ma.Schema):
    distance = ma.fields.Float(required=True, metadata={"example": 0.32})
    sighting = ma.fields.Nested(Sighting, required=True)


class SearchMatches(ma.Schema):
    matches = ma.fields.List(
        ma.fields.Nested(SearchMatch), required=True, metadata={"description": "Nearest first."}
    )


def face_of_photo(data: bytes, choice):
    """The face to search for in an uploaded photo: the only one, or the one chosen by index."""
    release_database()  # no connection held while the engine works
    found = engine.faces_in_image(current_app, data)
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
        # The field is in range; the photo has fewer faces (its content, like "no face": 400).
        raise ApiError(
            400,
            f"{len(found)} face{'s were' if len(found) > 1 else ' was'} found in the photo; "
            f"“face” must be a number from 0 to {len(found) - 1}.",
        )
    return found[choice]


ERRORS = {429: RATE_LIMITED, 503: ENGINE_BUSY}
NO_ENCODING = (
    "The sighting has no face encoding to search with.",
    "This sighting has no face encoding to search with.",
)


def _filters(body: dict):
    try:
        return service.parse_filters(body, empty_range=True)
    except service.SearchError as exc:
        raise ApiError(exc.status, str(exc)) from None


def _matches(encoding, filters, source: str, sighting_id: int | None = None) -> dict:
    matches = service.search(encoding, filters)
    service.record(source, filters, len(matches), sighting_id)
    return {"matches": [{"distance": distance, "sighting": s} for distance, s in matches]}


@bp.post("/sightings/search")
@search_limit
@requires("search")
@operation(
    "searchSightings",
    tag="Search",
    summary="Earlier sightings of the face in a photo, nearest first",
    description=(
        "Send a photo as multipart `image` (with several faces, choose one with `face`, "
        "largest first from 0); to search with a sighting's face, use `searchSimilar`. Every "
        "search is recorded (who, when, how many results) on the audit trail (/admin/audit, "
        "GET /api/v1/audit?action=sightings.searched)."
    ),
    body={"multipart/form-data": SearchPhoto},
    compatible={
        "application/json": (
            SearchBySighting,
            '`{"sighting_id": N}` with the same filters (`tolerance`, `limit`, `since`, '
            "`until`, `camera`): Find similar, as `searchSimilar` does; 404 when there is no "
            "such sighting, 409 when it has no face encoding.",
        )
    },
    responses={200: ("The matches, nearest first.", SearchMatches)},
    links={200: [(on_sighting, "$response.body#/matches/0/sighting/id")]},
    errors={
        **ERRORS,
        400: (
            "Not an image, no face, or several faces without a choice.",
            "2 faces were found in the photo; choose one with the field “face” (0 to 1, "
            "largest first).",
        ),
        404: ('`{"sighting_id"}` in JSON: no sighting with this id.', "No sighting with id 42."),
        409: NO_ENCODING,
    },
)
def search_sightings(body):
    """Sightings whose face is within the tolerance of the photo's face (or, sent as JSON
    the way older clients do, of a sighting's)."""
    if "sighting_id" in body:
        return _similar(sighting_or_404(body.pop("sighting_id")), body)
    filters = _filters(body)
    face = face_of_photo(body["image"].read(), body.get("face"))
    return _matches(face.encoding, filters, "photo")


@bp.post("/sightings/<int:sighting_id>/similar")
@search_limit
@requires("search")
@on_sighting(
    "searchSimilar",
    tag="Search",
    summary="Find similar: earlier sightings of this sighting's face, nearest first",
    description=(
        "The sighting itself comes first, at distance 0. Every search is recorded (who, when, "
        "how many results) on the audit trail (GET /api/v1/audit?action=sightings.searched)."
    ),
    body=SearchFilters,
    responses={200: ("The matches, nearest first.", SearchMatches)},
    links={200: [(on_sighting, "$response.body#/matches/0/sighting/id")]},
    errors={**ERRORS, 409: NO_ENCODING},
)
def search_similar(sighting, body):
    """Sightings whose face is within the tolerance of this sighting's face."""
    return _similar(sighting, body)


def _similar(sighting, body: dict) -> dict:
    filters = _filters(body)
    if sighting.encoding is None:
        raise ApiError(409, NO_ENCODING[1])
    return _matches(sighting.vector, filters, "sighting", sighting.id)
