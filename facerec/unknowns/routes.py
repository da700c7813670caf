"""The unknowns page: each recurring unknown visitor with Enrol, Add to <person>, Dismiss."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField

from .. import people
from ..auth.roles import can, requires, visible_cameras
from ..extensions import db
from ..models import User
from ..person_fields import PersonFieldsForm
from . import actions, bp, listing, questions, service

PAGE_SIZE = 50  # groups per page


class EnrollForm(PersonFieldsForm):
    """“Enrol as new person” under a visitor; ``save_anyway`` after the look-alike question."""

    save_anyway = BooleanField()


@bp.app_context_processor
def _badges():
    """The number of unknown visitors, shown beside "Unknowns" in the navigation."""
    if not can("unknowns"):
        return {}
    cameras = visible_cameras()
    # Visitors waiting and questions waiting ("Is this Anna?"): both are asked of a person.
    waiting = listing.visible_count(cameras) + questions.count(cameras)
    return {"nav_badges": {url_for("unknowns.index"): waiting}}


def _render(status=200, **extra):
    page = max(1, request.args.get("page", 1, type=int))
    cameras = visible_cameras()
    groups = listing.summaries(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, cameras=cameras)
    total = listing.visible_count(cameras)
    return render_template(
        "unknowns/index.html",
        groups=groups,
        everyone=people.everyone(),
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        question_count=questions.count(cameras),
        **extra,
    ), status


def _group_or_404(group_id: int):
    try:
        group = service.get_group(group_id)
    except service.GroupGone:
        abort(404, description="There is no such unknown visitor (merged or removed meanwhile).")
    service.require_visible(group)
    return group


def _done(message: str, refused: list[str]):
    flash(message, "success")
    if refused:
        flash("Not used as samples: " + " ".join(refused), "warning")


@bp.get("/unknowns")
@requires("unknowns")
def index():
    """Every unknown visitor not dismissed, last seen first."""
    return _render()


@bp.get("/unknowns/questions")
@requires("unknowns")
def questions_page():
    """“Is this Anna?”: the sightings named after a close call, newest first. Answered by the
    history's This is / This is not (a sample, or a negative), which leave the queue."""
    cameras = visible_cameras()
    waiting = questions.open_questions(cameras)
    return render_template(
        "unknowns/questions.html",
        questions=waiting,
        question_count=len(waiting),
        total=listing.visible_count(cameras),
    )


@bp.post("/unknowns/<int:group_id>/enroll")
@requires("correct")
def enroll(group_id):
    """Enrol the visitor as a new person; a look-alike asks first, like the wizard."""
    return _enroll(actions.Selection([_group_or_404(group_id)]))


@bp.post("/unknowns/<int:group_id>/assign")
@requires("correct")
def assign(group_id):
    """The visitor is an enrolled person: add the best crops to them."""
    return _assign(actions.Selection([_group_or_404(group_id)]))


@bp.post("/unknowns/<int:group_id>/dismiss")
@requires("correct")
def dismiss(group_id):
    """Hide the visitor; their sightings stay in the history."""
    return _dismiss(actions.Selection([_group_or_404(group_id)]))


@bp.post("/unknowns/selected")
@requires("correct")
def selected():
    """One action on every visitor and sighting ticked: assign, enrol, dismiss, merge, split."""
    action = request.form.get("action", "")
    try:
        selection = actions.select_(
            request.form.getlist("group_id", type=int),
            request.form.getlist("sighting_id", type=int),
        )
    except (service.GroupGone, service.CannotCorrect) as exc:
        flash(f"Nothing was done: {exc}", "error")
        return redirect(_back(), 303)
    if action == "assign":
        return _assign(selection)
    if action in ("enroll", "enroll_anyway"):
        return _enroll(selection, save_anyway=action == "enroll_anyway")
    if action == "dismiss":
        return _dismiss(selection)
    if action == "merge":
        return _merge(selection)
    if action == "split":
        return _split(selection)
    flash("Choose what to do with the visitors ticked.", "error")
    return redirect(_back(), 303)


def _back() -> str:
    return url_for(".index", page=request.form.get("page", type=int) or None)


