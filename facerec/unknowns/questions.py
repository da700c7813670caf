"""Questions: "Is this Anna?" for the sightings whose name was a close call.

A sighting was named after someone with a distance close to that person's threshold (their own
one, ``facerec.thresholds``, under the tolerance of the camera that saw it): the recogniser was
nearly as ready to call the face unknown. Or the person has a look-alike (someone else's
sample within their threshold plus ``LOOK_ALIKE_MARGIN``), and the face could as well be that
other person. Those are the answers worth asking a human for: **Yes** adds the sighting's crop
as a sample (if it passes the sample rules) and **No** adds a negative ("this is not them");
either way the sighting is labelled by hand, which takes it out of the queue.

Nothing is stored for the queue: it is worked out on reading, from the newest ``CANDIDATES``
named sightings not labelled by hand whose distance is over the lowest threshold anyone can
have minus the margin (a range index probe), then each checked against its person's threshold
in Python. Retention prunes the sightings, and so the questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import gallery, thresholds
from ..config import current_settings
from ..extensions import db
from ..models import Camera, Sighting

MARGIN = 0.06  # a distance this close under the person's threshold is a close call
LOOK_ALIKE_MARGIN = 0.1  # someone else's sample this close over the threshold: a look-alike
CANDIDATES = 500  # the newest named sightings looked at


@dataclass(frozen=True)
class Question:
    sighting_id: int
    user_id: int
    name: str
    camera: str
    started: datetime
    distance: float
    threshold: float
    look_alike: bool  # asked because the person has a look-alike, not for the distance

    @property
    def crop_url(self) -> str:
        return f"/api/v1/sightings/{self.sighting_id}/crop.jpg"


def open_questions(cameras=None) -> list[Question]:
    """Every question waiting, newest first (``cameras``: auth.roles.visible_cameras)."""
    settings = current_settings()
    matcher = gallery.current()
    tolerance_of = {
        name: tolerance
        for name, tolerance in db.session.execute(
            select(Camera.name, Camera.tolerance).where(Camera.tolerance.is_not(None))
        )
    }
    lowest = min(thresholds.FLOOR, *tolerance_of.values(), settings.tolerance)
    query = (
        select(
            Sighting.id,
            Sighting.user_id,
            Sighting.name,
            Sighting.camera,
            Sighting.started_at,
            Sighting.distance,
        )
        .where(
            Sighting.user_id.is_not(None),
            Sighting.ended_at.is_not(None),
            Sighting.labelled_by_hand.is_(False),
            Sighting.crop.is_not(None),
            Sighting.encoding.is_not(None),
            Sighting.distance >= lowest - 2 * MARGIN,
        )
        .order_by(Sighting.started_at.desc(), Sighting.id.desc())
        .limit(CANDIDATES)
    )
    if cameras is not None:
        query = query.where(Sighting.camera.in_(sorted(cameras)))
    found = []
    for sighting_id, user_id, name, camera, started, distance in db.session.execute(query):
        tolerance = tolerance_of.get(camera, settings.tolerance)
        threshold = matcher.tolerance_for(user_id, tolerance)
        limit = matcher.thresholds.get(user_id)
        nearest = limit.nearest if limit is not None else None
        look_alike = nearest is not None and nearest <= threshold + LOOK_ALIKE_MARGIN
        # A look-alike's sightings are asked about from further under the threshold.
        margin = 2 * MARGIN if look_alike else MARGIN
        if distance >= threshold - margin:
            found.append(
                Question(
                    sighting_id, user_id, name, camera, started, distance, threshold, look_alike
                )
            )
    return found


def count(cameras=None) -> int:
    """How many questions wait (the navigation badge)."""
    return len(open_questions(cameras))
