"""Adding a face sample to an existing person, with the same checks as enrollment."""

from __future__ import annotations

import hashlib

import numpy as np
from flask import current_app

from .. import engine, faces
from ..enroll.drafts import NEAR_DUPLICATE  # the wizard's threshold: one rule everywhere
from ..extensions import db
from ..gallery import Gallery
from ..models import User
from ..people import sample_row


class SampleRejected(ValueError):
    """The face cannot be added to this person; the message says why."""


def add_sample(user: User, face: faces.Sample, source: str, content_hash: str | None = None):
    """Check ``face`` against the person and the gallery, then append it to ``user.samples``."""
    if content_hash and any(s.content_hash == content_hash for s in user.samples):
        raise SampleRejected(f"This photo is already one of {user.name}'s samples.")
    encoding = np.asarray(face.encoding, dtype=np.float64)
    own = min((float(np.linalg.norm(s.vector - encoding)) for s in user.samples), default=None)
    if own is not None and own < NEAR_DUPLICATE:
        raise SampleRejected(
            f"This face is almost identical to a sample {user.name} already has "
            f"(distance {own:.2f}). Use a different photo or pose."
        )
    tolerance = float(current_app.config["FACEREC_TOLERANCE"])
    other = Gallery.load(db.session).nearest_person([encoding], exclude={user.id})
    if other.known and other.distance <= tolerance and (own is None or other.distance < own):
        raise SampleRejected(
            f"This face looks like {other.name} (distance {other.distance:.2f}), who is already "
            f"enrolled, more than like {user.name}. Check that the picture shows {user.name}."
        )
    user.samples.append(sample_row(face, source, content_hash))


def sample_from_upload(data: bytes) -> tuple[faces.Sample, str]:
    """The single usable face of an uploaded photo and the photo's SHA-256."""
    app = current_app._get_current_object()
    return engine.sample_from_image(app, data), hashlib.sha256(data).hexdigest()


def sample_from_snapshot(rgb) -> faces.Sample:
    return engine.sample_from_frame(current_app._get_current_object(), rgb)
