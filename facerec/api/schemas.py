"""The shapes of the API's requests and answers (marshmallow), and the limits they enforce.

Request schemas validate what the views receive (see ``contract.operation``); response schemas
describe what they send. Both become the components of the OpenAPI document, so the rules
written here are the rules documented.
"""

from __future__ import annotations

import dataclasses

import marshmallow as ma
from marshmallow import validate

from ..camera.sources import source_kinds
from ..people import PersonFields
from ..shapes import Consent, RecognizedFace, Sighting, nullable, person_answer, timestamp
from ..thresholds import BY_HAND_MAX, BY_HAND_MIN
from .contract import File, FormBody, JsonBody, Query
from .inputs import IMAGES_MAX, PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_MAX

IMAGE = (
    "A photo: JPEG, PNG, WebP, BMP, GIF or TIFF (EXIF rotation is applied), at most "
    "${max_pixels} (FACEREC_MAX_PIXELS)."
)


def _person_field(field, *, required: bool, partial: bool, example, nullable: bool = False):
    about = field.metadata
    keywords = {"required": True} if required else {}
    if not required and not partial and not about.get("group"):
        keywords["load_default"] = field.default
    metadata = {"description": about["api"], "example": example}
    if "choices" in about:
        # An enum says the rule in the document; PersonFields.clean() gives the sentence.
        metadata["enum"] = list(about["choices"])
    elif about.get("input") == "date":
        metadata["format"] = "date"
    else:
        metadata["minLength"] = 1 if about.get("required") else 0
        # Filled in by openapi.limits from the rule itself (people.text_pattern).
        metadata["pattern"] = f"${{{field.name}_pattern}}"
    if nullable:
        keywords["allow_none"] = True  # in the consent object, null is "none" like ""
    if about.get("input") == "date":
        # A real date (an empty string is not one: leave the field out, or send null).
        metadata.pop("format", None)
        return ma.fields.Date(
            error_messages={
                "required": "is required.",
                "null": "must be a date, not null.",
                "invalid": "must be a date written YYYY-MM-DD, such as 2027-06-30.",
            },
            metadata=metadata,
            **keywords,
        )
    return ma.fields.String(
        error_messages={"required": "is required.", "null": "must be text, not null."},
        validate=validate.Length(
            max=about["max_length"], error="must be at most {max} characters."
        ),
        metadata=metadata,
        **keywords,
    )


_GROUP_SCHEMAS: dict[str, type[ma.Schema]] = {}


def person_fields(*, partial: bool = False, examples: dict | None = None, flat=False) -> dict:
    """A body's fields of a person, one per ``people.PersonFields`` field, described by it.

    The rule of each is ``PersonFields.clean()``'s, applied by the service the view calls
    (a broken rule is a 422 naming the field); here only the type and the raw length are
    checked, and the document shows the rule as a pattern made from the same code. Fields
    of a group (the consent record) are one nested object, ``consent``: null (or absent)
    means no record, and sent, it replaces the whole record. With ``flat`` (a form, which
    cannot nest), they are fields of their own named ``consent.basis``...
    """
    made, groups = {}, {}
    for field in dataclasses.fields(PersonFields):
        about = field.metadata
        example = (examples or {}).get(field.name, about["example"])
        group = about.get("group")
        if group and flat:
            made[field.name] = _person_field(field, required=False, partial=True, example=example)
            made[field.name].data_key = ".".join(group)
            continue
        if group:
            # The basis is the record: an object sent without one is refused by its schema.
            required = bool(about.get("required_in_group"))
            groups.setdefault(group[0], {})[group[1]] = _person_field(
                field, required=required, partial=False, example=example, nullable=not required
            )
            continue
        required = bool(about.get("required")) and not partial
        made[field.name] = _person_field(field, required=required, partial=partial, example=example)
    for name, inner in groups.items():
        # One class per group (the document names it once: ConsentFields).
        schema = _GROUP_SCHEMAS.setdefault(name, type(name.title() + "Fields", (JsonBody,), inner))
        made[name] = ma.fields.Nested(
            schema,
            allow_none=True,
            metadata={
                "description": "The consent record: on what basis the person's face is held. "
                "Sent, it replaces the whole record (the fields left out are emptied); null "
                "clears it (refused when the server requires a basis: FACEREC_REQUIRE_CONSENT)."
            },
        )
    return made


