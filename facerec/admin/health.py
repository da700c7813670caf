"""The recognition health page: what makes recognition worse here, and the action that fixes
each (people with too few or too alike samples, look-alike pairs, cameras whose faces are too
small, blurred or turned away to be used)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import render_template
from sqlalchemy import case, func, select

from .. import faces, gallery
from ..auth.roles import requires
from ..config import current_settings
from ..extensions import db
from ..models import FaceSample, PersonHeadroom, Sighting, User, utcnow
from ..unknowns.questions import LOOK_ALIKE_MARGIN
from . import bp

FEW_SAMPLES = 3  # fewer photos than this miss the person in other poses and light
ALIKE_SAMPLES = 0.15  # every photo of theirs this close to another: one pose, one light
CAMERA_DAYS = 7  # the sightings a camera's verdict is drawn from


@dataclass(frozen=True)
class CameraHealth:
    camera: str
    faces: int
    usable: int
    small: int
    blurred: int
    turned: int

    @property
    def worst(self) -> str | None:
        """The commonest reason its faces fail, when most of them do."""
        if self.usable * 2 >= self.faces:
            return None
        reasons = {"small": self.small, "blurred": self.blurred, "turned": self.turned}
        return max(reasons, key=reasons.get)


def _people():
    counts = select(FaceSample.user_id, func.count().label("n")).group_by(FaceSample.user_id)
    counts = counts.subquery()
    rows = db.session.execute(
        select(User, func.coalesce(counts.c.n, 0), PersonHeadroom)
        .outerjoin(counts, counts.c.user_id == User.id)
        .outerjoin(PersonHeadroom, PersonHeadroom.user_id == User.id)
        .order_by(User.name_key)
    ).all()
    matcher = gallery.current()
    tolerance = current_settings().tolerance
    few, alike, pairs, seen = [], [], [], set()
    for user, samples, room in rows:
        if samples < FEW_SAMPLES:
            few.append((user, samples))
        if room is None:
            continue
        if samples > 1 and room.own_spread is not None and room.own_spread < ALIKE_SAMPLES:
            alike.append((user, room.own_spread))
        threshold = matcher.tolerance_for(user.id, tolerance)
        near = room.nearest_distance
        if room.nearest is not None and near is not None and near <= threshold + LOOK_ALIKE_MARGIN:
            pair = frozenset((user.id, room.nearest_user_id))
            if pair not in seen:
                seen.add(pair)
                pairs.append((user, room.nearest, near, threshold))
    return few, alike, pairs


def _cameras() -> list[CameraHealth]:
    gate = faces.MEMBER_GATE
    since = utcnow() - timedelta(days=CAMERA_DAYS)
    measured = Sighting.face_height.is_not(None)

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = db.session.execute(
        select(
            Sighting.camera,
            count(measured),
            count(Sighting.passes(gate) & measured),
            count(Sighting.face_height < gate.min_height),
            count(Sighting.sharpness < gate.min_sharpness),
            count(Sighting.turn > gate.max_turn),
        )
        .where(Sighting.started_at >= since)
        .group_by(Sighting.camera)
        .order_by(Sighting.camera)
    ).all()
    return [CameraHealth(*(int(v or 0) if i else v for i, v in enumerate(r))) for r in rows]


@bp.get("/health")
@requires("settings")
def health():
    """People, look-alike pairs and cameras that make recognition worse, and what fixes each."""
    few, alike, pairs = _people()
    return render_template(
        "admin/health.html",
        few=few,
        alike=alike,
        pairs=pairs,
        cameras=_cameras(),
        few_samples=FEW_SAMPLES,
        camera_days=CAMERA_DAYS,
        gate=faces.MEMBER_GATE,
    )
