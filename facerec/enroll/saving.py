"""Saving the wizard: one transaction in which a person (new, or the look-alike) gains the
draft's samples and the draft goes, with the races a double click or a second tab bring.

A failed save leaves the draft and the wizard where they were; a second Save that lost the
race to the first is shown the person the first one made.
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError

from .. import people
from ..extensions import db
from ..models import User
from . import drafts
from .flow import already_saved, progress

log = logging.getLogger(__name__)


def sample_look_alikes(draft) -> dict:
    """Each draft sample's look-alike among the people enrolled (within the tolerance), by
    sample id: the review names the sample that looks like someone, not only the draft."""
    found = {}
    for sample in draft.samples:
        match = people.look_alike([sample.vector])
        if match is not None:
            found[sample.id] = match
    return found


def render_review(draft, form, match, status=200):
    alike = sample_look_alikes(draft) if match is not None else {}
    # "Add to X" only when every sample looks like X: otherwise it would give X someone
    # else's photos (the samples that do not look like X).
    everyone_alike = match is not None and all(
        alike.get(s.id) is not None and alike[s.id].user_id == match.user_id for s in draft.samples
    )
    return render_template(
        "enroll/review.html",
        draft=draft,
        form=form,
        match=match,
        alike=alike,
        everyone_alike=everyone_alike,
        step=3,
        **progress(draft),
    ), status


def save(draft, form, match, into: User | None = None):
    """One transaction: the person (or the look-alike) gains the samples; the draft goes."""
    count = len(draft.samples)
    draft_id = draft.id
    refused = []
    try:
        samples = [(people.as_sample(s), s.source) for s in draft.samples]
        if into is None:
            rows = [people.sample_row(sample, source) for sample, source in samples]
            person = people.create_person(drafts.person(draft), rows)
        else:
            # The person page's and the API's rule: nothing the person already has twice.
            person = into
            added, refused = people.add_samples(person, samples)
            count = len(added)
        drafts.discard(draft, forget=False)
        db.session.commit()
        drafts.remember_saved(draft_id, person.id)
        drafts.forget_draft(draft_id)
    except people.PersonError as exc:
        db.session.rollback()
        flash(f"{exc} Go back to Details to change the name, or cancel.", "error")
        return render_review(draft, form, match, 409)
    except SQLAlchemyError:
        db.session.rollback()
        if (saved := drafts.saved_as(draft_id)) is not None:
            return already_saved(saved)  # a second Save raced the first one, which won
        log.exception("saving the enrollment of %r failed", draft.name)
        flash(
            "The person could not be saved because the database refused the change. "
            "Nothing was stored; try Save again.",
            "error",
        )
        return render_review(draft, form, match, 500)
    if into is None:
        flash(
            f"{person.name} is enrolled with {count} sample{'s' if count != 1 else ''}.", "success"
        )
    elif count:
        flash(f"{count} sample{'s' if count != 1 else ''} added to {person.name}.", "success")
    else:
        flash(f"Nothing was added: {person.name} already has these samples.", "info")
    if refused:
        flash(_left_out(person.name, refused), "info")
    return redirect(url_for(".done", user_id=person.id), 303)


def _left_out(name: str, refused: list[people.SampleRejected]) -> str:
    same = sum(1 for r in refused if r.reason == people.SAME_PHOTO)
    near = sum(1 for r in refused if r.reason == people.NEAR_DUPLICATE_FACE)
    other = len(refused) - same - near
    parts = []
    if same:
        parts.append(f"{same} {'photo' if same == 1 else 'photos'} {name} already had")
    if near:
        parts.append(f"{near} near-duplicate{'s' if near != 1 else ''} of {name}'s samples")
    if other:
        parts.append(f"{other} closer to someone else than to {name}")
    return "Left out so nothing is stored twice: " + ", ".join(parts) + "."
