"""The unknowns page: each recurring unknown visitor with Enrol, Add to <person>, Dismiss."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField

from .. import people
from ..auth.roles import requires
from ..extensions import db
from ..models import User
from ..person_fields import PersonFieldsForm
from . import bp, listing, service

PAGE_SIZE = 50  # groups per page


class EnrollForm(PersonFieldsForm):
    """“Enrol as new person” under a visitor; ``save_anyway`` after the look-alike question."""

    save_anyway = BooleanField()


@bp.app_context_processor
def _badges():
    """The number of unknown visitors, shown beside "Unknowns" in the navigation."""
    if not current_user.is_authenticated:
        return {}
    return {"nav_badges": {url_for("unknowns.index"): listing.visible_count()}}


def _render(status=200, **extra):
    page = max(1, request.args.get("page", 1, type=int))
    groups = listing.summaries(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    total = listing.visible_count()
    return render_template(
        "unknowns/index.html",
        groups=groups,
        everyone=people.everyone(),
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        **extra,
    ), status


def _group_or_404(group_id: int):
    try:
        return service.get_group(group_id)
    except service.GroupGone:
        abort(404, description="There is no such unknown visitor (merged or removed meanwhile).")


def _done(message: str, refused: list[str]):
    flash(message, "success")
    if refused:
        flash("Not used as samples: " + " ".join(refused), "warning")


@bp.get("/unknowns")
@requires("unknowns")
def index():
    """Every unknown visitor not dismissed, last seen first."""
    return _render()


@bp.post("/unknowns/<int:group_id>/enroll")
@requires("correct")
def enroll(group_id):
    """Enrol the visitor as a new person; a look-alike asks first, like the wizard."""
    group = _group_or_404(group_id)
    form = EnrollForm()
    fields = form.person_fields()
    attempt = {"group_id": group.id, **fields.to_dict()}  # what was typed, shown again
    if group.user_id is None and not form.save_anyway.data:
        match = service.look_alike(service.members(group))
        if match is not None:
            return _render(409, attempt=attempt, look_alike=match)
    try:
        user, refused, created = service.enroll_group(group, fields)
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
        _done(
            f"Enrolled {user.name} with {count} sample{'s' if count != 1 else ''}. "
            "The live view names them from now on.",
            refused,
        )
    return redirect(url_for("admin.person", user_id=user.id), 303)


@bp.post("/unknowns/<int:group_id>/assign")
@requires("correct")
def assign(group_id):
    """The visitor is an enrolled person: add the best crops to them."""
    group = _group_or_404(group_id)
    user = db.session.get(User, request.form.get("user_id", type=int) or 0)
    if user is None:
        flash("Choose the person this visitor is.", "error")
        return redirect(url_for(".index"), 303)
    try:
        added, refused = service.assign_group(group, user)
        db.session.commit()
    except service.GroupResolved as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".index"), 303)
    _done(f"Added {added} sample{'s' if added != 1 else ''} to {user.name}.", refused)
    return redirect(url_for(".index"), 303)


@bp.post("/unknowns/<int:group_id>/dismiss")
@requires("correct")
def dismiss(group_id):
    """Hide the visitor; their sightings stay in the history."""
    service.dismiss(_group_or_404(group_id))
    db.session.commit()
    flash("Dismissed. The visitor's sightings stay in the history.", "success")
    return redirect(url_for(".index"), 303)
