"""Each person's own match threshold, computed from how far their faces are from everyone else's.

One global tolerance either confuses two people who look alike or misses someone whose photos
vary. So each person gets a threshold of their own (unless someone set one by hand,
``User.tolerance``), never looser than the tolerance in force (``FACEREC_TOLERANCE`` or the
camera's):

- their *headroom* (``PersonHeadroom``): the nearest sample of anyone else and the nearest of
  their negatives ("this is not them"); a face about that far from them could as well be that
  other person or that stranger, so their threshold stays ``MARGIN`` inside it;
- their *own spread*: how far apart their own photos are (the largest distance from a sample
  to their nearest other one), and at least ``FLOOR``, so that their own faces keep matching.

A person far from everyone (the usual case) keeps the tolerance in force; a look-alike pair
gets thresholds that separate them where their photos allow, and the person page (and the
recognition health page) says when they cannot.

``refresh()`` works the headroom out again for the people whose samples or negatives changed,
and for those whose nearest person did: O(their samples x every sample), never every pair.
The unknowns thread runs it whenever the gallery changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from .encodings import as_rows
from .extensions import db
from .models import FaceSample, NegativeSample, PersonHeadroom, User, gallery_version

log = logging.getLogger(__name__)

FLOOR = 0.5  # a threshold tighter than this misses a person's own faces on ordinary photos
MARGIN = 0.1  # how far inside the nearest other face a threshold stays
# A threshold set by hand (the person page, the API) lies in this range: below it a person's
# own faces are hardly ever close enough.
BY_HAND_MIN, BY_HAND_MAX = 0.1, 1


@dataclass(frozen=True)
class Threshold:
    """What a person's threshold is computed from (and a value set by hand, if any)."""

    override: float | None = None
    own_spread: float | None = None
    nearest: float | None = None  # the nearest sample of someone else
    negative: float | None = None  # the nearest of their negatives

    def floor(self, tolerance: float) -> float:
        return min(tolerance, max(FLOOR, self.own_spread or 0.0))

    def computed(self, tolerance: float) -> float:
        """The threshold worked out from the headroom, under ``tolerance``."""
        near = [d for d in (self.nearest, self.negative) if d is not None]
        if not near:
            return tolerance
        return round(min(tolerance, max(self.floor(tolerance), min(near) - MARGIN)), 4)

    def effective(self, tolerance: float) -> float:
        """The threshold in force: set by hand, or computed under ``tolerance``."""
        return self.override if self.override is not None else self.computed(tolerance)


def threshold_of(user: User) -> Threshold:
    room = user.headroom
    if room is None:
        return Threshold(user.tolerance)
    return Threshold(user.tolerance, room.own_spread, room.nearest_distance, room.negative_distance)


def headroom(user: User, tolerance: float) -> dict:
    """A person's headroom as the API and the person page give it."""
    limit = threshold_of(user)
    effective = limit.effective(tolerance)
    room = user.headroom
    person = stranger = None
    if room is not None and room.nearest_distance is not None and room.nearest is not None:
        person = {
            "id": room.nearest_user_id,
            "name": room.nearest.name,
            "distance": round(room.nearest_distance, 4),
        }
    strangers = [
        (d, sid)
        for d, sid in (
            (room.negative_distance, None) if room else (None, None),
            (room.stranger_distance, room.stranger_sighting_id) if room else (None, None),
        )
        if d is not None
    ]
    if strangers:
        distance, sighting_id = min(strangers, key=lambda pair: pair[0])
        stranger = {"distance": round(distance, 4), "sighting_id": sighting_id}
    separates = all(entry is None or effective < entry["distance"] for entry in (person, stranger))
    return {
        "tolerance": round(effective, 4),
        "computed": user.tolerance is None,
        "nearest_person": person,
        "nearest_stranger": stranger,
        "separates": separates,
    }


# ---- working the headroom out ------------------------------------------------------------------


def _signatures() -> dict[int, str]:
    """Per person, what their headroom depends on besides other people: their samples and
    negatives (how many, and the newest id: any change moves one of them)."""
    samples = dict(
        (uid, f"{n}:{top}")
        for uid, n, top in db.session.execute(
            select(FaceSample.user_id, func.count(), func.max(FaceSample.id)).group_by(
                FaceSample.user_id
            )
        )
    )
    negatives = dict(
        (uid, f"{n}:{top}")
        for uid, n, top in db.session.execute(
            select(NegativeSample.user_id, func.count(), func.max(NegativeSample.id)).group_by(
                NegativeSample.user_id
            )
        )
    )
    people = db.session.scalars(select(User.id)).all()
    return {uid: f"{samples.get(uid, '0')}|{negatives.get(uid, '0')}" for uid in people}


