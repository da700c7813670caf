"""Step 2 of the wizard: samples in, from camera snapshots or uploaded photos, each checked.

A face passes ``faces`` (exactly one usable face) in the face job pool, then the ``people``
rules against the samples already taken (same photo, near-duplicate), and is kept only if
the draft still has room once it is committed.
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
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError

from .. import camera, encodings, engine, faces, people
from ..auth.roles import can_see_camera, require_camera, requires
from ..config import current_settings
from ..extensions import db
from ..models import utcnow
from ..ratelimits import upload_limit
from ..web import release_database, wants_json
from . import bp, drafts
from .flow import FULL, GONE, answer, draft_or_redirect, gone, progress, sample_json
from .forms import ButtonForm, UploadForm

log = logging.getLogger(__name__)

NO_ROOM = "not needed, all the samples are taken."


def _keep(draft) -> str | None:
    """Commit the sample just added to ``draft``; the reason when it cannot be kept.

    Checked after the flush, under the database's write lock: two snapshot requests racing
    (a double click) cannot take the draft past the number required.
    """
    draft_id = draft.id
    try:
        db.session.flush()
        if drafts.stored_count(draft) > drafts.maximum():
            db.session.rollback()
            return FULL
        db.session.commit()
    except SQLAlchemyError:  # the draft was deleted meanwhile (cancelled in another tab)
        db.session.rollback()
        drafts.forget_draft(draft_id)
        return GONE
    return None


@bp.get("/samples")
@requires("enroll")
def samples():
    """Step 2: the live stream, the snapshot button, uploads and the samples taken so far."""
    draft, response = draft_or_redirect()
    if draft is None:
        return response
    cam = _chosen_camera(request.args.get("camera"))
    return render_template(
        "enroll/samples.html",
        draft=draft,
        step=2,
        camera=cam.status(),
        cameras=[s.camera for s in camera.services() if can_see_camera(s.camera)],
        button=ButtonForm(),
        upload=UploadForm(),
        **progress(draft),
    )


def _chosen_camera(name: str | None):
    """The camera the operator picked (by name), else the first camera; 403 for a camera the
    operator's account may not see."""
    if not name:
        visible = [s for s in camera.services() if can_see_camera(s.camera)]
        return visible[0] if visible else camera.service()
    chosen = camera.get(name) or camera.service()
    if camera.services():
        require_camera(chosen.camera)
    return chosen


@bp.post("/samples/snapshot")
@upload_limit
@requires("enroll")
def snapshot():
    """Take the camera's current frame and keep its face if it passes every check."""
    draft, response = draft_or_redirect()
    if draft is None:
        return response
    if len(draft.samples) >= drafts.maximum():
        return answer(draft, False, FULL, 409)
    cam = _chosen_camera(request.form.get("camera"))
    shot = cam.snapshot()
    if shot is None:
        state = cam.status()["state"]
        if state == "starting":
            message = "The camera is starting. Take the snapshot again in a moment."
        else:
            message = "The camera is not running. Start it, then take the snapshot again."
        return answer(draft, False, message, 409)
    frame_index, rgb = shot
    began = time.perf_counter()
    try:
        release_database()  # no connection held while the engine works
        sample = engine.sample_from_frame(current_app, rgb)
        label = f"camera {cam.camera}, frame {frame_index}"
        row = drafts.add_sample(draft, sample, "camera", label)
    except (faces.FaceRejected, people.SampleRejected) as exc:
        log.info("snapshot rejected in %.0f ms: %s", (time.perf_counter() - began) * 1000, exc)
        return answer(draft, False, str(exc), 422)
    problem = _keep(draft)
    if problem == GONE:
        return gone()
    if problem:
        return answer(draft, False, problem, 409)
    log.info("snapshot accepted in %.0f ms", (time.perf_counter() - began) * 1000)
    done = progress(draft)
    return answer(draft, True, f"Sample {done['count']} of {done['maximum']} accepted.", 201, row)


# Auto-capture: samples at least this far apart in time, and (people.check_sample) in pose.
AUTO_GAP_S = 0.6


