"""The enrollment wizard: details, samples (camera snapshots or uploads), review and save.

CSRFProtect checks the token of every POST before a view runs (form field or X-CSRFToken
header); the forms here render it, and a refusal is answered by ``csrf_error``.
"""

from __future__ import annotations

import logging
import time

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from .. import camera, face_jobs, faces, gallery, people
from ..extensions import db
from ..gallery import Match
from ..models import EnrollDraftSample, User
from ..web import wants_json
from . import bp, drafts
from .forms import ButtonForm, DetailsForm, ReviewForm, UploadForm

log = logging.getLogger(__name__)

EXPIRED = "The enrollment in progress expired, so it was discarded. Please start again."
FULL = "All the samples needed are taken. Remove one to replace it, or continue to the review."
GONE = "This enrollment was cancelled or has expired meanwhile. Please start again."


@bp.errorhandler(CSRFError)
def csrf_error(exc):
    message = (
        "The form was refused because its security token is missing or out of date "
        "(for example after a long pause or a restart). Reload the page and try again."
    )
    if wants_json():
        return jsonify(error=message), 400
    return render_template("enroll/refused.html", message=message, detail=exc.description), 400


# ---- helpers ---------------------------------------------------------------------------------


def _draft_or_redirect(need_samples: bool = False):
    """(draft, None) when the wizard may be at this step, else (None, a redirect or JSON error)."""
    token = session.get(drafts.SESSION_KEY)
    draft, expired = drafts.current()
    if draft is None and (saved := drafts.saved_as(token)) is not None:
        return None, _already_saved(saved)
    if draft is None:
        message = EXPIRED if expired else "Start by entering the person's name."
        if wants_json():
            return None, (jsonify(error=message), 409)
        flash(message, "warning" if expired else "info")
        return None, redirect(url_for(".index"), 303)
    if need_samples and len(draft.samples) < drafts.required():
        missing = drafts.required() - len(draft.samples)
        flash(
            f"{missing} more sample{'s' if missing != 1 else ''} needed before the review.", "info"
        )
        return None, redirect(url_for(".samples"), 303)
    return draft, None


def _sample_json(row: EnrollDraftSample) -> dict:
    return {
        "id": row.id,
        "label": row.label,
        "source": row.source,
        "thumbnail_url": url_for(".draft_thumbnail", sample_id=row.id),
        "remove_url": url_for(".remove_sample", sample_id=row.id),
    }


def _progress(draft) -> dict:
    return {"count": len(draft.samples), "required": drafts.required()}


def _answer(draft, accepted: bool, message: str, status: int, row=None):
    """The result of one sample check: JSON for fetch(), a flash and a redirect for a form."""
    if wants_json():
        body = {"accepted": accepted, "message": message, **_progress(draft)}
        if row is not None:
            body["sample"] = _sample_json(row)
        return jsonify(body), status
    flash(message, "success" if accepted else "error")
    return redirect(url_for(".samples"), 303)


def _keep(draft) -> str | None:
    """Commit the sample just added to ``draft``; the reason when it cannot be kept.

    Checked after the flush, under the database's write lock: two snapshot requests racing
    (a double click) cannot take the draft past the number required.
    """
    draft_id = draft.id
    try:
        db.session.flush()
        if drafts.stored_count(draft) > drafts.required():
            db.session.rollback()
            return FULL
        db.session.commit()
    except SQLAlchemyError:  # the draft was deleted meanwhile (cancelled in another tab)
        db.session.rollback()
        drafts.forget_draft(draft_id)
        return GONE
    return None


def _gone():
    if wants_json():
        return jsonify(error=GONE), 409
    flash(GONE, "warning")
    return redirect(url_for(".index"), 303)


def _look_alike(draft) -> Match | None:
    """The enrolled person the new samples match within the tolerance, if any."""
    if not draft.samples:
        return None
    match = gallery.current().nearest_person([s.vector for s in draft.samples])
    tolerance = float(current_app.config["FACEREC_TOLERANCE"])
    if match.user_id is not None and match.distance <= tolerance:
        return match
    return None


# ---- step 1: details -------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
def index():
    """Step 1: the person's name and optional details."""
    draft, expired = drafts.current()
    if expired:
        flash(EXPIRED, "warning")
    form = DetailsForm(obj=draft) if request.method == "GET" else DetailsForm()
    if form.validate_on_submit():
        if draft is None:
            draft = drafts.start(form.name.data, form.details.data)
        else:
            draft.name, draft.details = form.name.data, form.details.data
            drafts.touch(draft)
        db.session.commit()
        return redirect(url_for(".samples"), 303)
    status = 422 if form.errors else 200
    return render_template("enroll/details.html", form=form, draft=draft, step=1), status


