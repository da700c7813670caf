"""What an operator does with unknown visitors, on one group or several at once: assign them to
someone enrolled, enrol them as one new person, dismiss them, merge groups, split a group.

A ``Selection`` is whole groups plus single sightings picked inside groups. Every action is
on the audit trail (one entry per group or single sighting it touched), in the transaction
of the change; the caller commits. A group the operator merged or split is ``kept_apart``:
automatic grouping still adds faces to it but never merges it with another group again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from .. import audit, people
from ..auth.roles import require_camera
from ..extensions import db
from ..models import Sighting, UnknownGroup, User, name_key, utcnow
from .service import (
    CannotCorrect,
    GroupGone,
    GroupResolved,
    add_sightings_to,
    best,
    members,
    new_person_samples,
    relabel,
    require_visible,
)

audit.ACTIONS.update(
    {
        "unknown.merged": "Unknown visitors merged",
        "unknown.split": "Unknown visitor split",
    }
)

SELECTION_MAX = 500  # groups plus single sightings in one request


@dataclass
class Selection:
    """Whole groups and single sightings picked inside groups, as one request names them."""

    groups: list[UnknownGroup] = field(default_factory=list)
    singles: list[Sighting] = field(default_factory=list)

    def sightings(self) -> list[Sighting]:
        """Every unknown sighting the selection covers, each once."""
        seen, out = set(), []
        for group in self.groups:
            for row in members(group):
                if row.id not in seen:
                    seen.add(row.id)
                    out.append(row)
        for row in self.singles:
            if row.id not in seen:
                seen.add(row.id)
                out.append(row)
        return out

    def candidates(self) -> list[Sighting]:
        """The crops offered as samples: each group's best, and every single sighting."""
        out, seen = [], set()
        for group in self.groups:
            for row in best(members(group)):
                seen.add(row.id)
                out.append(row)
        return out + [row for row in self.singles if row.id not in seen and row.crop]

    def describe(self) -> str:
        parts = []
        if self.groups:
            parts.append(f"{len(self.groups)} visitor{'s' if len(self.groups) != 1 else ''}")
        if self.singles:
            parts.append(f"{len(self.singles)} sighting{'s' if len(self.singles) != 1 else ''}")
        return " and ".join(parts)


def select_(group_ids=(), sighting_ids=()) -> Selection:
    """The groups and single sightings with these ids. Raises GroupGone for a group or a
    sighting that is not there (merged or deleted meanwhile) and CannotCorrect for none at
    all or a sighting that is not an unknown face (named meanwhile)."""
    group_ids, sighting_ids = _unique(group_ids), _unique(sighting_ids)
    if not group_ids and not sighting_ids:
        raise CannotCorrect("Choose at least one visitor or sighting.")
    if len(group_ids) + len(sighting_ids) > SELECTION_MAX:
        raise CannotCorrect(f"Choose at most {SELECTION_MAX} visitors and sightings at once.")
    groups = {
        g.id: g
        for g in db.session.scalars(select(UnknownGroup).where(UnknownGroup.id.in_(group_ids)))
    }
    missing = [i for i in group_ids if i not in groups]
    if missing:
        raise GroupGone(
            f"No unknown visitor {', '.join(map(str, missing))} (merged or removed meanwhile)."
        )
    rows = {
        s.id: s for s in db.session.scalars(select(Sighting).where(Sighting.id.in_(sighting_ids)))
    }
    for sighting_id in sighting_ids:
        row = rows.get(sighting_id)
        if row is None:
            raise GroupGone(f"No sighting {sighting_id} (deleted meanwhile, or never recorded).")
        if row.user_id is not None:
            raise CannotCorrect(f"Sighting {sighting_id} is named {row.name} already.")
        if row.encoding is None:
            raise CannotCorrect(f"Sighting {sighting_id} has no face to learn from.")
    # An account limited to some cameras acts only on what was seen on them (403 otherwise).
    for group in groups.values():
        require_visible(group)
    for row in rows.values():
        require_camera(row.camera)
    singles = [rows[i] for i in sighting_ids if rows[i].group_id not in groups]
    return Selection([groups[i] for i in group_ids], singles)


def _unique(ids) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def _check_not_resolved_elsewhere(selection: Selection, user: User | None, name: str = ""):
    for group in selection.groups:
        if group.user_id is None or (user is not None and group.user_id == user.id):
            continue
        earlier = db.session.get(User, group.user_id)
        if user is None and earlier is not None and earlier.name_key == name_key(name):
            continue
        who = earlier.name if earlier is not None else "someone since deleted"
        raise GroupResolved(f"Visitor {group.id} was already enrolled as or assigned to {who}.")


def _resolve(
    selection: Selection, user: User, action: str, counts: dict, samples: int, refused: list[str]
):
    """The groups are ``user``'s now; each group and single sighting goes on the record
    (``counts``: each group's sightings, taken before they were relabelled)."""
    now = utcnow()
    for group in selection.groups:
        group.user_id, group.resolved_at = user.id, now
        details = {
            "person_id": user.id,
            "person": user.name,
            "sightings": counts[group.id],
            # For the whole action, when several groups and faces went at once.
            "samples_added": samples,
            "crops_refused": len(refused),
        }
        if len(selection.groups) + len(selection.singles) > 1:
            details["with"] = selection.describe()
        audit.record(action, group, details=details)
    for row in selection.singles:
        audit.record(
            "sighting.relabelled",
            row,
            details={"from": None, "to": user.name, "person_id": user.id},
        )


