"""The wizard's steps: 1 details, 3 review (2, the samples, is ``intake.py``), cancel, done.

CSRFProtect checks the token of every POST before a view runs (form field or X-CSRFToken
header); the forms here render it, and a refusal is answered by ``csrf_error``.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from .. import people
from ..auth.roles import requires
from ..extensions import db
from ..models import User
from ..web import wants_json
from . import bp, drafts
from .flow import EXPIRED, draft_or_redirect
from .forms import DetailsForm, ReviewForm
from .saving import render_review, sample_look_alikes, save


@bp.errorhandler(CSRFError)
def csrf_error(exc):
    message = (
        "The form was refused because its security token is missing or out of date "
        "(for example after a long pause or a restart). Reload the page and try again."
    )
    if wants_json():
        return jsonify(error=message), 400
    return render_template("enroll/refused.html", message=message, detail=exc.description), 400


def _look_alike(draft):
    """The enrolled person the new samples match within the tolerance, if any."""
    return people.look_alike([s.vector for s in draft.samples])


@bp.route("/", methods=["GET", "POST"])
@requires("enroll")
def index():
    """Step 1: the person's name and optional details."""
    draft, expired = drafts.current()
    if expired:
        flash(EXPIRED, "warning")
    if request.method == "GET":
        form = DetailsForm(obj=drafts.person(draft) if draft else None)
    else:
        form = DetailsForm()
    if form.validate_on_submit():
        if draft is None:
            draft = drafts.start(form.person)
        else:
            drafts.set_person(draft, form.person)
        db.session.commit()
        return redirect(url_for(".samples"), 303)
    status = 422 if form.errors else 200
    return render_template("enroll/details.html", form=form, draft=draft, step=1), status


@bp.route("/review", methods=["GET", "POST"])
@requires("enroll")
def review():
    """Step 3: details and thumbnails, a warning for a look-alike, then Save."""
    draft, response = draft_or_redirect(need_samples=request.method == "GET")
    if draft is None:
        return response
    form = ReviewForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.action.data == "cancel":
            return _cancel(draft)
        if len(draft.samples) < drafts.minimum():
            return draft_or_redirect(need_samples=True)[1]
        match = _look_alike(draft)
        if form.action.data == "add":
            if match is None or str(match.user_id) != (form.target.data or ""):
                flash("The look-alike changed since the page was shown; check again.", "warning")
                return render_review(draft, form, match, 409)
            alike = sample_look_alikes(draft)
            if any(
                alike.get(s.id) is None or alike[s.id].user_id != match.user_id
                for s in draft.samples
            ):
                flash(
                    f"Not every sample looks like {match.name}: remove the others first, "
                    "or save anyway as a new person.",
                    "warning",
                )
                return render_review(draft, form, match, 409)
            existing = db.session.get(User, match.user_id)
            if existing is None:  # deleted since the gallery was read
                flash("That person no longer exists; check again.", "warning")
                return render_review(draft, form, _look_alike(draft), 409)
            return save(draft, form, match, into=existing)
        if form.action.data == "save" and match is not None:
            return render_review(draft, form, match, 409)
        return save(draft, form, match)
    if request.method == "POST":
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return render_review(draft, form, _look_alike(draft), 400)
    drafts.touch(draft)
    db.session.commit()
    return render_review(draft, form, _look_alike(draft))


def _cancel(draft):
    drafts.discard(draft)
    db.session.commit()
    flash("Enrollment cancelled. Nothing was saved.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/cancel")
@requires("enroll")
def cancel():
    """Discard the wizard's state and start over."""
    draft, _expired = drafts.current()
    if draft is None:
        return redirect(url_for(".index"), 303)
    return _cancel(draft)


@bp.get("/done/<int:user_id>")
@requires("enroll")
def done(user_id):
    """The person as saved, with links onwards."""
    person = db.session.get(User, user_id) or abort(404)
    return render_template("enroll/done.html", person=person, step=4)
