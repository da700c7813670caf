"""The JSON shapes facerec sends that code outside the API sends too: one marshmallow schema
each, and the fields they are built from.

A sighting is S in the API, in webhook and MQTT events and in the history CSV; a recognised
face is the same in POST /api/v1/recognize and in a camera's status; a person (their
``PersonFields``) is the same in the API and in their export. Each is dumped from the
object itself (a ``models.Sighting``, a ``gallery.RecognisedFace``) through its schema here,
so what the OpenAPI document says is what goes out, everywhere. The API's own shapes are in
``facerec.api.schemas``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import marshmallow as ma
from marshmallow import validate

from .consent import BASES
from .people import PersonFields

TIMESTAMP = {"description": "UTC, ISO 8601 with a trailing Z.", "example": "2025-01-31T09:30:00Z"}


class Timestamp(ma.fields.String):
    """A stored time (naive UTC) sent as ISO 8601 with a Z, to the second."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            value = value.replace(microsecond=0).isoformat() + "Z"
        return super()._serialize(value, attr, obj, **kwargs)


def timestamp(description: str | None = None, **kwargs):
    metadata = {"format": "date-time", **TIMESTAMP}
    if description:
        metadata["description"] = description
    return Timestamp(required=True, metadata=metadata, **kwargs)


def nullable(kind: type[ma.fields.Field], description: str = "", *, validate=None, **metadata):
    """A field every answer carries, null when there is nothing to give; ``metadata`` are more
    keywords of its OpenAPI schema (``example``, ``format``...)."""
    if description:
        metadata = {"description": description, **metadata}
    return kind(required=True, allow_none=True, validate=validate, metadata=metadata)


