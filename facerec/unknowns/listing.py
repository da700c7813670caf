"""Reading the unknown visitors: every group's figures and best crops in two queries.

Nothing here writes (a GET only reads; placing is ``placing.Placer``'s job), and nothing loads
a crop or an encoding: the page and the API get ids, counts and times, and each crop is
fetched by the browser from its own URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, exists, func, select

from ..extensions import db
from ..faces import SAMPLE_GATE
from ..models import Sighting, UnknownGroup, User, iso

# The best crops of a group shown on the page and offered as samples.
BEST_CROPS = 5


@dataclass(frozen=True)
class Crop:
    """One of a group's best sightings, as the page shows it."""

    sighting_id: int
    camera: str
    started_at: datetime

    @property
    def url(self) -> str:
        return f"/api/v1/sightings/{self.sighting_id}/crop.jpg"


@dataclass(frozen=True)
class LooksLike:
    """The enrolled person a group's faces match now (``looking``)."""

    user_id: int
    name: str
    distance: float


@dataclass(frozen=True)
class GroupSummary:
    """A group as GET /api/v1/unknowns gives it, plus what the page shows."""

    id: int
    sightings: int
    first: datetime
    last: datetime
    days: int  # distinct days it was seen on
    best: tuple[Crop, ...]
    sample_ready: int = 0  # faces that pass the sample gate (or were never measured)
    largest: int | None = None  # the tallest face, in pixels of its frame
    sharpest: float | None = None
    looks_like: LooksLike | None = None  # someone enrolled since, whom its faces match

    @property
    def cannot_enrol(self) -> str | None:
        """Why none of the group's faces can become a sample (None when one can)."""
        if self.sample_ready:
            return None
        gate = SAMPLE_GATE
        if self.largest is not None and self.largest < gate.min_height:
            return (
                f"Every face of this visitor is too small to become a sample (the largest is "
                f"{self.largest} px high; at least {gate.min_height} px is needed)."
            )
        if self.sharpest is not None and self.sharpest < gate.min_sharpness:
            return "Every face of this visitor is too blurred to become a sample."
        return (
            "None of this visitor's faces is large, sharp and turned towards the camera at "
            "once, as a sample must be."
        )

    @property
    def first_seen(self) -> str:
        return iso(self.first)

    @property
    def last_seen(self) -> str:
        return iso(self.last)

    @property
    def crop_urls(self) -> list[str]:
        return [crop.url for crop in self.best]


def summary_of(group_id: int) -> GroupSummary | None:
    """One group as the list gives it (dismissed or not); None when it has no unknown face."""
    found = summaries(only=[group_id])
    return found[0] if found else None


def _on(cameras) -> list:
    """The condition "seen on one of ``cameras``" (auth.roles.visible_cameras; None: any)."""
    return [] if cameras is None else [Sighting.camera.in_(sorted(cameras))]


def summaries(
    limit: int | None = None, offset: int = 0, only: list[int] | None = None, cameras=None
) -> list[GroupSummary]:
    """The visible groups, last seen first, with their best crops; with ``cameras``, only what
    was seen on those cameras (an account limited to some cameras sees nothing of the others).

    Two queries, whatever the number of groups: one aggregate counts each group's sightings,
    first and last time and days from the index on (user_id, group_id, frames, started_at)
    alone (no row of encoding and crop is read) and keeps the groups of one page; the other
    numbers those groups' sightings, seen for the most frames first, and reads only the best
    ``BEST_CROPS`` rows of each. ``only``: these groups, dismissed or not.
    """
    last = func.max(Sighting.started_at)
    stats = db.session.execute(
        select(
            Sighting.group_id,
            func.count(),
            func.min(Sighting.started_at),
            last,
            func.count(func.distinct(func.date(Sighting.started_at))),
            func.sum(case((Sighting.passes(SAMPLE_GATE), 1), else_=0)),
            func.max(Sighting.face_height),
            func.max(Sighting.sharpness),
            func.max(UnknownGroup.looks_like_user_id),
            func.max(UnknownGroup.looks_like_distance),
        )
        .join(UnknownGroup, UnknownGroup.id == Sighting.group_id)
        .where(
            UnknownGroup.dismissed_at.is_(None) if only is None else UnknownGroup.id.in_(only),
            Sighting.user_id.is_(None),
            Sighting.group_id.is_not(None),
            *_on(cameras),
        )
        .group_by(Sighting.group_id)
        # Those that look like someone enrolled first: one click settles them.
        .order_by(
            func.max(case((UnknownGroup.looks_like_user_id.is_not(None), 0), else_=1)),
            last.desc(),
            Sighting.group_id.desc(),
        )
        .limit(limit)
        .offset(offset or None)
    ).all()
    crops: dict[int, list[Crop]] = {row[0]: [] for row in stats}
    if crops:
        ranked = (
            select(
                Sighting.id,
                func.row_number()
                .over(
                    partition_by=Sighting.group_id, order_by=(Sighting.frames.desc(), Sighting.id)
                )
                .label("rank"),
            )
            .where(Sighting.user_id.is_(None), Sighting.group_id.in_(list(crops)), *_on(cameras))
            .subquery()
        )
        best = db.session.execute(
            select(Sighting.group_id, Sighting.id, Sighting.camera, Sighting.started_at)
            .join(ranked, ranked.c.id == Sighting.id)
            .where(ranked.c.rank <= BEST_CROPS, Sighting.crop.is_not(None))
            .order_by(Sighting.group_id, ranked.c.rank)
        )
        for group_id, sighting_id, camera, started in best:
            crops[group_id].append(Crop(sighting_id, camera, started))
    alike = {row[-2] for row in stats if row[-2] is not None}
    names = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(alike))).all())
        if alike
        else {}
    )
    out = []
    for group_id, n, first, last_at, days, ready, largest, sharpest, alike, distance in stats:
        looks_like = LooksLike(alike, names[alike], distance) if alike in names else None
        out.append(
            GroupSummary(
                group_id,
                n,
                first,
                last_at,
                days,
                tuple(crops[group_id]),
                ready,
                largest,
                sharpest,
                looks_like,
            )
        )
    return out


def visible_count(cameras=None) -> int:
    """How many groups the unknowns page lists (the navigation badge): an index probe each."""
    return db.session.scalar(
        select(func.count(UnknownGroup.id)).where(
            UnknownGroup.dismissed_at.is_(None),
            exists().where(
                Sighting.group_id == UnknownGroup.id, Sighting.user_id.is_(None), *_on(cameras)
            ),
        )
    )


def seen_on(group_id: int, cameras) -> bool:
    """Was the group seen on one of ``cameras`` (always, with None)?"""
    if cameras is None:
        return True
    found = select(Sighting.id).where(Sighting.group_id == group_id, *_on(cameras)).limit(1)
    return db.session.execute(found).first() is not None