# ---- step 2: samples -------------------------------------------------------------------------


@bp.get("/samples")
def samples():
    """Step 2: the live stream, the snapshot button, uploads and the samples taken so far."""
    draft, response = _draft_or_redirect()
    if draft is None:
        return response
    cam = _chosen_camera(request.args.get("camera"))
    return render_template(
        "enroll/samples.html",
        draft=draft,
        step=2,
        camera=cam.status(),
        cameras=[s.camera for s in camera.services()],
        button=ButtonForm(),
        upload=UploadForm(),
        **_progress(draft),
    )


def _chosen_camera(name: str | None):
    """The camera the operator picked (by name), else the first camera."""
    return (camera.get(name) if name else None) or camera.service()


@bp.post("/samples/snapshot")
def snapshot():
    """Take the camera's current frame and keep its face if it passes every check."""
    draft, response = _draft_or_redirect()
    if draft is None:
        return response
    if len(draft.samples) >= drafts.required():
        return _answer(draft, False, FULL, 409)
    cam = _chosen_camera(request.form.get("camera"))
    shot = cam.snapshot()
    if shot is None:
        state = cam.status()["state"]
        if state == "starting":
            message = "The camera is starting. Take the snapshot again in a moment."
        else:
            message = "The camera is not running. Start it, then take the snapshot again."
        return _answer(draft, False, message, 409)
    frame_index, rgb = shot
    began = time.perf_counter()
    try:
        sample = face_jobs.sample_from_frame(current_app, rgb)
        label = f"camera {cam.camera}, frame {frame_index}"
        row = drafts.add_sample(draft, sample, "camera", label)
    except (faces.FaceRejected, drafts.DuplicateSample) as exc:
        log.info("snapshot rejected in %.0f ms: %s", (time.perf_counter() - began) * 1000, exc)
        return _answer(draft, False, str(exc), 422)
    problem = _keep(draft)
    if problem == GONE:
        return _gone()
    if problem:
        return _answer(draft, False, problem, 409)
    log.info("snapshot accepted in %.0f ms", (time.perf_counter() - began) * 1000)
    done = _progress(draft)
    return _answer(draft, True, f"Sample {done['count']} of {done['required']} accepted.", 201, row)


@bp.post("/samples/upload")
def upload():
    """Check uploaded photos like snapshots; each gets its own verdict."""
    draft, response = _draft_or_redirect()
    if draft is None:
        return response
    form = UploadForm()
    if not form.validate_on_submit():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return _answer(draft, False, message or "Choose at least one photo.", 400)
    results = []
    for storage in form.photos.data:
        label = (storage.filename or "photo").rsplit("/", 1)[-1]
        if not storage.filename:
            continue
        if len(draft.samples) >= drafts.required():
            results.append((False, f"{label}: not needed, all the samples are taken.", None))
            continue
        data = storage.read()
        digest = faces.photo_hash(data)
        try:
            drafts.check_new_file(draft, digest)  # before the costly face check
            sample = face_jobs.sample_from_image(current_app, data)
            row = drafts.add_sample(draft, sample, "upload", label, digest)
        except faces.ImageError as exc:
            results.append((False, f"{label}: {faces.sentence(str(exc))}", None))
            continue
        except (faces.FaceRejected, drafts.DuplicateSample) as exc:
            results.append((False, f"{label}: {exc}", None))
            continue
        problem = _keep(draft)
        if problem == GONE:
            return _gone()
        if problem:
            results.append((False, f"{label}: not needed, all the samples are taken.", None))
            continue
        results.append((True, f"{label}: accepted.", row))
    if wants_json():
        body = {
            "results": [
                {
                    "accepted": ok,
                    "message": message,
                    "sample": _sample_json(row) if row is not None else None,
                }
                for ok, message, row in results
            ],
            **_progress(draft),
        }
        return jsonify(body), 201 if any(ok for ok, _m, _r in results) else 422
    for ok, message, _row in results:
        flash(message, "success" if ok else "error")
    return redirect(url_for(".samples"), 303)


@bp.post("/samples/<int:sample_id>/remove")
def remove_sample(sample_id):
    """Remove one sample from the draft."""
    draft, response = _draft_or_redirect()
    if draft is None:
        return response
    row = next((s for s in draft.samples if s.id == sample_id), None)
    if row is None:
        abort(404, "This sample is not part of your enrollment.")
    draft.samples.remove(row)
    drafts.touch(draft)
    db.session.commit()
    message = "Sample removed."
    if wants_json():
        return jsonify(removed=sample_id, message=message, **_progress(draft))
    flash(message, "info")
    return redirect(url_for(".samples"), 303)