class PersonBody(ma.Schema):
    """A body with a person's fields: the view gets those sent as ``body["person"]`` (a dict,
    for ``PersonFields.from_dict`` or ``PersonFields.changed``): a group sent (``consent``)
    sets every field of it, null or {} empties them."""

    @ma.post_load
    def _person(self, data, **_kwargs):
        person = {}
        for field in dataclasses.fields(PersonFields):
            group = field.metadata.get("group")
            if group is None or field.name in data:  # a field, or a form's "consent.basis"
                if field.name in data:
                    person[field.name] = data.pop(field.name) or ""
            elif group[0] in data:
                person[field.name] = (data[group[0]] or {}).get(group[1]) or ""
        for field in dataclasses.fields(PersonFields):
            group = field.metadata.get("group")
            if group is not None:
                data.pop(group[0], None)
        data["person"] = person
        return data


def person_body(
    name: str, base: type[ma.Schema], doc: str, *, partial=False, examples=None, **more
):
    """A request schema named ``name`` with a person's fields (and ``more`` fields)."""
    flat = issubclass(base, FormBody)
    fields = person_fields(partial=partial, examples=examples, flat=flat)
    return type(name, (PersonBody, base), {"__doc__": doc, **fields, **more})


# ---- answers ----------------------------------------------------------------------------------


class Error(ma.Schema):
    error = ma.fields.String(
        required=True,
        metadata={"description": "What went wrong, written for a person.", "example": "..."},
    )
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "On 422: each refused field with what is wrong with it.",
            "example": {"name": ["must be at most 100 characters."]},
        },
    )


class Recognition(ma.Schema):
    faces = ma.fields.List(
        ma.fields.Nested(RecognizedFace),
        required=True,
        metadata={"description": "Every face found, largest first; empty when there is none."},
    )


class Sample(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 12})
    user_id = ma.fields.Integer(required=True, metadata={"example": 7})
    source = ma.fields.String(
        required=True,
        metadata={
            "description": "Where it came from: api, upload, camera, import, ...",
            "example": "api",
        },
    )
    created_at = timestamp()


class NearestPerson(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 9})
    name = ma.fields.String(required=True, metadata={"example": "Grace Hopper"})
    distance = ma.fields.Float(required=True, metadata={"example": 0.52})


class NearestStranger(ma.Schema):
    distance = ma.fields.Float(required=True, metadata={"example": 0.63})
    sighting_id = nullable(
        ma.fields.Integer,
        "The unknown sighting; null for one of the person's negatives.",
        example=31,
    )


class Headroom(ma.Schema):
    """How far the person's faces are from everyone else's, and the threshold in force."""

    tolerance = ma.fields.Float(
        required=True,
        metadata={
            "description": "The threshold in force (set by hand, or computed; under the "
            "server's FACEREC_TOLERANCE).",
            "example": 0.5,
        },
    )
    computed = ma.fields.Boolean(
        required=True, metadata={"description": "False when set by hand.", "example": True}
    )
    nearest_person = ma.fields.Nested(
        NearestPerson,
        required=True,
        allow_none=True,
        metadata={"description": "The nearest sample of anyone else; null: nobody else."},
    )
    nearest_stranger = ma.fields.Nested(
        NearestStranger,
        required=True,
        allow_none=True,
        metadata={
            "description": "The nearest face known not to be them (a negative, or an unknown "
            "sighting); null: none seen."
        },
    )
    separates = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether the threshold is below both: faces like theirs are not "
            "given this person's name.",
            "example": True,
        },
    )


def _headroom(user):
    from ..config import current_settings
    from ..thresholds import headroom

    return headroom(user, current_settings().tolerance)


# A person as the API gives them: their fields (shapes.person_fields, from PersonFields), their
# samples and their threshold.
User = person_answer(
    "User",
    {
        "samples": ma.fields.List(
            ma.fields.Nested(Sample),
            required=True,
            metadata={"description": "The person's face samples, oldest first."},
        ),
        "tolerance": nullable(
            ma.fields.Float,
            "Their match threshold set by hand; null: computed from their samples, negatives "
            "and nearest other person (see headroom).",
            example=None,
        ),
        "headroom": ma.fields.Function(
            _headroom,
            required=True,
            metadata={
                "description": Headroom.__doc__,
                "allOf": [{"$ref": "#/components/schemas/Headroom"}],
                "example": {
                    "tolerance": 0.6,
                    "computed": True,
                    "nearest_person": {"id": 9, "name": "Grace Hopper", "distance": 0.78},
                    "nearest_stranger": {"distance": 0.71, "sighting_id": 31},
                    "separates": True,
                },
            },
        ),
    },
)


