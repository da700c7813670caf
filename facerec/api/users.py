"""The people endpoints: list, create (optionally with photos), get, update, delete, add a sample.

Every change goes through ``facerec.people`` (the rules the wizard, admin pages and CLI share)
and through ORM objects, so the gallery version moves on and the live stream reloads.
"""

from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import engine, export, faces, forget, people
from ..auth.roles import requires
from ..extensions import db
from ..models import FaceSample, User, name_key
from ..ratelimits import upload_limit
from ..web import release_database
from . import bp, errors
from .contract import BINARY, ENGINE_BUSY, RATE_LIMITED, binary, operation, operations_on_id
from .errors import ApiError
from .inputs import IMAGES_MAX
from .schemas import (
    Sample,
    SampleUpload,
    UserCreate,
    UserCreateForm,
    UserCreateOldForm,
    UserList,
    UserQuery,
    UserUpdate,
)
from .schemas import User as UserSchema

TAKEN = (
    "Another person already has this name (names are compared without regard to case).",
    "A person named “Ada Lovelace” already exists.",
)


def get_or_404(user_id: int) -> User:
    return errors.get_or_404(User, user_id, "person")


# The operations on the person the path names: the view gets the User.
on_person = operations_on_id("user_id", get_or_404, noun="person", tag="People")


def commit():
    try:
        db.session.commit()
    except IntegrityError:
        # Two requests raced for the same name; the unique index decided.
        db.session.rollback()
        raise ApiError(409, "A person with this name already exists.") from None
    except StaleDataError:
        # Deleted by another request between this one's read and its write.
        db.session.rollback()
        raise ApiError(404, "This person was deleted meanwhile.") from None


def checked_samples(name: str, uploads) -> list[FaceSample]:
    """One sample per photo, all encoded before anything is stored; 400 names the bad file,
    409 a photo that repeats another (the same file, or the same face and pose)."""
    taken: list[faces.Sample] = []
    for number, upload in enumerate(uploads, start=1):
        data = upload.read()
        label = upload.filename or f"image {number}"
        try:
            release_database()  # no connection held while the engine works
            sample = engine.sample_from_image(current_app, data)
        except (faces.ImageError, faces.FaceRejected) as exc:
            raise ApiError(400, f"{label}: {faces.sentence(str(exc))}") from None
        try:
            people.check_sample(None, sample, taken, name=name)
        except people.SampleRejected as exc:
            raise ApiError(409, f"{label}: {exc}") from None
        taken.append(sample)
    return [people.sample_row(sample, "api") for sample in taken]


