"""The people endpoints: list, create (optionally with photos), get, update, delete, add a sample.

Every change goes through ``facerec.people`` (the rules the wizard, admin pages and CLI share)
and through ORM objects, so the gallery version moves on and the live stream reloads.
"""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import face_jobs, faces, people
from ..extensions import db
from ..models import FaceSample, User, name_key
from . import bp
from .errors import ApiError
from .inputs import (
    FORM_TYPES,
    ID_MAX,
    IMAGES_MAX,
    PAGE_MAX,
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    QUERY_MAX,
    image_field,
    int_arg,
    json_object,
    text,
)


def timestamp(value) -> str:
    """Stored times are naive UTC: say so with a Z."""
    return value.replace(microsecond=0).isoformat() + "Z"


def sample_json(sample: FaceSample) -> dict:
    return {
        "id": sample.id,
        "user_id": sample.user_id,
        "source": sample.source,
        "created_at": timestamp(sample.created_at),
    }


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "details": user.details,
        "samples": [sample_json(sample) for sample in user.samples],
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
    }


def get_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id <= ID_MAX else None
    if user is None:
        raise ApiError(404, f"No person with id {user_id}.")
    return user


def commit():
    try:
        db.session.commit()
    except IntegrityError:
        # Two requests raced for the same name; the unique index decided.
        db.session.rollback()
        raise ApiError(409, "A person with this name already exists.") from None


def checked_samples(uploads) -> list[FaceSample]:
    """One sample per photo, all encoded before anything is stored; 400 names the bad file."""
    rows = []
    for number, upload in enumerate(uploads, start=1):
        data = upload.read()
        label = upload.filename or f"image {number}"
        try:
            sample = face_jobs.sample_from_image(current_app, data)
        except (faces.ImageError, faces.FaceRejected) as exc:
            raise ApiError(400, f"{label}: {faces.sentence(str(exc))}") from None
        rows.append(people.sample_row(sample, "api", faces.photo_hash(data)))
    return rows


@bp.get("/users")
def list_users():
    """People in name order, a page at a time, optionally filtered by name."""
    page = int_arg("page", 1, 1, PAGE_MAX)
    per_page = int_arg("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
    query = request.args.get("q", "")
    if len(query) > QUERY_MAX:
        raise ApiError(422, f"“q” is too long (at most {QUERY_MAX} characters).")
    stmt = select(User)
    if name_key(query):
        stmt = stmt.where(User.name_key.contains(name_key(query), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = db.session.scalars(
        stmt.options(selectinload(User.samples))
        .order_by(User.name_key, User.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return jsonify(
        users=[user_json(user) for user in users], total=total, page=page, per_page=per_page
    )


@bp.post("/users")
def create_user():
    """Add a person from JSON, or from a form with optional photos (all must pass or none)."""
    if request.is_json:
        body = json_object()
        if "name" not in body:
            raise ApiError(422, "A name is required.")
        name = text(body["name"], "name")
        details = text(body.get("details", ""), "details")
        uploads = []
    elif request.mimetype in FORM_TYPES:
        name = text(request.form.get("name", ""), "name")
        details = text(request.form.get("details", ""), "details")
        # A browser form with no file chosen sends one empty, nameless part: not a photo.
        uploads = [f for f in request.files.getlist("images") if f.filename or f.content_length]
    else:
        raise ApiError(415, "Send application/json, or multipart/form-data to include photos.")
    # The cheap checks first: a bad or taken name must not cost an encoding per photo.
    name = people.clean_name(name)
    details = people.clean_details(details)
    people.check_name_free(name)
    if len(uploads) > IMAGES_MAX:
        raise ApiError(422, f"Too many photos ({len(uploads)}; at most {IMAGES_MAX}).")
    user = people.create_person(name, details, checked_samples(uploads))
    commit()
    return jsonify(user_json(user)), 201, {"Location": url_for(".get_user", user_id=user.id)}


@bp.get("/users/<int:user_id>")
def get_user(user_id):
    """One person with their samples."""
    return jsonify(user_json(get_or_404(user_id)))


@bp.patch("/users/<int:user_id>")
def update_user(user_id):
    """Change the fields sent (name, details); the others keep their value."""
    user = get_or_404(user_id)
    body = json_object()
    name = text(body["name"], "name") if "name" in body else user.name
    details = text(body["details"], "details") if "details" in body else user.details
    people.update_person(user, name, details)
    commit()
    return jsonify(user_json(user))


@bp.delete("/users/<int:user_id>")
def delete_user(user_id):
    """Delete a person and their samples."""
    db.session.delete(get_or_404(user_id))
    commit()
    return "", 204


@bp.post("/users/<int:user_id>/samples")
def add_sample(user_id):
    """Add a face sample to a person from a photo with exactly one usable face."""
    user = get_or_404(user_id)
    data = image_field("image")
    sample = face_jobs.sample_from_image(current_app, data)
    try:
        # The same rules as the person page: not the same photo twice, not a near-duplicate,
        # not someone else's face. A retried request therefore adds nothing twice.
        row = people.add_sample(user, sample, "api", faces.photo_hash(data))
    except people.SampleRejected as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return jsonify(sample_json(row)), 201
