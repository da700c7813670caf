"""Forget a person everywhere: the one delete the person page, the API and the CLI run.

Deleting the ``users`` row takes their samples, negatives and sightings (with the crops) by
cascade, and moves the gallery version on (every process stops naming them). A face ends up in
more places than rows keyed on the person, and those go in the same transaction:

- **unknown sightings that match them**: strangers' sightings whose face is within the
  tolerance of one of their samples, typically from before they were enrolled (otherwise a
  search by their photo still finds them);
- **"not this person" samples made from their face** for someone else: the same photo (its
  SHA-256), one of their sightings, or a face within the tolerance of their samples;
- **unknown visitors' groups** they were enrolled from or assigned to, and groups left empty.

After the commit ``after_commit`` drops every deleted sighting from this process's search
index at once (other processes' indexes never return a row that is gone: the search reads the
rows it found). The sightings writer ends a track whose row was erased instead of writing it
again as unknown (sightings/writer.py), and the MQTT sink clears the person's retained topics
and a camera's retained face that was one of the deleted sightings (events/mqtt.py).

What remains (docs/serving/backups.md): the audit entries that name them (who deleted whom
is what an audit is for) and backups taken before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import func, or_, select

from . import encodings
from .config import current_settings
from .extensions import db
from .models import FaceSample, NegativeSample, Sighting, UnknownGroup, User


@dataclass
class Erasure:
    """What deleting a person removes, found before anything is deleted (the confirmation
    page lists it) and reported after."""

    user_id: int
    name: str
    samples: int = 0
    sightings: list[int] = field(default_factory=list)  # theirs
    unknown_sightings: list[int] = field(default_factory=list)  # strangers' with their face
    negatives: list[int] = field(default_factory=list)  # "not them", on them
    others_negatives: list[int] = field(default_factory=list)  # made from their face
    groups: list[int] = field(default_factory=list)  # unknown visitors' groups that go

    @property
    def sighting_ids(self) -> list[int]:
        return self.sightings + self.unknown_sightings

    def counts(self) -> dict[str, int]:
        return {
            "samples": self.samples,
            "sightings": len(self.sightings),
            "unknown_sightings": len(self.unknown_sightings),
            "negatives": len(self.negatives),
            "others_negatives": len(self.others_negatives),
            "unknown_groups": len(self.groups),
        }

    def lines(self) -> list[str]:
        """What goes, in words (the confirmation page and the CLI); kinds with none left out
        but the samples."""

        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        lines = [
            n(self.samples, "face sample", "face samples"),
            n(len(self.sightings), "sighting of them", "sightings of them") + ", with the crops",
            n(
                len(self.unknown_sightings),
                "unknown visitor's sighting",
                "unknown visitors' sightings",
            )
            + " whose face matches theirs (from before they were enrolled)",
            n(len(self.negatives), "“not this person” sample", "“not this person” samples")
            + " of theirs",
            n(len(self.others_negatives), "“not this person” sample", "“not this person” samples")
            + " of other people made from their face",
            n(len(self.groups), "unknown visitors' group", "unknown visitors' groups")
            + " they were enrolled from or that would be left empty",
        ]
        counts = list(self.counts().values())
        return [
            line for line, count in zip(lines, counts, strict=True) if count or line is lines[0]
        ]


def _matching(vectors: np.ndarray, rows, tolerance: float) -> list[int]:
    """The ids of ``rows`` ((id, encoding bytes)) within ``tolerance`` of any of ``vectors``."""
    found = []
    for row_id, encoding in rows:
        if encoding is None or not len(vectors):
            continue
        vector = np.frombuffer(encoding, dtype="<f8")
        if encodings.nearest(vectors, vector) <= tolerance:
            found.append(row_id)
    return found


def survey(user: User) -> Erasure:
    """Everything ``delete`` would remove for ``user``, nothing changed."""
    tolerance = current_settings().tolerance
    samples = db.session.execute(
        select(FaceSample.encoding, FaceSample.content_hash).where(FaceSample.user_id == user.id)
    ).all()
    vectors = np.array([np.frombuffer(s.encoding, dtype="<f8") for s in samples])
    hashes = {s.content_hash for s in samples if s.content_hash}
    found = Erasure(user.id, user.name, samples=len(samples))
    found.sightings = list(
        db.session.scalars(
            select(Sighting.id).where(Sighting.user_id == user.id).order_by(Sighting.id)
        )
    )
    # Strangers' sightings with their face: compared in numpy, a stranger's encoding at a time
    # (a few thousand unknown sightings a week in a busy office; read once, on a delete).
    unknown = db.session.execute(
        select(Sighting.id, Sighting.encoding)
        .where(Sighting.user_id.is_(None), Sighting.encoding.is_not(None))
        .order_by(Sighting.id)
    )
    found.unknown_sightings = _matching(vectors, unknown, tolerance)
    found.negatives = list(
        db.session.scalars(
            select(NegativeSample.id)
            .where(NegativeSample.user_id == user.id)
            .order_by(NegativeSample.id)
        )
    )
    theirs = set(found.sightings)
    others = db.session.execute(
        select(
            NegativeSample.id,
            NegativeSample.encoding,
            NegativeSample.content_hash,
            NegativeSample.sighting_id,
        )
        .where(NegativeSample.user_id != user.id)
        .order_by(NegativeSample.id)
    ).all()
    same_source = [
        n.id
        for n in others
        if (n.content_hash and n.content_hash in hashes) or n.sighting_id in theirs
    ]
    close = _matching(vectors, [(n.id, n.encoding) for n in others], tolerance)
    found.others_negatives = sorted(set(same_source) | set(close))
    # Their groups, and the groups whose every sighting goes.
    going = set(found.sighting_ids)
    touched = set(
        db.session.scalars(
            select(UnknownGroup.id).where(
                or_(
                    UnknownGroup.user_id == user.id,
                    UnknownGroup.id.in_(
                        select(Sighting.group_id).where(Sighting.id.in_(sorted(going) or [0]))
                    ),
                )
            )
        )
    )
    groups = []
    for group_id in sorted(touched):
        left = db.session.scalar(
            select(func.count(Sighting.id)).where(
                Sighting.group_id == group_id, Sighting.id.not_in(sorted(going) or [0])
            )
        )
        if not left:
            groups.append(group_id)
    found.groups = groups
    return found


def delete(user: User) -> Erasure:
    """Delete ``user`` and every copy of their face (``survey``), audited with the counts;
    the caller commits, then calls ``after_commit``."""
    found = survey(user)
    # The one "person.deleted" entry (audit.rows writes it in the flush) says what went too.
    user.audit_deleted_details = found.counts()
    if found.unknown_sightings:
        db.session.execute(sa.delete(Sighting).where(Sighting.id.in_(found.unknown_sightings)))
    if found.others_negatives:
        # ORM deletes: the gallery version moves on for the people they belonged to.
        for row in db.session.scalars(
            select(NegativeSample).where(NegativeSample.id.in_(found.others_negatives))
        ):
            db.session.delete(row)
    db.session.delete(user)  # samples, negatives and sightings by cascade
    db.session.flush()
    if found.groups:
        db.session.execute(sa.delete(UnknownGroup).where(UnknownGroup.id.in_(found.groups)))
    return found


def after_commit(found: Erasure):
    """Drop the deleted sightings from this process's search index at once."""
    index = current_app.extensions.get("sighting_index")
    if index is not None and found.sighting_ids:
        index.forget(found.sighting_ids)