class GalleryMoved(RuntimeError):
    """The gallery changed while the headroom was being worked out: load it again, retry."""


def refresh(gallery) -> int:
    """Work the headroom out again where it changed; returns how many people changed. The
    caller commits (a change moves the gallery version on, so every matcher reloads).

    Raises GalleryMoved when people or samples changed since ``gallery`` was loaded: the
    headroom must be worked out from the samples the signatures describe, not older ones.
    """
    signatures = _signatures()
    if gallery_version(db.session) != gallery.version:
        raise GalleryMoved(f"the gallery moved on from version {gallery.version}")
    rooms = {room.user_id: room for room in db.session.scalars(select(PersonHeadroom))}
    changed = {
        uid
        for uid, signature in signatures.items()
        if uid not in rooms or rooms[uid].signature != signature
    }
    for uid, room in rooms.items():
        gone = room.nearest_user_id is None and room.nearest_distance is not None
        if uid in signatures and (gone or room.nearest_user_id in changed):
            changed.add(uid)
    if not changed:
        return 0
    updated = 0
    closer: dict[int, tuple[float, int]] = {}  # unchanged person -> (distance, changed one)
    for uid in sorted(changed):
        room = rooms.get(uid)
        if room is None:
            room = rooms[uid] = PersonHeadroom(user_id=uid)
            db.session.add(room)
        values, per_person = _measure(gallery, uid)
        values["signature"] = signatures[uid]
        updated += _assign(room, values)
        for other, distance in per_person.items():
            if other not in changed and distance < closer.get(other, (np.inf, 0))[0]:
                closer[other] = (distance, uid)
    for other, (distance, uid) in closer.items():
        room = rooms.get(other)
        if room is not None and (
            room.nearest_distance is None or distance < room.nearest_distance - 1e-6
        ):
            room.nearest_user_id, room.nearest_distance = uid, round(distance, 4)
            updated += 1
    return updated


def _measure(gallery, uid: int) -> tuple[dict, dict[int, float]]:
    """A person's own spread, nearest other person and nearest negative; and the distance
    from them to every other person (for the others' nearest). One pass over the gallery's
    matrix per sample of theirs."""
    values = {
        "own_spread": None,
        "nearest_user_id": None,
        "nearest_distance": None,
        "negative_distance": None,
    }
    owners = gallery.user_ids
    mine = np.flatnonzero(owners == uid)
    if not len(mine):
        return values, {}
    nearest = np.full(len(owners), np.inf)
    for row in mine:
        nearest = np.minimum(nearest, gallery.samples.distances(gallery.matrix[row]))
    own = as_rows(gallery.matrix[mine], np.float64)
    if len(mine) > 1:
        apart = np.linalg.norm(own[:, None, :] - own[None, :, :], axis=2)
        np.fill_diagonal(apart, np.inf)
        values["own_spread"] = round(float(apart.min(axis=1).max()), 4)
    nearest[mine] = np.inf
    per_person: dict[int, float] = {}
    if np.isfinite(nearest).any():
        # The smallest distance to each other person: sort by distance, keep each one's first.
        order = np.argsort(nearest, kind="stable")
        order = order[np.isfinite(nearest[order])]
        people, first = np.unique(owners[order], return_index=True)
        for person, at in zip(people.tolist(), order[first].tolist(), strict=True):
            # Exactly, not in the fast form's float32.
            per_person[person] = float(
                np.linalg.norm(as_rows(gallery.matrix[at], np.float64) - own, axis=1).min()
            )
        winner = min(per_person, key=per_person.get)
        values["nearest_user_id"] = winner
        values["nearest_distance"] = round(per_person[winner], 4)
    negatives = gallery.negative_rows(uid)
    if len(negatives):
        gaps = np.linalg.norm(as_rows(negatives, np.float64)[None, :, :] - own[:, None, :], axis=2)
        values["negative_distance"] = round(float(gaps.min()), 4)
    return values, per_person


def _assign(room: PersonHeadroom, values: dict) -> int:
    """Set the values that changed (so an unchanged person writes nothing)."""
    moved = False
    for key, value in values.items():
        now = getattr(room, key)
        if isinstance(value, float) and isinstance(now, float):
            if abs(value - now) < 1e-6:
                continue
        elif value == now:
            continue
        setattr(room, key, value)
        moved = True
    return int(moved)


def note_stranger(user_id: int, distance: float, sighting_id: int) -> bool:
    """An unknown face was seen ``distance`` from this person: keep it if it is the nearest
    yet (the person page's "closest stranger seen"). Returns whether it was."""
    room = db.session.get(PersonHeadroom, user_id)
    if room is None or (room.stranger_distance is not None and room.stranger_distance <= distance):
        return False
    room.stranger_distance, room.stranger_sighting_id = round(distance, 4), sighting_id
    return True
