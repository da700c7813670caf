"""Looking at the unknown visitors again after the gallery changed.

Someone enrolled, a person given new samples or negatives: faces that matched nobody when they
were seen may match someone now. The unknowns thread then (``Placer.look_again``)

1. works each changed person's headroom out again (``facerec.thresholds.refresh``), so the
   thresholds below are the new ones;
2. matches every face of every visible group against the new gallery. A group whose faces
   all match one person and nobody else is that person: with ``FACEREC_AUTO_ASSIGN`` (on by
   default) its sightings are named after them at once, on the audit trail as done
   automatically, and no sample is added (a machine's guess never teaches the machine);
   otherwise, and for a group only some of whose faces match, the group is marked
   ``looks_like`` them: the unknowns page lists it first, as "Looks like X", with one click to
   assign it (which does add samples) and no "enrol as a new person";
3. names the unknown sightings that were never grouped because the gallery named them
   already (``placing``'s rule) the same way: "Unknown" no longer stands in the history for a
   face facerec now knows.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from .. import audit, faces, gallery, thresholds
from ..config import current_settings
from ..extensions import db
from ..models import Sighting, UnknownGroup, User, utcnow
from .service import relabel

log = logging.getLogger(__name__)


@dataclass
class Looked:
    """What one look at the unknowns found (tests, logs)."""

    thresholds: int = 0  # people whose headroom changed
    looks_like: int = 0  # groups marked "looks like"
    assigned: int = 0  # groups named automatically
    named: int = 0  # loose sightings named automatically


def look_again(app) -> Looked:
    """See the module doc. Commits."""
    settings = current_settings(app)
    found = Looked()
    for _attempt in range(5):
        try:
            found.thresholds = thresholds.refresh(gallery.current())
            break
        except thresholds.GalleryMoved:
            db.session.rollback()  # and the next gallery.current() loads the new version
    db.session.commit()
    matcher = gallery.current()
    tolerance = settings.tolerance
    members = defaultdict(list)
    rows = db.session.execute(
        select(Sighting.id, Sighting.group_id, Sighting.encoding)
        .join(UnknownGroup, UnknownGroup.id == Sighting.group_id)
        .where(
            UnknownGroup.dismissed_at.is_(None),
            UnknownGroup.user_id.is_(None),
            Sighting.user_id.is_(None),
            Sighting.encoding.is_not(None),
            Sighting.passes(faces.MEMBER_GATE),
        )
    )
    for sighting_id, group_id, encoding in rows:
        members[group_id].append((sighting_id, np.frombuffer(encoding, dtype="<f8")))
    groups = {
        g.id: g
        for g in db.session.scalars(
            select(UnknownGroup).where(
                UnknownGroup.dismissed_at.is_(None), UnknownGroup.user_id.is_(None)
            )
        )
    }
    for group_id, group in groups.items():
        verdict = _verdict(matcher, members.get(group_id, []), tolerance)
        if verdict is None:
            group.looks_like_user_id = group.looks_like_distance = None
            continue
        user_id, distance, everyone = verdict
        if everyone and settings.auto_assign:
            _name_group(group, db.session.get(User, user_id), distance)
            found.assigned += 1
        else:
            group.looks_like_user_id, group.looks_like_distance = user_id, distance
            found.looks_like += 1
    if settings.auto_assign:
        found.named = _name_loose(matcher, tolerance)
    db.session.commit()
    if found.assigned or found.named or found.looks_like:
        log.info(
            "unknowns looked at again: %d groups named, %d look like someone, %d sightings named",
            found.assigned,
            found.looks_like,
            found.named,
        )
    return found


def _verdict(matcher, faces_of_group, tolerance):
    """(user id, median distance, whether every face matched them) for the person most faces
    of a group match now; None when none does."""
    if not faces_of_group:
        return None
    matches = [matcher.match(vector, tolerance) for _id, vector in faces_of_group]
    named = Counter(m.user_id for m in matches if m.known)
    if not named:
        return None
    user_id, count = named.most_common(1)[0]
    distances = sorted(m.distance for m in matches if m.user_id == user_id)
    return user_id, distances[len(distances) // 2], count == len(matches)


def _name_group(group: UnknownGroup, user: User, distance: float):
    rows = db.session.scalars(
        select(Sighting).where(Sighting.group_id == group.id, Sighting.user_id.is_(None))
    ).all()
    for row in rows:
        relabel(row, user)
    group.user_id, group.resolved_at = user.id, utcnow()
    group.looks_like_user_id = group.looks_like_distance = None
    audit.record(
        "unknown.assigned",
        group,
        actor="facerec (automatically)",
        details={
            "person_id": user.id,
            "person": user.name,
            "sightings": len(rows),
            "samples_added": 0,
            "automatically": True,
            "distance": round(distance, 4),
        },
    )


def _name_loose(matcher, tolerance) -> int:
    """Unknown sightings left out of the groups because the gallery named them: named now."""
    rows = db.session.scalars(
        select(Sighting).where(
            Sighting.user_id.is_(None),
            Sighting.group_id.is_(None),
            Sighting.ended_at.is_not(None),
            Sighting.encoding.is_not(None),
            Sighting.passes(faces.MEMBER_GATE),
        )
    ).all()
    return sum(name_if_known(row, matcher, tolerance) for row in rows)


def name_if_known(row: Sighting, matcher, tolerance: float) -> bool:
    """Name an unknown sighting after the person the gallery matches it with now, if any
    (``FACEREC_AUTO_ASSIGN``), on the audit trail as done automatically."""
    match = matcher.match(row.vector, tolerance)
    if not match.known:
        return False
    user = db.session.get(User, match.user_id)
    relabel(row, user)
    audit.record(
        "sighting.relabelled",
        row,
        actor="facerec (automatically)",
        details={"from": None, "to": user.name, "person_id": user.id, "automatically": True},
    )
    return True
