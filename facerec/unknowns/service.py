"""Unknown visitors in the database: their sightings as samples, corrections on a sighting.

Placing sightings in groups is ``placing``'s (on its own thread); reading the groups for the
page and the API is ``listing``'s; enrolling, assigning, dismissing, merging and splitting
groups (several at once) is ``actions``'.
"""

from __future__ import annotations

import hashlib

from flask import abort, current_app
from sqlalchemy import select

from .. import audit, engine, faces, gallery, negatives, people
from ..auth.roles import current_access, visible_cameras
from ..extensions import db
from ..models import Sighting, UnknownGroup, User
from .listing import BEST_CROPS, seen_on


class GroupGone(LookupError):
    """The group does not exist (any more): merged into another one meanwhile, or never."""


class CannotCorrect(ValueError):
    """The correction does not apply to this sighting; the message says why."""


class GroupResolved(ValueError):
    """The group was already enrolled as or assigned to someone else."""


# ---- reading ----------------------------------------------------------------------------------


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


def get_group(group_id: int) -> UnknownGroup:
    group = db.session.get(UnknownGroup, group_id)
    if group is None:
        raise GroupGone(f"No unknown group with id {group_id}.")
    return group


def require_visible(group: UnknownGroup):
    """403 unless the request may see the group: an account limited to some cameras sees
    (and acts on) only visitors seen on one of them."""
    if not seen_on(group.id, visible_cameras()):
        abort(
            403,
            description=f"{current_access().who} may not see this visitor (seen on "
            "cameras it is not given).",
        )


# ---- acting -----------------------------------------------------------------------------------


def crop_hash(sighting: Sighting) -> str:
    """The content hash a sighting's crop is stored under as a sample (so it is added once)."""
    return hashlib.sha256(sighting.crop).hexdigest()


class PoorCrop(faces.FaceRejected):
    """The face the camera saw is too small, blurred or turned away to become a sample."""

    reason = "poor face"


def sample_problems(sighting: Sighting) -> list[str]:
    """Why the sighting's face cannot become a sample, measured where the camera saw it."""
    quality = sighting.quality
    return faces.SAMPLE_GATE.problems(quality) if quality is not None else []


def sample_from_sighting(sighting: Sighting) -> faces.Sample:
    """The sighting's crop as a sample: the face as the camera saw it must pass the sample
    gate (height in the frame, sharpness, facing the camera), and the crop must hold exactly
    one face. Raises PoorCrop (``"too small: 62 px (at least 80)"``) or FaceRejected.

    The encoding kept is the sighting's own (computed on the full camera frame). A sighting
    recorded before faces were measured is checked on its crop, like a wizard photo.
    """
    problems = sample_problems(sighting)
    if problems:
        raise PoorCrop("; ".join(problems).capitalize())
    checks = {}
    if sighting.quality is not None:
        # Measured on the frame already; the crop may be scaled down, so only its face counts.
        checks = {"min_height": 1, "min_sharpness": 0.0, "max_turn": 1.0}
    checked = engine.sample_from_image(current_app._get_current_object(), sighting.crop, **checks)
    return faces.Sample(
        encoding=sighting.vector, thumbnail=checked.thumbnail, content_hash=crop_hash(sighting)
    )


def add_sightings_to(
    user: User, sightings: list[Sighting], candidates: list[Sighting] | None = None
) -> tuple[int, list[str]]:
    """Add the crops of ``candidates`` (default: the best of ``sightings``) as samples of
    ``user``, each checked; relabel every one of ``sightings``.

    Returns (samples added, reasons for the crops refused). A crop that is already a sample
    (same bytes) is refused by the sample rules, so a retry adds nothing twice.
    """
    added, refused = 0, []
    for sighting in best(sightings) if candidates is None else candidates:
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


def new_person_samples(sightings: list[Sighting], name: str) -> tuple[list, list[str]]:
    """Sample rows for a new person from the best crops, each through ``people.check_sample``
    (the same photo or a near-duplicate of a crop already kept is left out).

    The "looks like someone enrolled" question is asked for the whole group beforehand (the
    look-alike warning), as in the wizard, not per crop.
    """
    kept, rows, refused = [], [], []
    for sighting in best(sightings):
        try:
            sample = sample_from_sighting(sighting)
            people.check_sample(None, sample, taken=kept, name=name)
        except (faces.ImageError, faces.FaceRejected, people.SampleRejected) as exc:
            refused.append(f"Sighting {sighting.id}: {faces.sentence(str(exc))}")
            continue
        kept.append(sample)
        rows.append(people.sample_row(sample, "sighting"))
    return rows, refused


def relabel(sighting: Sighting, user: User | None):
    """The sighting is ``user`` (or nobody), by hand; it leaves its unknown group when named."""
    sighting.labelled_by_hand = True
    sighting.user_id = user.id if user else None
    sighting.user = user
    sighting.name = user.name if user else None
    if user is not None:
        sighting.group_id = None


def look_alike(sightings: list[Sighting]) -> gallery.Match | None:
    """The enrolled person the group's faces are close to (within the tolerance), if any."""
    return people.look_alike([s.vector for s in sightings if s.encoding is not None])


def _outcome(user: User, sightings: list[Sighting], samples: int, refused: list[str]) -> dict:
    """What the audit keeps of an enrolment or an assignment."""
    return {
        "person_id": user.id,
        "person": user.name,
        "sightings": len(sightings),
        "samples_added": samples,
        "crops_refused": len(refused),
    }


def label_as(sighting: Sighting, user: User) -> tuple[int, list[str]]:
    """“This is <user>” on one sighting: relabelled, its crop a sample if it passes the checks.
    Returns ``add_sightings_to``'s (added, refused). The caller commits."""
    before = sighting.name
    added, refused = add_sightings_to(user, [sighting])
    audit.record(
        "sighting.relabelled",
        sighting,
        details={"from": before, "to": user.name, "person_id": user.id, "sample_added": added},
    )
    return added, refused


def not_this(sighting: Sighting, user: User):
    """“This is not <user>” on a sighting named them: a negative sample, and it becomes unknown.

    Raises CannotCorrect when the sighting is not named ``user`` or has no encoding, and
    SampleRejected when its face is almost one of the person's own samples. The caller
    commits, then ``unknowns.place_now([sighting.id])`` puts it in a group.
    """
    if sighting.user_id != user.id:
        raise CannotCorrect(f"This sighting is not named {user.name}; nothing to correct.")
    if sighting.encoding is None:
        raise CannotCorrect("This sighting has no face encoding to learn from.")
    negatives.add_negative(user, sighting.vector, _thumbnail(sighting), None, sighting.id)
    audit.record(
        "sighting.relabelled",
        sighting,
        details={"from": sighting.name, "to": None, "not_person_id": user.id},
    )
    relabel(sighting, None)


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
