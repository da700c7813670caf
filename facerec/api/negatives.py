"""``POST /api/v1/users/<id>/negatives``: "this face is not this person"."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app

from .. import engine, negatives, people
from ..auth.roles import requires
from ..ratelimits import upload_limit
from ..web import release_database
from . import bp
from .contract import ENGINE_BUSY, RATE_LIMITED, File, FormBody
from .errors import ApiError
from .schemas import IMAGE
from .users import commit, on_person


class NegativeUpload(FormBody):
    image = File(
        required=True,
        metadata={
            "description": IMAGE + " It must hold exactly one face (no size or sharpness minimum)."
        },
    )


class Negative(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 1})
    user_id = ma.fields.Integer(
        required=True, metadata={"description": "The person this face is not.", "example": 3}
    )


@bp.post("/users/<int:user_id>/negatives")
@upload_limit
@requires("correct")
@on_person(
    "addNegative",
    tag="Corrections",
    summary="Say that a face is not this person (a negative sample)",
    description=(
        "The photo must hold exactly one face (no size or sharpness minimum). From then on the "
        "person is refused for any face closer to one of their negatives than to their nearest "
        "sample; such a face goes to the next nearest person within the tolerance or stays "
        "unknown. The same photo or face again changes nothing (200 with the existing "
        "negative)."
    ),
    body={"multipart/form-data": NegativeUpload},
    responses={
        200: ("This face was already a negative of this person.", Negative),
        201: ("The negative sample was added.", Negative),
    },
    errors={
        400: (
            "The file is not an image, is larger than ${max_pixels}, or does not hold exactly "
            "one face.",
            "2 faces were found. Only the person being enrolled may be in the picture.",
        ),
        409: (
            "The face is almost identical to one of the person's own samples: as a negative it "
            "would stop them being recognised.",
            "This face is almost identical to one of Ada Lovelace's own samples (distance "
            "0.08); as a negative it would stop Ada Lovelace being recognised. Delete that "
            "sample instead if it is not them.",
        ),
        429: RATE_LIMITED,
        503: ENGINE_BUSY,
    },
)
def add_negative(user, body):
    """Add a negative sample: the photo's one face was wrongly given this person's name."""
    data = body["image"].read()
    # Exactly one face, but no size or sharpness minimum: the wrongly named faces are often
    # small camera faces, and the rule only needs their encoding.
    release_database()  # no connection held while the engine works
    face = engine.sample_from_image(
        current_app, data, min_height=1, min_sharpness=0.0, max_turn=1.0
    )
    try:
        row, created = negatives.add_negative(
            user, face.encoding, face.thumbnail, face.content_hash
        )
    except people.SampleRejected as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return row, 201 if created else 200
