from __future__ import annotations

import math
from datetime import date

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import camera, engine, export, forget, thresholds
from ..auth.roles import can_see_camera, only_visible, require_camera, requires
from ..config import current_settings
from ..extensions import db
from ..faces import FaceRejected, ImageError, sentence
from ..models import FaceSample, Sighting, User, name_key
from ..people import SampleRejected, add_sample, update_person
from ..ratelimits import upload_limit
from ..web import release_database
from . import bp
from .forms import PersonForm, UploadForm

PER_PAGE = 50
SORT_KEYS = ("name", "created", "updated", "samples")


def _person_or_404(user_id: int) -> User:
    return db.get_or_404(
        User, user_id, description="There is no such person (they may have been deleted)."
    )


@bp.get("/")
@requires("people")
def index():
    """The admin area starts at the table of people."""
    return redirect(url_for("admin.users"))


@bp.get("/users")
@requires("people")
def users():
    """Every enrolled person: thumbnail, name, details, samples, times; search, sort, pages."""
    q = " ".join(request.args.get("q", "").split())[:100]
    sort = request.args.get("sort", "name")
    if sort not in SORT_KEYS:
        sort = "name"
    descending = request.args.get("dir", "asc") == "desc"

    stats = (
        select(
            FaceSample.user_id,
            func.count(FaceSample.id).label("count"),
            func.min(FaceSample.id).label("first"),
        )
        .group_by(FaceSample.user_id)
        .subquery()
    )
    count = func.coalesce(stats.c.count, 0)
    columns = {
        "name": User.name_key,
        "created": User.created_at,
        "updated": User.updated_at,
        "samples": count,
    }
    where = [User.name_key.contains(name_key(q), autoescape=True)] if q else []
    due = User.consent_expires <= date.today()
    consent = "review" if request.args.get("consent") == "review" else ""
    if consent:
        where.append(due)
    total = db.session.scalar(select(func.count(User.id)).where(*where))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    order = columns[sort].desc() if descending else columns[sort].asc()
    rows = db.session.execute(
        select(User, count.label("count"), stats.c.first)
        .outerjoin(stats, stats.c.user_id == User.id)
        .where(*where)
        .order_by(order, User.id.desc() if descending else User.id.asc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    everyone = total if not where else db.session.scalar(select(func.count(User.id)))
    return render_template(
        "admin/users.html",
        rows=rows,
        q=q,
        sort=sort,
        direction="desc" if descending else "asc",
        page=page,
        pages=pages,
        total=total,
        everyone=everyone,
        consent=consent,
        review_due=db.session.scalar(select(func.count(User.id)).where(due)),
        per_page=PER_PAGE,
        enroll_url=_enroll_url(),
    )


def _enroll_url():
    """The enrollment wizard's address, if this app has one."""
    return url_for("enroll.index") if "enroll.index" in current_app.view_functions else None


def _render_person(user, form=None, status=200):
    form = form or PersonForm(obj=user, person_id=user.id)
    services = [s for s in camera.services() if can_see_camera(s.camera)]
    name = request.args.get("camera")
    chosen = (camera.get(name) if name and can_see_camera(name) else None) or (
        services[0] if services else None
    )
    mine = only_visible(select(Sighting).where(Sighting.user_id == user.id), Sighting.camera)
    latest = db.session.scalars(mine.order_by(Sighting.id.desc()).limit(6)).all()
    return render_template(
        "admin/person.html",
        user=user,
        form=form,
        upload=UploadForm(),
        cameras=[cam.camera for cam in services],
        camera=chosen.status() if chosen is not None else None,
        camera_name=chosen.camera if chosen is not None else None,
        sightings=latest,
        headroom=thresholds.headroom(user, current_settings().tolerance),
        by_hand=(thresholds.BY_HAND_MIN, thresholds.BY_HAND_MAX),
    ), status


@bp.get("/users/<int:user_id>")
@requires("people")
def person(user_id):
    """A person's page: edit name and details, their samples, add or delete samples."""
    return _render_person(_person_or_404(user_id))


@bp.post("/users/<int:user_id>")
@requires("enroll")
def edit_person(user_id):
    """Save a new name and details (the enrollment rules apply)."""
    user = _person_or_404(user_id)
    form = PersonForm(person_id=user.id)
    if not form.validate_on_submit():
        problems = form.person_errors()
        if problems:
            flash("The changes were not saved: " + " ".join(problems), "error")
        else:
            flash("The changes were not saved: see the messages below.", "error")
        return _render_person(user, form, 400)
    old_name = user.name
    update_person(user, form.person)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone took the name between the check above and the commit: the unique index
        # decided. Nothing was changed.
        db.session.rollback()
        message = f"A person named “{form.person.name}” already exists."
        form.name.errors = [*form.name.errors, message]
        flash(f"The changes were not saved: {message}", "error")
        return _render_person(_person_or_404(user_id), form, 409)
    if user.name != old_name:
        flash(
            f"Renamed “{old_name}” to “{user.name}”. The live view uses the new name now.",
            "success",
        )
    else:
        flash(f"Saved the details of {user.name}.", "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/users/<int:user_id>/tolerance")
@requires("enroll")
def set_tolerance(user_id):
    """Set the person's match threshold by hand, or let it be computed again."""
    user = _person_or_404(user_id)
    if request.form.get("computed"):
        user.tolerance = None
        db.session.commit()
        flash(f"{user.name}'s threshold is computed again.", "success")
        return redirect(url_for("admin.person", user_id=user.id, _anchor="threshold"))
    raw = (request.form.get("tolerance") or "").strip()
    try:
        value = float(raw)
        if not thresholds.BY_HAND_MIN <= value <= thresholds.BY_HAND_MAX:
            raise ValueError(raw)
    except ValueError:
        flash(
            f"Not saved: the threshold must be a number from {thresholds.BY_HAND_MIN:.2f} to "
            f"{thresholds.BY_HAND_MAX:.2f} (got “{raw}”).",
            "error",
        )
        return _render_person(user, status=400)
    user.tolerance = round(value, 4)
    db.session.commit()
    flash(f"{user.name}'s threshold is {value:.2f}, set by hand.", "success")
    return redirect(url_for("admin.person", user_id=user.id, _anchor="threshold"))


@bp.post("/users/<int:user_id>/samples")
@upload_limit
@requires("enroll")
def upload_samples(user_id):
    """Add samples from uploaded photos, each checked like an enrollment photo."""
    user = _person_or_404(user_id)
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if not files:
        flash("Choose one or more photos to upload first.", "error")
        return redirect(url_for("admin.person", user_id=user.id))
    # Every photo through the engine first, with no database connection held, then the
    # samples added in one transaction.
    release_database()
    checked = []
    for upload in files:
        try:
            checked.append((upload.filename, engine.sample_from_image(current_app, upload.read())))
        except (ImageError, FaceRejected) as exc:
            checked.append((upload.filename, exc))
    user = _person_or_404(user_id)
    added = 0
    for label, face in checked:
        if isinstance(face, ImageError):
            flash(f"{label}: {sentence(str(face))}", "upload-error")
            continue
        try:
            if isinstance(face, FaceRejected):
                raise face
            add_sample(user, face, "upload")
        except (FaceRejected, SampleRejected) as exc:
            flash(f"{label}: {exc}", "upload-error")
            continue
        added += 1
        flash(f"{label}: added.", "upload-success")
    if added:
        db.session.commit()
        flash(f"Added {added} sample{'s' if added != 1 else ''} to {user.name}.", "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/users/<int:user_id>/snapshot")
@upload_limit
@requires("enroll")
def snapshot_sample(user_id):
    """Add a sample from the camera's current frame."""
    user = _person_or_404(user_id)
    name = request.form.get("camera")
    cam = camera.get(name) if name else camera.service()
    if cam is None:
        flash(f"There is no enabled camera named “{name}”.", "error")
        return redirect(url_for("admin.person", user_id=user.id))
    if camera.services():
        require_camera(cam.camera)
    shot = cam.snapshot()
    if shot is None:
        which = f"camera “{cam.camera}”" if len(camera.services()) > 1 else "camera"
        flash(
            f"The {which} is not running. Start it on the live page, then take the snapshot.",
            "error",
        )
        return redirect(url_for("admin.person", user_id=user.id))
    _index, rgb = shot
    try:
        release_database()  # no connection held while the engine works
        add_sample(user, engine.sample_from_frame(current_app, rgb), "camera")
    except (FaceRejected, SampleRejected) as exc:
        flash(f"Snapshot not added: {exc}", "error")
    else:
        db.session.commit()
        flash(f"Added a camera snapshot to {user.name}.", "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/samples/<int:sample_id>/delete")
@requires("enroll")
def delete_sample(sample_id):
    """Delete one sample (a person keeps at least one)."""
    sample = db.get_or_404(
        FaceSample, sample_id, description="There is no such sample (it may have been deleted)."
    )
    user = sample.user
    if len(user.samples) <= 1:
        flash(
            f"This is the only sample of {user.name}; a person needs at least one. "
            "Add another sample first, or delete the person.",
            "error",
        )
        return redirect(url_for("admin.person", user_id=user.id))
    user.samples.remove(sample)  # delete-orphan: the row goes, and the gallery version moves
    db.session.commit()
    flash(f"Deleted a sample of {user.name}.", "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.get("/samples/<int:sample_id>/thumbnail.jpg")
@requires("people")
def sample_thumbnail(sample_id):
    """A sample's face thumbnail (JPEG)."""
    data = db.session.scalar(select(FaceSample.thumbnail).where(FaceSample.id == sample_id))
    if data is None:
        abort(404, description="There is no such sample.")
    return thumbnail_response(data)


def thumbnail_response(data: bytes):
    """A face thumbnail for signed-in operators only: private, with an ETag."""
    response = make_response(data)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.post("/users/<int:user_id>/export")
@requires("export_people")
def export_person(user_id):
    """Everything held on the person as one ZIP (a subject access request); audited."""
    user = _person_or_404(user_id)
    data = export.export(user)
    db.session.commit()
    response = make_response(data)
    response.mimetype = "application/zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{export.file_name(user)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@requires("delete_people")
def delete_person(user_id):
    """GET asks for confirmation; POST deletes the person with every sample."""
    user = _person_or_404(user_id)
    if request.method == "GET":
        return render_template("admin/delete.html", user=user, erasure=forget.survey(user))
    name = user.name
    erased = forget.delete(user)  # ORM delete: the gallery version moves on
    db.session.commit()
    forget.after_commit(erased)
    flash(
        f"Deleted {name} and every copy of their face ({', '.join(erased.lines())}). The live "
        "view no longer recognises them.",
        "success",
    )
    return redirect(url_for("admin.users"))
