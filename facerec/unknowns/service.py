"""Unknown visitors in the database: grouping unknown sightings, enrolling, assigning, dismissing.

Only ended sightings with no person and an encoding are grouped. Placing is incremental
(``facerec.grouping``): when a sighting ends (the sightings subscription) and, for anything
missed, whenever the unknowns are listed (``place_pending``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict

import numpy as np
from flask import current_app
from sqlalchemy import func, select, update

from .. import face_jobs, faces, gallery, negatives, people
from ..config import current_settings
from ..extensions import db
from ..grouping import JOIN_FRACTION, Groups
from ..models import Sighting, UnknownGroup, User, iso, name_key, utcnow

# The best crops of a group shown on the page and offered as samples.
BEST_CROPS = 5

_placing = threading.Lock()


class GroupGone(LookupError):
    """The group does not exist (any more): merged into another one meanwhile, or never."""


class CannotCorrect(ValueError):
    """The correction does not apply to this sighting; the message says why."""


class GroupResolved(ValueError):
    """The group was already enrolled as or assigned to someone else."""


def join_distance() -> float:
    settings = current_settings()
    return settings.group_distance or JOIN_FRACTION * settings.tolerance


def _unknown(stmt):
    return stmt.where(Sighting.user_id.is_(None), Sighting.encoding.is_not(None))


def load_groups() -> Groups:
    """Every group (dismissed ones too: a dismissed visitor who returns stays dismissed)."""
    members = defaultdict(list)
    rows = db.session.execute(
        _unknown(select(Sighting.group_id, Sighting.encoding)).where(Sighting.group_id.is_not(None))
    )
    for group_id, encoding in rows:
        members[group_id].append(np.frombuffer(encoding, dtype="<f8"))
    groups = Groups(join_distance())
    for group_id in sorted(members):
        groups.load(group_id, members[group_id])
    return groups


def _new_group() -> int:
    row = UnknownGroup()
    db.session.add(row)
    db.session.flush()
    return row.id


def _merge(into: int, merged: list[int]):
    """Move the sightings of ``merged`` groups to group ``into`` and delete those groups."""
    if not merged:
        return
    survivor = db.session.get(UnknownGroup, into)
    for group_id in merged:
        gone = db.session.get(UnknownGroup, group_id)
        if gone is None:
            continue
        # A visitor that is visible in either group stays visible.
        if gone.dismissed_at is None:
            survivor.dismissed_at = None
        db.session.execute(
            update(Sighting).where(Sighting.group_id == group_id).values(group_id=into)
        )
        db.session.delete(gone)


def place(sightings, groups: Groups | None = None) -> int:
    """Put each unknown, ended, ungrouped sighting in a group; returns how many were placed.

    A face that the gallery now names (someone was enrolled since) is left out: grouping must
    never put a known person's face in an unknown group. The caller commits.
    """
    matcher = gallery.current()
    tolerance = current_settings().tolerance
    placed = 0
    for sighting in sightings:
        if sighting.user_id is not None or sighting.encoding is None or sighting.group_id:
            continue
        if sighting.ended_at is None:
            continue
        if matcher.match(sighting.vector, tolerance).known:
            continue
        if groups is None:
            groups = load_groups()
        group_id, merged = groups.add(sighting.vector, new_id=_new_group)
        sighting.group_id = group_id
        db.session.flush()
        _merge(group_id, merged)
        placed += 1
    return placed


def place_pending() -> int:
    """Group every unknown sighting not grouped yet, oldest first, and commit."""
    with _placing:
        pending = db.session.scalars(
            _unknown(select(Sighting))
            .where(Sighting.group_id.is_(None), Sighting.ended_at.is_not(None))
            .order_by(Sighting.started_at, Sighting.id)
            # Two servers on one PostgreSQL database never place the same sighting twice.
            .with_for_update(skip_locked=True)
        ).all()
        if not pending:
            return 0
        placed = place(pending)
        db.session.commit()
        return placed


def on_sighting(app, event: str, sighting: dict):
    """The sightings subscription: an unknown sighting that ended is grouped at once."""
    if event != "sighting.ended" or sighting.get("user_id") is not None:
        return
    with app.app_context():
        try:
            place_pending()
        finally:
            db.session.remove()


# ---- reading ----------------------------------------------------------------------------------


def visible_groups() -> list[UnknownGroup]:
    """Groups that are not dismissed and have unknown sightings, last seen first."""
    last = func.max(Sighting.started_at)
    rows = db.session.execute(
        select(UnknownGroup, last)
        .join(Sighting, Sighting.group_id == UnknownGroup.id)
        .where(UnknownGroup.dismissed_at.is_(None), Sighting.user_id.is_(None))
        .group_by(UnknownGroup.id)
        .order_by(last.desc(), UnknownGroup.id.desc())
    ).all()
    return [group for group, _ in rows]


def visible_count() -> int:
    return db.session.scalar(
        select(func.count(func.distinct(UnknownGroup.id)))
        .join(Sighting, Sighting.group_id == UnknownGroup.id)
        .where(UnknownGroup.dismissed_at.is_(None), Sighting.user_id.is_(None))
    )


def members(group: UnknownGroup) -> list[Sighting]:
    """The group's unknown sightings, newest first."""
    return db.session.scalars(
        select(Sighting)
        .where(Sighting.group_id == group.id, Sighting.user_id.is_(None))
        .order_by(Sighting.started_at.desc(), Sighting.id.desc())
    ).all()