class UserList(ma.Schema):
    users = ma.fields.List(ma.fields.Nested(User), required=True)
    total = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "People matching the filter, over all pages.", "example": 1},
    )
    page = ma.fields.Integer(required=True, validate=validate.Range(min=1), metadata={"example": 1})
    per_page = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=PER_PAGE_MAX),
        metadata={"example": PER_PAGE_DEFAULT},
    )


class SourceStream(ma.Schema):
    """What a camera's source delivered when it was last opened."""

    kind = ma.fields.String(
        required=True,
        # The kinds camera.sources knows: a new kind of source is in the document at once.
        validate=validate.OneOf(source_kinds()),
        metadata={
            "description": "file, webcam, rtsp, stream (HTTP MJPEG or another URL FFmpeg "
            "reads) or snapshot (one JPEG per HTTP request).",
            "example": "rtsp",
        },
    )
    codec = ma.fields.String(
        required=True,
        metadata={"description": "The video codec; empty when not reported.", "example": "H.264"},
    )
    width = ma.fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={"example": 1280}
    )
    height = ma.fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={"example": 720}
    )
    fps = ma.fields.Float(
        required=True,
        metadata={"description": "The frame rate the source declares (0: none).", "example": 29.97},
    )
    first_frame_ms = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "From the start of opening to the first frame.", "example": 910},
    )


CAMERA_STATES = ("stopped", "starting", "running", "unavailable")
CAMERA_ACTIVITIES = ("idle", "watching", "recognising")


class DetectStream(ma.Schema):
    """A camera's detection sub-stream: read beside the main stream, with its own state."""

    source = ma.fields.String(
        required=True,
        metadata={
            "description": "The sub-stream's URL, every credential hidden.",
            "example": "rtsp://viewer:***@192.168.1.64/Streaming/Channels/102",
        },
    )
    state = ma.fields.String(
        required=True,
        validate=validate.OneOf(CAMERA_STATES),
        metadata={
            "description": "While it is unavailable recognition pauses; the main stream goes on.",
            "example": "running",
        },
    )
    error = nullable(ma.fields.String, "Why the sub-stream is unavailable.", example=None)
    stream = ma.fields.Nested(SourceStream, required=True, allow_none=True)


def camera_state(*states: str):
    return ma.fields.String(
        required=True, validate=validate.OneOf(states), metadata={"example": "running"}
    )


def camera_source(description: str, example: str):
    return ma.fields.String(
        required=True, metadata={"description": description, "example": example}
    )


def counter(description: str):
    return ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": description, "example": 0},
    )


class CameraState(ma.Schema):
    """What a camera's status (StreamStatus) and its line in the camera list both say."""

    running = ma.fields.Boolean(required=True, metadata={"example": True})
    state = camera_state(*CAMERA_STATES)
    activity = ma.fields.String(
        required=True,
        validate=validate.OneOf(CAMERA_ACTIVITIES),
        metadata={
            "description": "`idle`: not capturing; `watching`: capturing, no face search "
            "lately (nothing moves and no face is in view); `recognising`: searching for "
            "faces.",
            "example": "watching",
        },
    )
    error = nullable(
        ma.fields.String, "Why the camera is unavailable (it is retried meanwhile).", example=None
    )
    source = camera_source("The configured camera, with every credential of a URL hidden.", "0")
    fps = ma.fields.Float(
        required=True, metadata={"description": "Frames published per second.", "example": 15.0}
    )
    recognition_hz = ma.fields.Float(
        required=True,
        metadata={"description": "Recognition results per second.", "example": 4.0},
    )
    viewers = ma.fields.Integer(
        required=True, validate=validate.Range(min=0), metadata={"example": 1}
    )