class Pixel(ma.fields.Integer):
    """A coordinate in whole pixels: a tracked box moves by fractions, the answer rounds."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else round(value)


def box_field(description: str):
    return ma.fields.List(
        Pixel(validate=validate.Range(min=0)),
        required=True,
        validate=validate.Length(equal=4),
        metadata={"description": description, "example": [68, 497, 175, 390]},
    )


class RecognizedFace(ma.Schema):
    """A face in a photo or a camera frame and who it is."""

    box = box_field("The face's box in pixels of the photo or frame: [top, right, bottom, left].")
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
        "Distance to the nearest enrolled sample: a match below the tolerance (${tolerance} "
        'unless sent), no match above it; pages write it as "0.41 (match below 0.60)" or '
        '"0.73 (no match: above 0.60)". Null when nobody is enrolled.',
        validate=validate.Range(min=0),
        example=0.41,
    )


class Sighting(ma.Schema):
    """A sighting (S): one track, a face continuously in view on one camera."""

    class Meta:
        ordered = True

    id = ma.fields.Integer(required=True, metadata={"example": 812})
    camera = ma.fields.String(required=True, metadata={"example": "main"})
    user_id = nullable(ma.fields.Integer, "The person, or null for an unknown face.")
    name = nullable(ma.fields.String, "The person's name at the time, or null for an unknown face.")
    started_at = timestamp()
    ended_at = nullable(
        Timestamp, "Null while in view.", format="date-time", example=TIMESTAMP["example"]
    )
    frames = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "Frames it was shown on.", "example": 42},
    )
    distance = nullable(
        ma.fields.Float,
        "The best (smallest) distance among its recognition results: a match below the "
        "tolerance (${tolerance} here), no match above it; pages write it as "
        '"0.41 (match below 0.60)" or "0.73 (no match: above 0.60)". Null when nobody was '
        "enrolled to compare with.",
    )
    labelled_by_hand = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "True when someone said who this is (This is..., This is not..., "
            "an unknown visitor enrolled or assigned): `distance` is then the recognition's, "
            'not a match with this person, and pages say "labelled by hand".',
            "example": False,
        },
    )
    crop_url = nullable(
        ma.fields.String, "Its best face as JPEG.", example="/api/v1/sightings/812/crop.jpg"
    )
    group_id = nullable(ma.fields.Integer, "The unknown visitors' group it belongs to, if any.")


SIGHTING = Sighting()


def sighting(row) -> dict:
    """A sighting row as S (the API's, the events' and the CSV's shape)."""
    return SIGHTING.dump(row)


class JsonObject(ma.fields.Dict):
    """A JSON object kept as text in a column (an audit entry's details), sent as the object."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except ValueError:
                value = {"text": value}
        return super()._serialize(value, attr, obj, **kwargs)


class AuditEntry(ma.Schema):
    """One entry of the audit trail (GET /api/v1/audit, the audit page and its CSV)."""

    class Meta:
        ordered = True

    id = ma.fields.Integer(required=True, metadata={"example": 4051})
    time = timestamp("When it happened (UTC).", attribute="created_at")
    actor = ma.fields.String(
        required=True,
        metadata={
            "description": "Who: an account's username, “token “NAME” of USERNAME”, "
            "“command line (user)”, “anonymous” (a failed sign-in) or “facerec” (the server "
            "itself).",
            "example": "alice",
        },
    )
    address = nullable(
        ma.fields.String, "The client's address; null outside a request.", example="192.0.2.10"
    )
    action = ma.fields.String(required=True, metadata={"example": "person.deleted"})
    object_type = nullable(ma.fields.String, "The kind of object.", example="person")
    object_id = nullable(ma.fields.Integer, "The object's id.", example=17)
    object_name = nullable(ma.fields.String, "Its name at the time.", example="Ada Lovelace")
    details = JsonObject(
        required=True,
        metadata={
            "description": "What changed (never a secret).",
            "example": {"from": "Ada", "to": "Ada Lovelace"},
        },
    )


AUDIT_ENTRY = AuditEntry()
# The columns of the audit's CSV (the audit page's download, a person's export): its fields.
AUDIT_COLUMNS = tuple(AUDIT_ENTRY.fields)


class Consent(ma.Schema):
    """A person's consent record (facerec.consent)."""

    class Meta:
        ordered = True

    basis = ma.fields.String(
        required=True,
        validate=validate.OneOf(list(BASES)),
        metadata={"description": "On what basis their face is held.", "example": "consent"},
    )
    recorded_at = timestamp()
    recorded_by = ma.fields.String(
        required=True,
        metadata={
            "description": "Who recorded it: an account, an API token, or the command line.",
            "example": "alice",
        },
    )
    note = ma.fields.String(
        required=True, metadata={"example": "Signed form in the visitors' folder"}
    )
    expires_on = ma.fields.Date(
        required=True,
        allow_none=True,
        metadata={
            "description": "From this date the person is flagged for review; null: never.",
            "example": "2027-06-30",
        },
    )
    review_due = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "The review date has come: record the basis again (or delete the "
            "person).",
            "example": False,
        },
    )


# How a group of ``PersonFields`` (their ``group``: the consent record) answers: as one
# object, with what the server adds to it (when and by whom it was recorded...).
PERSON_GROUPS = {
    "consent": (Consent, "On what basis their face is held; null: none recorded."),
}


def person_fields() -> dict:
    """An answer's fields of a person, one per ``PersonFields`` field (a group, one object):
    the API's person and the export's ``person.json`` show what the forms and the API take."""
    made = {}
    for field in dataclasses.fields(PersonFields):
        group = field.metadata.get("group")
        if group is None:
            made[field.name] = ma.fields.String(
                required=True, metadata={"example": field.metadata["example"]}
            )
        elif group[0] not in made:
            schema, description = PERSON_GROUPS[group[0]]
            made[group[0]] = ma.fields.Nested(
                schema, required=True, allow_none=True, metadata={"description": description}
            )
    return made


def person_answer(name: str, more: dict, doc: str = "") -> type[ma.Schema]:
    """A schema of a stored person: their id, their fields, ``more`` fields, and when the
    record was made and last changed."""
    fields = {
        "id": ma.fields.Integer(required=True, metadata={"example": 7}),
        **person_fields(),
        **more,
        "created_at": timestamp(),
        "updated_at": timestamp(),
    }
    return type(name, (ma.Schema,), {"__doc__": doc, **fields})


# A person's record as their export gives it (facerec.export).
Person = person_answer("Person", {}, "A stored person: who they are, besides their faces.")