@bp.get("/users")
@requires("people")
@operation(
    "listUsers",
    tag="People",
    summary="List people",
    description="People in name order, a page at a time, optionally filtered by name.",
    query=UserQuery,
    responses={200: ("One page of people.", UserList)},
    links={200: [(on_person, "$response.body#/users/0/id")]},
)
def list_users(query):
    """People in name order, a page at a time, optionally filtered by name."""
    page, per_page = query["page"], query["per_page"]
    stmt = select(User)
    if name_key(query["q"]):
        stmt = stmt.where(User.name_key.contains(name_key(query["q"]), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = db.session.scalars(
        stmt.options(selectinload(User.samples))
        .order_by(User.name_key, User.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return {"users": users, "total": total, "page": page, "per_page": per_page}


TAKEN_OR_REPEATED = (
    TAKEN[0] + " Or two of the photos are the same file, or the same face and pose "
    "(nothing would be gained by storing both).",
    TAKEN[1],
)
BAD_PHOTO = (
    "A photo is not an image, is larger than ${max_pixels}, or does not hold exactly one "
    "usable face.",
    "ada.jpg: No face was found.",
)


def _created(fields: people.PersonFields, uploads=()):
    """A new person (the cheap checks first: a bad or taken name costs no encoding)."""
    fields = fields.clean()
    people.check_name_free(fields.name)
    user = people.create_person(fields, checked_samples(fields.name, uploads))
    commit()
    return user, 201, {"Location": url_for(".get_user", user_id=user.id)}


@bp.post("/users")
@requires("enroll")
@operation(
    "createUser",
    tag="People",
    summary="Add a person",
    description=(
        "A person without photos yet (add them with `addSample`), or send the photos at once "
        "with `createUserWithPhotos`."
    ),
    body=UserCreate,
    compatible={
        media: (
            UserCreateOldForm,
            "the same fields as form fields, with optional photos in `images` (up to "
            f"{IMAGES_MAX}, as `createUserWithPhotos` takes them).",
        )
        for media in ("multipart/form-data", "application/x-www-form-urlencoded")
    },
    responses={201: ("The person was created.", UserSchema)},
    headers={201: {"Location": ("The new person's URL.", True)}},
    links={201: [(on_person, "$response.body#/id")]},
    # A form's photos (the compatible bodies) are checked as createUserWithPhotos checks them.
    errors={
        400: ("With photos in a form: " + BAD_PHOTO[0], BAD_PHOTO[1]),
        409: TAKEN_OR_REPEATED,
        503: ("With photos in a form: " + ENGINE_BUSY[0], ENGINE_BUSY[1]),
    },
)
def create_user(body):
    """Add a person from JSON (or, for older clients, a form with optional photos)."""
    return _created(people.PersonFields.from_dict(body["person"]), body.get("images", ()))


@bp.post("/users/with-photos")
@upload_limit
@requires("enroll")
@operation(
    "createUserWithPhotos",
    tag="People",
    summary="Add a person with their photos",
    description=(
        "The person's fields and photos in `images` (repeat the field). Every photo must "
        "hold exactly one usable face (big enough, sharp); if one is refused nothing is "
        "created and the error names the file."
    ),
    body={"multipart/form-data": UserCreateForm},
    responses={201: ("The person was created, with a sample per photo.", UserSchema)},
    headers={201: {"Location": ("The new person's URL.", True)}},
    links={201: [(on_person, "$response.body#/id")]},
    errors={400: BAD_PHOTO, 409: TAKEN_OR_REPEATED, 429: RATE_LIMITED, 503: ENGINE_BUSY},
)
def create_user_with_photos(body):
    """Add a person from a form with photos (all must pass or none)."""
    return _created(people.PersonFields.from_dict(body["person"]), body["images"])


@bp.get("/users/<int:user_id>")
@requires("people")
@on_person("getUser", summary="One person", responses={200: ("The person.", UserSchema)})
def get_user(user):
    """One person with their samples."""
    return user


@bp.patch("/users/<int:user_id>")
@requires("enroll")
@on_person(
    "updateUser",
    summary="Change a person's name, details or match threshold",
    description=(
        "Only the fields sent change; the others keep their value. `tolerance` sets their "
        "match threshold by hand; null goes back to the one computed from their samples, "
        "negatives and nearest other person."
    ),
    body=UserUpdate,
    responses={200: ("The person, changed.", UserSchema)},
    errors={409: TAKEN},
)
def update_user(user, body):
    """Change the fields sent (name, details, tolerance); the others keep their value."""
    people.update_person(user, people.PersonFields.of(user).changed(**body["person"]))
    if "tolerance" in body:
        user.tolerance = body["tolerance"]
    commit()
    return user


@bp.get("/users/<int:user_id>/export.zip")
@requires("export_people")
@on_person(
    "exportUser",
    summary="Everything held on a person, as one ZIP (a subject access request)",
    description=(
        "`person.json` (their record, consent included, samples, sightings, corrections and "
        "the audit entries about them; valid against the `person.schema.json` beside it), "
        "`samples/<id>.jpg`, `sightings.csv`, `sightings/<id>.jpg`, `negatives/<id>.jpg` and "
        "`audit.csv`. The export itself is written on the audit trail (`person.exported`)."
    ),
    responses={
        200: (
            "The ZIP.",
            BINARY,
            ("application/zip", "application/octet-stream"),
        )
    },
)
def export_user(user):
    """Everything held on a person, as one ZIP."""
    data = export.export(user)
    db.session.commit()
    response = binary(data, "application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.file_name(user)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.delete("/users/<int:user_id>")
@requires("delete_people")
@on_person(
    "deleteUser",
    summary="Delete a person and every copy of their face",
    description=(
        "Their samples, sightings with the crops, and “not this person” samples go, "
        "and so do unknown visitors' sightings whose face matches theirs (from before they "
        "were enrolled), “not this person” samples of other people made from their "
        "face, the unknown visitors' groups they were enrolled from, and their retained MQTT "
        "topics. The audit trail keeps the entry saying who deleted them, with the counts."
    ),
    responses={204: ("Deleted; the live stream stops recognising them.", None)},
)
def delete_user(user):
    """Delete a person and every copy of their face (facerec.forget)."""
    erased = forget.delete(user)
    commit()
    forget.after_commit(erased)
    return None, 204


@bp.post("/users/<int:user_id>/samples")
@upload_limit
@requires("enroll")
@on_person(
    "addSample",
    summary="Add a face sample from a photo",
    description=(
        "The photo must hold exactly one usable face (big enough, sharp). 409 when it is the "
        "same photo as one of the person's samples, almost the same face, or a face closer to "
        "someone else enrolled."
    ),
    body={"multipart/form-data": SampleUpload},
    responses={201: ("The sample was added.", Sample)},
    errors={
        400: (
            "The file is not an image, is larger than ${max_pixels}, or does not hold exactly "
            "one usable face.",
            "No face was found.",
        ),
        409: (
            "The person already has this photo or almost the same face, or the face is closer "
            "to someone else.",
            "This photo is already one of Ada Lovelace's samples.",
        ),
        429: RATE_LIMITED,
        503: ENGINE_BUSY,
    },
)
def add_sample(user, body):
    """Add a face sample to a person from a photo with exactly one usable face."""
    data = body["image"].read()
    release_database()  # no connection held while the engine works
    sample = engine.sample_from_image(current_app, data)
    try:
        # The same rules as the person page: not the same photo twice, not a near-duplicate,
        # not someone else's face. A retried request therefore adds nothing twice.
        row = people.add_sample(user, sample, "api")
    except people.SampleRejected as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return row, 201