class StreamStatus(CameraState):
    camera = ma.fields.String(
        required=True, metadata={"description": "The camera's name.", "example": "main"}
    )
    source_fps = ma.fields.Float(
        required=True,
        metadata={"description": "The rate frames arrive at from the source.", "example": 25.0},
    )
    recognition_skipped = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={
            "description": "Frames recognition skipped because it was still busy.",
            "example": 0,
        },
    )
    frames_gated = counter("Frames not searched for faces: nothing moved and no face in view.")
    detections = counter("Searches for faces (whole frames or the regions that move).")
    encodings = counter("Faces encoded and matched against the enrolled people.")
    encodings_skipped = counter(
        "Faces found where a face whose name is settled was, and not encoded again."
    )
    frame_index = nullable(
        ma.fields.Integer, "The source frame the faces were found in.", example=1234
    )
    attempts = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={
            "description": "Attempts to open the camera since it last delivered frames (0 while "
            "it does); the pause between two is at most 2 s for a URL camera.",
            "example": 0,
        },
    )
    stream = ma.fields.Nested(
        SourceStream,
        required=True,
        allow_none=True,
        metadata={"description": "What the source delivered when last opened (null: not yet)."},
    )
    detect = ma.fields.Nested(
        DetectStream,
        required=True,
        allow_none=True,
        metadata={
            "description": "The detection sub-stream faces are looked for in, when the camera "
            "has one (null: faces are looked for in the main stream)."
        },
    )
    faces = ma.fields.List(ma.fields.Nested(RecognizedFace), required=True)


# ---- requests ---------------------------------------------------------------------------------


class RecognizeForm(FormBody):
    image = File(required=True, metadata={"description": IMAGE})
    tolerance = ma.fields.Float(
        allow_nan=False,
        validate=validate.Range(0, 1, error="must be a number from 0 to 1."),
        metadata={
            "description": (
                "Match threshold on the distance (lower is stricter); ${tolerance} "
                "(FACEREC_TOLERANCE) when absent."
            ),
            "example": 0.5,
            "x-config": "FACEREC_TOLERANCE",
        },
    )


class UserQuery(Query):
    page = ma.fields.Integer(
        load_default=1,
        validate=validate.Range(1, PAGE_MAX, error="must be a whole number from {min} to {max}."),
        metadata={"description": "Page number, from 1."},
    )
    per_page = ma.fields.Integer(
        load_default=PER_PAGE_DEFAULT,
        validate=validate.Range(
            1, PER_PAGE_MAX, error="must be a whole number from {min} to {max}."
        ),
        metadata={"description": "People per page."},
    )
    q = ma.fields.String(
        load_default="",
        validate=validate.Length(max=QUERY_MAX, error="must be at most {max} characters."),
        metadata={
            "description": "Only people whose name contains this text (any case).",
            "example": "ada",
        },
    )


UserCreate = person_body("UserCreate", JsonBody, "A new person.")
UserCreateForm = person_body(
    "UserCreateForm",
    FormBody,
    "A new person with their photos.",
    images=ma.fields.List(
        File(metadata={"description": IMAGE}),
        required=True,
        validate=validate.Length(1, IMAGES_MAX, error="must be 1 to {max} photos."),
        metadata={
            "description": (
                "The photos (repeat the field), each with exactly one usable face. If any "
                "photo is refused, nobody is created and the error names the file."
            )
        },
    ),
)
# What POST /api/v1/users took as a form before photos moved to /users/with-photos: the
# fields, and photos optionally (accepted there still, for clients written then).
UserCreateOldForm = person_body(
    "UserCreateOldForm",
    FormBody,
    "A new person, optionally with photos.",
    images=ma.fields.List(
        File(),
        load_default=list,
        validate=validate.Length(max=IMAGES_MAX, error="must be at most {max} photos."),
    ),
)
UserUpdate = person_body(
    "UserUpdate",
    JsonBody,
    "The fields to change.",
    partial=True,
    tolerance=ma.fields.Float(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(
            BY_HAND_MIN, BY_HAND_MAX, error="must be a number from {min} to {max}, or null."
        ),
        metadata={
            "description": "Their match threshold set by hand (lower is stricter); null: "
            "computed again.",
            "example": 0.5,
        },
    ),
)


class SampleUpload(FormBody):
    image = File(
        required=True,
        metadata={"description": IMAGE + " It must hold exactly one usable face."},
    )


SCHEMAS = {
    "Error": Error,
    "Headroom": Headroom,
    "Recognition": Recognition,
    "RecognizedFace": RecognizedFace,
    "User": User,
    "Consent": Consent,
    "UserList": UserList,
    "Sample": Sample,
    "StreamStatus": StreamStatus,
    "Sighting": Sighting,
}
