"""Creating and changing enrolled people: the rules every path (wizard, admin, CLI, API) shares."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
from flask import current_app
from sqlalchemy import select

from . import faces, gallery
from .extensions import db
from .models import NAME_MAX, FaceSample, User, name_key

DETAILS_MAX = 2000
DETAILS_WHITESPACE = "\t\n\r"  # the only control characters a textarea sends on purpose


class PersonError(ValueError):
    """A person's name or details break a rule; the message says which."""


class DuplicateName(PersonError):
    pass


class SampleRejected(ValueError):
    """The face cannot be added to this person; the message says why."""


# Two samples of one face closer than this add nothing (same photo, same pose). Different
# photos of one person are usually 0.3-0.5 apart.
NEAR_DUPLICATE = 0.15


def _has_control(text: str, allowed: str = "") -> bool:
    # NUL and friends: PostgreSQL refuses NUL outright (a 500), OpenCV cuts the label drawn on
    # the stream at it, and the JSON API already refuses it; one rule for every path.
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def clean_name(raw: str | None) -> str:
    """Trim and fold inner white space; raise PersonError for an empty or too long name."""
    name = " ".join((raw or "").split())
    if not name:
        raise PersonError("A name is required.")
    if len(name) > NAME_MAX:
        raise PersonError(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).")
    if _has_control(name):
        raise PersonError("The name must not contain control characters.")
    try:
        # A file name that is not UTF-8 (the importer) arrives with lone surrogates; the
        # database driver would raise UnicodeEncodeError, which no caller expects.
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PersonError("The name is not valid Unicode text.") from None
    return name


def clean_details(raw: str | None) -> str:
    details = (raw or "").strip()
    if len(details) > DETAILS_MAX:
        raise PersonError(f"The details are too long (at most {DETAILS_MAX} characters).")
    if _has_control(details, allowed=DETAILS_WHITESPACE):
        raise PersonError("The details must not contain control characters.")
    return details


def find_by_name(name: str) -> User | None:
    """The person with this name, whatever its case and spacing."""
    return db.session.execute(select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()


def check_name_free(name: str, exclude_id: int | None = None):
    existing = find_by_name(name)
    if existing is not None and existing.id != exclude_id:
        raise DuplicateName(f"A person named “{existing.name}” already exists.")


def sample_row(sample: faces.Sample, source: str, content_hash: str | None = None) -> FaceSample:
    row = FaceSample(thumbnail=sample.thumbnail, source=source, content_hash=content_hash)
    row.vector = sample.encoding
    return row


def create_person(name: str, details: str = "", samples: Iterable[FaceSample] = ()) -> User:
    """Add a person with their samples to the session (the caller commits: one transaction)."""
    name = clean_name(name)
    check_name_free(name)
    user = User(name=name, details=clean_details(details))
    user.samples.extend(samples)
    db.session.add(user)
    return user


def update_person(user: User, name: str, details: str) -> User:
    name = clean_name(name)
    check_name_free(name, exclude_id=user.id)
    user.name = name
    user.details = clean_details(details)
    return user


def add_sample(user: User, face: faces.Sample, source: str, content_hash: str | None = None):
    """Check ``face`` against the person and the gallery, then append it to ``user.samples``.

    Refused (SampleRejected): the same file again, a near-duplicate of one of their samples,
    or a face closer to someone else enrolled than to them.
    """
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
    other = gallery.current().nearest_person([encoding], exclude={user.id})
    if other.known and other.distance <= tolerance and (own is None or other.distance < own):
        raise SampleRejected(
            f"This face looks like {other.name} (distance {other.distance:.2f}), who is already "
            f"enrolled, more than like {user.name}. Check that the picture shows {user.name}."
        )
    row = sample_row(face, source, content_hash)
    user.samples.append(row)
    return row
