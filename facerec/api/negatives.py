"""``POST /api/v1/users/<id>/negatives``: "this face is not this person"."""

from __future__ import annotations

import hashlib

from flask import current_app, jsonify

from .. import face_jobs, negatives, people
from . import bp
from .errors import ApiError
from .inputs import image_field
from .users import commit, get_or_404


def negative_json(row) -> dict:
    return {"id": row.id, "user_id": row.user_id}


@bp.post("/users/<int:user_id>/negatives")
def add_negative(user_id):
    """Add a negative sample: the photo's one face was wrongly given this person's name."""
    user = get_or_404(user_id)
    data = image_field("image")
    # Exactly one face, but no size or sharpness minimum: the wrongly named faces are often
    # small camera faces, and the rule only needs their encoding.
    face = face_jobs.sample_from_image(current_app, data, min_height=1, min_sharpness=0.0)
    try:
        row, created = negatives.add_negative(
            user, face.encoding, face.thumbnail, hashlib.sha256(data).hexdigest()
        )
    except people.SampleRejected as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return jsonify(negative_json(row)), 201 if created else 200