def best(sightings: list[Sighting], limit: int = BEST_CROPS) -> list[Sighting]:
    """The sightings whose crops are best: seen for the most frames, then the closest faces."""
    with_crop = [s for s in sightings if s.crop]
    return sorted(with_crop, key=lambda s: (-(s.frames or 0), s.id))[:limit]


def summary(group: UnknownGroup) -> dict:
    """The group as GET /api/v1/unknowns gives it, plus the days it was seen and its best
    sightings (for the page)."""
    rows = members(group)
    starts = [s.started_at for s in rows]
    first, last = min(starts), max(starts)
    best_rows = best(rows)
    return {
        "id": group.id,
        "sightings": len(rows),
        "first_seen": iso(first),
        "last_seen": iso(last),
        "crop_urls": [f"/api/v1/sightings/{s.id}/crop.jpg" for s in best_rows],
        "days": sorted({s.date().isoformat() for s in starts}, reverse=True),
        "best": best_rows,
    }


def get_group(group_id: int) -> UnknownGroup:
    group = db.session.get(UnknownGroup, group_id)
    if group is None:
        raise GroupGone(f"No unknown group with id {group_id}.")
    return group


# ---- acting -----------------------------------------------------------------------------------


def crop_hash(sighting: Sighting) -> str:
    """The content hash a sighting's crop is stored under as a sample (so it is added once)."""
    return hashlib.sha256(sighting.crop).hexdigest()


def sample_from_sighting(sighting: Sighting) -> faces.Sample:
    """The sighting's crop checked like a wizard photo (one face, big and sharp enough).

    The encoding kept is the sighting's own (computed on the full camera frame).
    """
    checked = face_jobs.sample_from_image(current_app._get_current_object(), sighting.crop)
    return faces.Sample(
        encoding=sighting.vector, thumbnail=checked.thumbnail, content_hash=crop_hash(sighting)
    )


def add_sightings_to(user: User, sightings: list[Sighting]) -> tuple[int, list[str]]:
    """Add the best crops of ``sightings`` as samples of ``user`` (each checked); relabel them all.

    Returns (samples added, reasons for the crops refused). A crop that is already a sample
    (same bytes) is refused by the sample rules, so a retry adds nothing twice.
    """
    added, refused = 0, []
    for sighting in best(sightings):
        try:
            sample = sample_from_sighting(sighting)
            people.add_sample(user, sample, "sighting")
        except (faces.ImageError, faces.FaceRejected, people.SampleRejected) as exc:
            refused.append(f"Sighting {sighting.id}: {faces.sentence(str(exc))}")
            continue
        added += 1
    for sighting in sightings:
        relabel(sighting, user)
    return added, refused


def new_person_samples(sightings: list[Sighting]) -> tuple[list, list[str]]:
    """Sample rows for a new person from the best crops: each checked, no near-duplicates.

    The "looks like someone enrolled" question is asked for the whole group beforehand (the
    look-alike warning), as in the wizard, not per crop.
    """
    rows, refused = [], []
    for sighting in best(sightings):
        try:
            sample = sample_from_sighting(sighting)
        except (faces.ImageError, faces.FaceRejected) as exc:
            refused.append(f"Sighting {sighting.id}: {faces.sentence(str(exc))}")
            continue
        if any(np.linalg.norm(r.vector - sample.encoding) < people.NEAR_DUPLICATE for r in rows):
            refused.append(f"Sighting {sighting.id}: almost identical to another face kept.")
            continue
        rows.append(people.sample_row(sample, "sighting"))
    return rows, refused


