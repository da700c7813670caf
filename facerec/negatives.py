"""Negative samples: faces that were wrongly given a person's name ("this is not them").

The gallery refuses a person for a face closer to one of their negatives than to their nearest
sample (``Gallery.match``); this module adds and removes the rows, through the ORM so that the
gallery version moves on and every process reloads.
"""

from __future__ import annotations

import numpy as np

from . import encodings
from .extensions import db
from .models import NegativeSample, User
from .people import NEAR_DUPLICATE, SampleRejected

# Two negatives of one person closer than this are the same face sent again: adding it twice
# changes nothing, so a retried request returns the first one.
SAME_FACE = 0.05


def add_negative(
    user: User,
    encoding,
    thumbnail: bytes | None = None,
    content_hash: str | None = None,
    sighting_id: int | None = None,
) -> tuple[NegativeSample, bool]:
    """Record that ``encoding`` is not ``user``; returns (row, created).

    The same photo, the same sighting or the same face again returns the existing row. A face
    almost identical to one of the person's own samples is refused (SampleRejected): it would
    stop them being recognised at all.
    """
    encoding = np.asarray(encoding, dtype=np.float64)
    existing = db.session.scalars(
        db.select(NegativeSample).where(NegativeSample.user_id == user.id)
    ).all()
    for row in existing:
        same_source = (content_hash and row.content_hash == content_hash) or (
            sighting_id is not None and row.sighting_id == sighting_id
        )
        if same_source or encodings.distance(row.vector, encoding) < SAME_FACE:
            return row, False
    own = encodings.nearest([s.vector for s in user.samples], encoding)
    if own < NEAR_DUPLICATE:
        raise SampleRejected(
            f"This face is almost identical to one of {user.name}'s own samples "
            f"(distance {own:.2f}); as a negative it would stop {user.name} being recognised. "
            "Delete that sample instead if it is not them."
        )
    row = NegativeSample(
        user_id=user.id, thumbnail=thumbnail, content_hash=content_hash, sighting_id=sighting_id
    )
    row.vector = encoding
    db.session.add(row)
    return row, True


def negatives_of(user_id: int) -> list[NegativeSample]:
    return db.session.scalars(
        db.select(NegativeSample)
        .where(NegativeSample.user_id == user_id)
        .order_by(NegativeSample.id)
    ).all()