def _enroll(selection: actions.Selection, save_anyway: bool = False):
    form = EnrollForm()
    fields = form.person_fields()
    attempt = {  # what was typed, shown again
        "group_id": selection.groups[0].id if _one_group(selection) else None,
        "group_ids": [g.id for g in selection.groups],
        "sighting_ids": [s.id for s in selection.singles],
        "fields": fields.to_dict(),  # all of them, for "Save anyway" to send again
        **fields.to_dict(),
    }
    resolved = selection.groups and all(g.user_id for g in selection.groups)
    if not resolved and not (save_anyway or form.save_anyway.data):
        match = service.look_alike(selection.sightings())
        if match is not None:
            return _render(409, attempt=attempt, look_alike=match)
    try:
        user, refused, created = actions.enroll(selection, fields)
        db.session.commit()
    except (people.PersonError, people.SampleRejected, service.GroupResolved) as exc:
        db.session.rollback()
        flash(f"Nobody was enrolled: {exc}", "error")
        return _render(422 if isinstance(exc, people.PersonError) else 409, attempt=attempt)
    except IntegrityError:
        db.session.rollback()
        flash("Nobody was enrolled: a person with this name already exists.", "error")
        return _render(409, attempt=attempt)
    if created:
        count = len(user.samples)
        source = "" if _one_group(selection) else f" from {selection.describe()}"
        _done(
            f"Enrolled {user.name} with {count} sample{'s' if count != 1 else ''}{source}. "
            "The live view names them from now on.",
            refused,
        )
    return redirect(url_for("admin.person", user_id=user.id), 303)


def _assign(selection: actions.Selection):
    user = db.session.get(User, request.form.get("user_id", type=int) or 0)
    if user is None:
        flash("Choose the person these visitors are.", "error")
        return redirect(_back(), 303)
    try:
        added, refused = actions.assign(selection, user)
        db.session.commit()
    except service.GroupResolved as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(_back(), 303)
    samples = f"{added} sample{'s' if added != 1 else ''}"
    if _one_group(selection):
        _done(f"Added {samples} to {user.name}.", refused)
    else:
        _done(
            f"{selection.describe().capitalize()} assigned to {user.name}: {samples} added.",
            refused,
        )
    return redirect(_back(), 303)


def _one_group(selection: actions.Selection) -> bool:
    return len(selection.groups) == 1 and not selection.singles


def _dismiss(selection: actions.Selection):
    actions.dismiss(selection)
    db.session.commit()
    if _one_group(selection):
        flash("Dismissed. The visitor's sightings stay in the history.", "success")
    else:
        flash(f"Dismissed {selection.describe()}. Their sightings stay in the history.", "success")
    return redirect(_back(), 303)


def _merge(selection: actions.Selection):
    try:
        if selection.singles:
            raise service.CannotCorrect("Tick whole visitors to merge, not single sightings.")
        group = actions.merge(selection.groups)
        db.session.commit()
    except (service.CannotCorrect, service.GroupResolved) as exc:
        db.session.rollback()
        flash(f"Nothing was merged: {exc}", "error")
        return redirect(_back(), 303)
    flash(f"Merged {selection.describe()} into visitor {group.id}.", "success")
    return redirect(url_for(".index", _anchor=f"group-{group.id}"), 303)


def _split(selection: actions.Selection):
    try:
        owners = {row.group_id for row in selection.singles}
        if selection.groups or len(owners) != 1:
            raise service.CannotCorrect(
                "Tick sightings of one visitor (not whole visitors) to split them off."
            )
        (owner,) = owners
        group = actions.split(service.get_group(owner), [row.id for row in selection.singles])
        db.session.commit()
    except (service.CannotCorrect, service.GroupResolved, service.GroupGone) as exc:
        db.session.rollback()
        flash(f"Nothing was split: {exc}", "error")
        return redirect(_back(), 303)
    count = len(selection.singles)
    flash(
        f"Moved {count} sighting{'s' if count != 1 else ''} of visitor {owner} to a new "
        f"visitor {group.id}.",
        "success",
    )
    return redirect(url_for(".index", _anchor=f"group-{group.id}"), 303)