@bp.get("/samples/<int:sample_id>.jpg")
def draft_thumbnail(sample_id):
    """The thumbnail of a sample of this session's draft (and of no one else's)."""
    draft, _expired = drafts.current()
    row = next((s for s in draft.samples if s.id == sample_id), None) if draft else None
    if row is None:
        abort(404)
    return _jpeg(row.thumbnail)


@bp.post("/camera/start")
def start_camera():
    """Start the camera (the form behind the Start button when scripts are off)."""
    cam = _chosen_camera(request.form.get("camera"))
    cam.start()
    flash("The camera is starting.", "info")
    chosen = request.form.get("camera") and cam.camera
    return redirect(url_for(".samples", camera=chosen or None), 303)


# ---- step 3: review and save -----------------------------------------------------------------


@bp.route("/review", methods=["GET", "POST"])
def review():
    """Step 3: details and thumbnails, a warning for a look-alike, then Save."""
    draft, response = _draft_or_redirect(need_samples=request.method == "GET")
    if draft is None:
        return response
    form = ReviewForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.action.data == "cancel":
            return _cancel(draft)
        if len(draft.samples) < drafts.required():
            return _draft_or_redirect(need_samples=True)[1]
        match = _look_alike(draft)
        if form.action.data == "add":
            if match is None or str(match.user_id) != (form.target.data or ""):
                flash("The look-alike changed since the page was shown; check again.", "warning")
                return _render_review(draft, form, match, 409)
            existing = db.session.get(User, match.user_id)
            if existing is None:  # deleted since the gallery was read
                flash("That person no longer exists; check again.", "warning")
                return _render_review(draft, form, _look_alike(draft), 409)
            return _save(draft, form, match, into=existing)
        if form.action.data == "save" and match is not None:
            return _render_review(draft, form, match, 409)
        return _save(draft, form, match)
    if request.method == "POST":
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return _render_review(draft, form, _look_alike(draft), 400)
    drafts.touch(draft)
    db.session.commit()
    return _render_review(draft, form, _look_alike(draft))


def _render_review(draft, form, match, status=200):
    return render_template(
        "enroll/review.html", draft=draft, form=form, match=match, step=3, **_progress(draft)
    ), status


def _save(draft, form, match, into: User | None = None):
    """One transaction: the person (or the look-alike) gains the samples; the draft goes."""
    count = len(draft.samples)
    draft_id = draft.id
    try:
        rows = [
            people.sample_row(drafts.as_face_sample(s), s.source, s.content_hash)
            for s in draft.samples
        ]
        if into is None:
            person = people.create_person(draft.name, draft.details, rows)
        else:
            person = into
            person.samples.extend(rows)
        drafts.discard(draft, forget=False)
        db.session.commit()
        drafts.remember_saved(draft_id, person.id)
        drafts.forget_draft(draft_id)
    except people.PersonError as exc:
        db.session.rollback()
        flash(f"{exc} Go back to Details to change the name, or cancel.", "error")
        return _render_review(draft, form, match, 409)
    except SQLAlchemyError:
        db.session.rollback()
        if (saved := drafts.saved_as(draft_id)) is not None:
            return _already_saved(saved)  # a second Save raced the first one, which won
        log.exception("saving the enrollment of %r failed", draft.name)
        flash(
            "The person could not be saved because the database refused the change. "
            "Nothing was stored; try Save again.",
            "error",
        )
        return _render_review(draft, form, match, 500)
    if into is None:
        flash(
            f"{person.name} is enrolled with {count} sample{'s' if count != 1 else ''}.", "success"
        )
    else:
        flash(f"{count} sample{'s' if count != 1 else ''} added to {person.name}.", "success")
    return redirect(url_for(".done", user_id=person.id), 303)


def _already_saved(user_id: int):
    message = "This enrollment was already saved."
    if wants_json():
        return jsonify(error=message, user_id=user_id), 409
    flash(message, "info")
    return redirect(url_for(".done", user_id=user_id), 303)


def _cancel(draft):
    drafts.discard(draft)
    db.session.commit()
    flash("Enrollment cancelled. Nothing was saved.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/cancel")
def cancel():
    """Discard the wizard's state and start over."""
    draft, _expired = drafts.current()
    if draft is None:
        return redirect(url_for(".index"), 303)
    return _cancel(draft)


@bp.get("/done/<int:user_id>")
def done(user_id):
    """The person as saved, with links onwards."""
    person = db.session.get(User, user_id) or abort(404)
    return render_template("enroll/done.html", person=person, step=4)


def _jpeg(data: bytes) -> Response:
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-cache"
    return response