def assign(selection: Selection, user: User) -> tuple[int, list[str]]:
    """The selection is ``user``: the best crops of each group and every single sighting's
    crop become samples if they pass the sample rules (each once), and every sighting is
    relabelled. Returns (samples added, reasons for the crops left out). Sent again, nothing
    is added twice. Raises GroupResolved for a group that went to someone else."""
    _check_not_resolved_elsewhere(selection, user)
    rows = selection.sightings()
    counts = {group.id: len(members(group)) for group in selection.groups}
    added, refused = add_sightings_to(user, rows, selection.candidates())
    _resolve(selection, user, "unknown.assigned", counts, added, refused)
    return added, refused


def enroll(selection: Selection, fields: people.PersonFields) -> tuple[User, list[str], bool]:
    """One new person (``fields``) from the selection's crops; every sighting becomes theirs.

    Returns (person, crops refused, created). Sent again after it worked (same name), the
    person made the first time is returned and nothing is added. Raises PersonError for a bad
    or taken name, GroupResolved when a group went to someone else, SampleRejected when no
    crop passes the sample rules (nothing is created then).
    """
    fields = fields.clean()
    name = fields.name
    _check_not_resolved_elsewhere(selection, None, name)
    earlier = {g.user_id for g in selection.groups if g.user_id is not None}
    if earlier and not selection.singles and all(g.user_id for g in selection.groups):
        (user_id,) = earlier
        return db.session.get(User, user_id), [], False
    people.check_name_free(name)
    rows = selection.sightings()
    if not rows:
        raise GroupResolved("These visitors have no unknown sightings left to enrol.")
    samples, refused = new_person_samples(selection.candidates(), name)
    if not samples:
        raise people.SampleRejected(
            f"None of the faces of these {selection.describe()} passed the sample checks, so "
            "nobody was created. " + " ".join(refused)
            if len(selection.groups) + len(selection.singles) > 1
            else "None of this visitor's faces passed the sample checks, so nobody was "
            "created. " + " ".join(refused)
        )
    counts = {group.id: len(members(group)) for group in selection.groups}
    user = people.create_person(fields, samples)
    db.session.flush()
    for row in rows:
        relabel(row, user)
    _resolve(selection, user, "unknown.enrolled", counts, len(samples), refused)
    return user, refused, True


def dismiss(selection: Selection) -> int:
    """Hide the selection from the unknowns; the sightings stay in the history. Single
    sightings go to a dismissed group of their own. Returns how many sightings were hidden."""
    now = utcnow()
    hidden = 0
    for group in selection.groups:
        count = len(members(group))
        if group.dismissed_at is None:
            group.dismissed_at = now
            audit.record("unknown.dismissed", group, details={"sightings": count})
        hidden += count
    if selection.singles:
        apart = _new_group(kept_apart=True, dismissed_at=now)
        for row in selection.singles:
            row.group = apart
        audit.record(
            "unknown.dismissed", apart, details={"sightings": [r.id for r in selection.singles]}
        )
        hidden += len(selection.singles)
    return hidden


def merge(groups: list[UnknownGroup]) -> UnknownGroup:
    """The groups are one visitor: every sighting goes to the oldest group, the others go.

    The merged group stays visible if any of them was; it is kept apart from automatic
    merging from now on. Raises CannotCorrect for fewer than two groups.
    """
    groups = sorted({g.id: g for g in groups}.values(), key=lambda g: g.id)
    if len(groups) < 2:
        raise CannotCorrect("Choose at least two visitors to merge.")
    _refuse_resolved(groups)
    if not any(members(g) for g in groups):
        raise CannotCorrect("None of these visitors has an unknown face left to merge.")
    into, others = groups[0], groups[1:]
    moved = 0
    for group in others:
        for row in list(group.sightings):
            row.group = into  # through the relationship, so deleting the group leaves it be
            moved += 1
        if group.dismissed_at is None:
            into.dismissed_at = None
        db.session.delete(group)
    into.kept_apart = True
    audit.record(
        "unknown.merged", into, details={"merged": [g.id for g in others], "sightings": moved}
    )
    return into


def split(group: UnknownGroup, sighting_ids) -> UnknownGroup:
    """The chosen sightings of ``group`` are someone else: they go to a new group, and both
    groups are kept apart from automatic merging. Returns the new group. Raises
    CannotCorrect when a sighting is not an unknown face of this group, or when every one is
    chosen (nothing would be left)."""
    _refuse_resolved([group])
    wanted = _unique(sighting_ids)
    rows = {row.id: row for row in members(group)}
    if not wanted:
        raise CannotCorrect("Choose the sightings that go to a new group.")
    strangers = [i for i in wanted if i not in rows]
    if strangers:
        raise CannotCorrect(
            f"Sighting {', '.join(map(str, strangers))} is not an unknown face of visitor "
            f"{group.id}."
        )
    if len(wanted) == len(rows):
        raise CannotCorrect("Every sighting was chosen: leave at least one in the group.")
    new = _new_group(kept_apart=True, dismissed_at=group.dismissed_at)
    for sighting_id in wanted:
        rows[sighting_id].group = new
    group.kept_apart = True
    audit.record("unknown.split", group, details={"new_group": new.id, "sightings": wanted})
    return new


def _refuse_resolved(groups: list[UnknownGroup]):
    for group in groups:
        if group.user_id is not None:
            raise GroupResolved(
                f"Visitor {group.id} was already enrolled or assigned; there is nothing to "
                "merge or split."
            )


def _new_group(**values) -> UnknownGroup:
    row = UnknownGroup(**values)
    db.session.add(row)
    db.session.flush()
    return row
