"""The shapes of the API's requests and answers (marshmallow), and the limits they enforce.

Request schemas validate what the views receive (see ``contract.operation``); response schemas
describe what they send. Both become the components of the OpenAPI document, so the rules
written here are the rules documented.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..models import NAME_MAX
from ..people import DETAILS_MAX
from .contract import File, FormBody, JsonBody, Query
from .inputs import IMAGES_MAX, PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_MAX

# people.clean_name / clean_details refuse control characters (Unicode category Cc); a name's
# white space, control characters included (tab, line feed, ...), is folded into one space.
_CONTROL_BUT_SPACE = r"\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"
_CONTROL_BUT_LINES = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# At least one character that is not white space (a name of spaces is empty once trimmed).
NAME_PATTERN = rf"^[^{_CONTROL_BUT_SPACE}]*[^\s{_CONTROL_BUT_SPACE}][^{_CONTROL_BUT_SPACE}]*$"
DETAILS_PATTERN = rf"^[^{_CONTROL_BUT_LINES}]*$"

TIMESTAMP = {"description": "UTC, ISO 8601 with a trailing Z.", "example": "2025-01-31T09:30:00Z"}
IMAGE = (
    "A photo: JPEG, PNG, WebP, BMP, GIF or TIFF (EXIF rotation is applied), at most "
    "${max_pixels} (FACEREC_MAX_PIXELS)."
)


def timestamp(**kwargs):
    return ma.fields.String(required=True, metadata={"format": "date-time", **TIMESTAMP}, **kwargs)


def name_field(**kwargs):
    return ma.fields.String(
        error_messages={"required": "is required.", "null": "must be text, not null."},
        validate=[
            validate.Length(1, NAME_MAX, error="must be at most {max} characters."),
            validate.Regexp(
                NAME_PATTERN,
                error="must not be blank or contain control characters.",
            ),
        ],
        metadata={
            "description": (
                f"Trimmed, inner white space folded; 1 to {NAME_MAX} characters without control "
                "characters; unique without regard to case."
            ),
            "example": "Ada Lovelace",
        },
        **kwargs,
    )


def details_field(**kwargs):
    return ma.fields.String(
        error_messages={"null": "must be text, not null."},
        validate=[
            validate.Length(0, DETAILS_MAX, error="must be at most {max} characters."),
            validate.Regexp(
                DETAILS_PATTERN, error="must not contain control characters but line breaks."
            ),
        ],
        metadata={
            "description": (
                f"Free text shown to operators, at most {DETAILS_MAX:,} characters; line breaks "
                "and tabs are the only control characters allowed."
            ),
            "example": "Visitor badge 12",
        },
        **kwargs,
    )


def nullable(kind: type[ma.fields.Field], description: str = "", *, validate=None, **metadata):
    """A field every answer carries, null when there is nothing to give; ``metadata`` are more
    keywords of its OpenAPI schema (``example``, ``format``...)."""
    if description:
        metadata = {"description": description, **metadata}
    return kind(required=True, allow_none=True, validate=validate, metadata=metadata)


def box_field(description: str):
    return ma.fields.List(
        ma.fields.Integer(validate=validate.Range(min=0)),
        required=True,
        validate=validate.Length(equal=4),
        metadata={"description": description, "example": [68, 497, 175, 390]},
    )


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


class RecognizedFace(ma.Schema):
    box = box_field("The face's box in image pixels: [top, right, bottom, left].")
    user_id = nullable(
        ma.fields.Integer, "The person's id; null when the face matches nobody.", example=7
    )
    name = nullable(
        ma.fields.String,
        "The person's name; null when the face matches nobody.",
        example="Ada Lovelace",
    )
    distance = nullable(
        ma.fields.Float,
        "Distance to the nearest enrolled sample, lower is closer; the face is that person's "
        "when it is at most the tolerance (${tolerance} unless sent). Null when nobody is "
        "enrolled.",
        validate=validate.Range(min=0),
        example=0.41,
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


class User(ma.Schema):
    class Meta:
        ordered = True

    id = ma.fields.Integer(required=True, metadata={"example": 7})
    name = ma.fields.String(required=True, metadata={"example": "Ada Lovelace"})
    details = ma.fields.String(required=True, metadata={"example": "Visitor badge 12"})
    samples = ma.fields.List(
        ma.fields.Nested(Sample),
        required=True,
        metadata={"description": "The person's face samples, oldest first."},
    )
    created_at = timestamp()
    updated_at = timestamp()


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


class StreamFace(ma.Schema):
    box = box_field("[top, right, bottom, left] in frame pixels.")
    user_id = nullable(ma.fields.Integer, example=7)
    name = nullable(ma.fields.String, example="Ada Lovelace")
    distance = nullable(ma.fields.Float, example=0.41)


class SourceStream(ma.Schema):
    """What a camera's source delivered when it was last opened."""

    kind = ma.fields.String(
        required=True,
        validate=validate.OneOf(("file", "webcam", "rtsp", "stream", "snapshot")),
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


def camera_state(*states: str):
    return ma.fields.String(
        required=True, validate=validate.OneOf(states), metadata={"example": "running"}
    )


def camera_source(description: str, example: str):
    return ma.fields.String(
        required=True, metadata={"description": description, "example": example}
    )


class CameraState(ma.Schema):
    """What a camera's status (StreamStatus) and its line in the camera list both say."""

    running = ma.fields.Boolean(required=True, metadata={"example": True})
    state = camera_state(*CAMERA_STATES)
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
    faces = ma.fields.List(ma.fields.Nested(StreamFace), required=True)


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


class UserCreate(JsonBody):
    name = name_field(required=True)
    details = details_field(load_default="")


class UserCreateForm(FormBody):
    name = name_field(required=True)
    details = details_field(load_default="")
    images = ma.fields.List(
        File(metadata={"description": IMAGE}),
        load_default=list,
        validate=validate.Length(max=IMAGES_MAX, error="must be at most {max} photos."),
        metadata={
            "description": (
                "Optional photos (repeat the field), each with exactly one usable face. If any "
                "photo is refused, nobody is created and the error names the file."
            )
        },
    )


class UserUpdate(JsonBody):
    name = name_field()
    details = details_field()


class SampleUpload(FormBody):
    image = File(
        required=True,
        metadata={"description": IMAGE + " It must hold exactly one usable face."},
    )


SCHEMAS = {
    "Error": Error,
    "Recognition": Recognition,
    "RecognizedFace": RecognizedFace,
    "User": User,
    "UserList": UserList,
    "Sample": Sample,
    "StreamStatus": StreamStatus,
    "StreamFace": StreamFace,
}