def relabel(sighting: Sighting, user: User | None):
    """The sighting is ``user`` (or nobody); it leaves its unknown group when named."""
    sighting.user_id = user.id if user else None
    sighting.user = user
    sighting.name = user.name if user else None
    if user is not None:
        sighting.group_id = None


def look_alike(sightings: list[Sighting]) -> gallery.Match | None:
    """The enrolled person the group's faces are close to (within the tolerance), if any."""
    return people.look_alike([s.vector for s in sightings if s.encoding is not None])


def _resolved_to(group: UnknownGroup) -> User | None:
    return db.session.get(User, group.user_id) if group.user_id else None


def enroll_group(group: UnknownGroup, name: str, details: str = "") -> tuple[User, list[str], bool]:
    """A new person from the group's best crops; the group's sightings become theirs.

    Returns (person, crops refused, created). Sent again after it worked (same name), the
    person made the first time is returned and nothing is added. Raises PersonError for a bad
    or taken name, GroupResolved when the group went to someone else, SampleRejected when no
    crop passes the checks (nothing is created then). The caller commits.
    """
    name = people.clean_name(name)
    details = people.clean_details(details)
    earlier = _resolved_to(group)
    if earlier is not None:
        if earlier.name_key == name_key(name):
            return earlier, [], False
        raise GroupResolved(f"This visitor was already enrolled as or assigned to {earlier.name}.")
    people.check_name_free(name)
    rows = members(group)
    if not rows:
        raise GroupResolved("This visitor has no unknown sightings left to enrol.")
    samples, refused = new_person_samples(rows)
    if not samples:
        raise people.SampleRejected(
            "None of this visitor's faces passed the sample checks, so nobody was created. "
            + " ".join(refused)
        )
    user = people.create_person(name, details, samples)
    db.session.flush()
    for sighting in rows:
        relabel(sighting, user)
    _resolve(group, user)
    return user, refused, True


def assign_group(group: UnknownGroup, user: User) -> tuple[int, list[str]]:
    """The group is ``user``: their best crops become samples, their sightings are relabelled.

    Sent again, nothing is added twice: the group is already theirs and has no unknown
    sightings left (and a crop that is already a sample is refused by the sample rules).
    """
    earlier = _resolved_to(group)
    if earlier is not None and earlier.id != user.id:
        raise GroupResolved(f"This visitor was already enrolled as or assigned to {earlier.name}.")
    added, refused = add_sightings_to(user, members(group))
    _resolve(group, user)
    return added, refused


def _resolve(group: UnknownGroup, user: User):
    group.user_id = user.id
    group.resolved_at = utcnow()


def dismiss(group: UnknownGroup):
    """Hide the group from the unknowns; its sightings stay in the history."""
    if group.dismissed_at is None:
        group.dismissed_at = utcnow()


def not_this(sighting: Sighting, user: User):
    """“This is not <user>” on a sighting named them: a negative sample, and it becomes unknown.

    Raises CannotCorrect when the sighting is not named ``user`` or has no encoding, and
    SampleRejected when its face is almost one of the person's own samples. The caller commits.
    """
    if sighting.user_id != user.id:
        raise CannotCorrect(f"This sighting is not named {user.name}; nothing to correct.")
    if sighting.encoding is None:
        raise CannotCorrect("This sighting has no face encoding to learn from.")
    negatives.add_negative(user, sighting.vector, _thumbnail(sighting), None, sighting.id)
    relabel(sighting, None)
    db.session.flush()
    place([sighting])


def _thumbnail(sighting: Sighting) -> bytes | None:
    """The sighting's crop as a square thumbnail (None when there is no readable crop)."""
    if not sighting.crop:
        return None
    try:
        rgb = faces.load_image(sighting.crop)
    except faces.ImageError:
        return None
    height, width = rgb.shape[:2]
    return faces.thumbnail(rgb, (0, width, height, 0))