@bp.post("/samples/auto")
@requires("enroll")
def auto_capture():
    """One step of auto-capture: check the newest frame, keep it if it is a good new sample.

    The page calls this in a loop while Auto-capture is on. A frame is kept when it holds
    exactly one usable face (the snapshot checks), is not a near-duplicate of a sample
    taken (so the samples differ in pose), shows the same person as the samples already
    taken, and comes at least AUTO_GAP_S after the last one. Anything else is a quiet
    "not yet" (200, accepted false) with the reason, never an error: the loop goes on.
    """
    draft, response = draft_or_redirect()
    if draft is None:
        return response
    if len(draft.samples) >= drafts.maximum():
        return jsonify(accepted=False, done=True, message=FULL, **progress(draft)), 409
    if draft.samples:
        # Spaced in time: wait out the rest of the gap here rather than answer "not yet"
        # and be asked again (at most AUTO_GAP_S, in one of the server's many threads).
        since = (utcnow() - draft.samples[-1].created_at).total_seconds()
        if since < AUTO_GAP_S:
            time.sleep(AUTO_GAP_S - max(0.0, since))
    cam = _chosen_camera(request.form.get("camera"))
    shot = cam.snapshot()
    if shot is None and cam.status()["state"] == "starting":
        return jsonify(accepted=False, message="The camera is starting…", **progress(draft))
    if shot is None:
        message = "The camera is not running. Start it, then turn auto-capture on again."
        return jsonify(accepted=False, done=True, message=message, **progress(draft)), 409
    frame_index, rgb = shot
    try:
        # No upsampling: a face big enough for a sample (80 px) is found without it, and a
        # frame with no face costs a quarter of the time, so the loop turns faster.
        release_database()  # no connection held while the engine works
        sample = engine.sample_from_frame(current_app, rgb, upsample=0)
        _same_person(draft, sample)
        label = f"auto, camera {cam.camera}, frame {frame_index}"
        row = drafts.add_sample(draft, sample, "camera", label)
    except (faces.FaceRejected, people.SampleRejected) as exc:
        return jsonify(accepted=False, message=str(exc), **progress(draft))
    problem = _keep(draft)
    if problem == GONE:
        return gone()
    if problem:
        return jsonify(accepted=False, done=True, message=problem, **progress(draft)), 409
    done = progress(draft)
    message = f"Sample {done['count']} of {done['maximum']} taken automatically."
    return jsonify(
        accepted=True,
        done=done["count"] >= done["maximum"],
        message=message,
        sample=sample_json(row),
        **done,
    ), 201


def _same_person(draft, sample):
    """Auto-capture keeps to one face: someone else walking into view is not a new pose."""
    if not draft.samples:
        return
    tolerance = current_settings().tolerance
    nearest = encodings.nearest([s.vector for s in draft.samples], sample.encoding)
    if nearest > tolerance:
        raise people.SampleRejected(
            "This looks like someone else than the samples taken so far; skipped.",
            people.SOMEONE_ELSE,
        )


@bp.post("/samples/upload")
@upload_limit
@requires("enroll")
def upload():
    """Check uploaded photos like snapshots; each gets its own verdict."""
    draft, response = draft_or_redirect()
    if draft is None:
        return response
    form = UploadForm()
    if not form.validate_on_submit():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return answer(draft, False, message or "Choose at least one photo.", 400)
    results = []
    for storage in form.photos.data:
        label = (storage.filename or "photo").rsplit("/", 1)[-1]
        if not storage.filename:
            continue
        if len(draft.samples) >= drafts.maximum():
            results.append(("error", f"{label}: {NO_ROOM}", None))
            continue
        data = storage.read()
        try:
            drafts.check_new_file(draft, faces.photo_hash(data))  # before the costly face check
            release_database()  # no connection held while the engine works
            sample = engine.sample_from_image(current_app, data)
            row = drafts.add_sample(draft, sample, "upload", label)
        except faces.ImageError as exc:
            results.append(("error", f"{label}: {faces.sentence(str(exc))}", None))
            continue
        except (faces.FaceRejected, people.SampleRejected) as exc:
            results.append(("error", f"{label}: {exc}", None))
            continue
        problem = _keep(draft)
        if problem == GONE:
            return gone()
        if problem:
            results.append(("error", f"{label}: {NO_ROOM}", None))
            continue
        owner = people.photo_owner(row.content_hash)
        if owner is not None:
            # Said at once, not only at the review: most likely the wrong photo was chosen.
            message = (
                f"{label}: accepted, but this very photo is already a sample of {owner.name}. "
                f"Remove it unless {draft.name} is {owner.name}."
            )
            results.append(("warning", message, row))
        else:
            results.append(("success", f"{label}: accepted.", row))
    if wants_json():
        body = {
            "results": [
                {
                    "accepted": kind != "error",
                    "message": message,
                    "sample": sample_json(row) if row is not None else None,
                }
                for kind, message, row in results
            ],
            **progress(draft),
        }
        return jsonify(body), 201 if any(kind != "error" for kind, _m, _r in results) else 422
    for kind, message, _row in results:
        flash(message, f"upload-{kind}")
    return redirect(url_for(".samples"), 303)


@bp.post("/samples/<int:sample_id>/remove")
@requires("enroll")
def remove_sample(sample_id):
    """Remove one sample from the draft."""
    draft, response = draft_or_redirect()
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
        return jsonify(removed=sample_id, message=message, **progress(draft))
    flash(message, "info")
    # From the review's look-alike warning: back to the review (unless too few are left).
    if request.form.get("back") == "review" and len(draft.samples) >= drafts.minimum():
        return redirect(url_for(".review"), 303)
    return redirect(url_for(".samples"), 303)


@bp.get("/samples/<int:sample_id>.jpg")
@requires("enroll")
def draft_thumbnail(sample_id):
    """The thumbnail of a sample of this session's draft (and of no one else's)."""
    draft, _expired = drafts.current()
    row = next((s for s in draft.samples if s.id == sample_id), None) if draft else None
    if row is None:
        abort(404)
    response = Response(row.thumbnail, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/camera/start")
@requires("enroll")
def start_camera():
    """Start the camera (the form behind the Start button when scripts are off)."""
    cam = _chosen_camera(request.form.get("camera"))
    cam.start()
    flash("The camera is starting.", "info")
    chosen = request.form.get("camera") and cam.camera
    return redirect(url_for(".samples", camera=chosen or None), 303)
