"""A person's export (a subject access request): one ZIP with everything facerec holds on them.

GDPR art. 15 lets a person ask what is held on them; the same ZIP serves a move to another
system. It is made in memory from one read of the database (a person has at most a few
thousand sightings of a few kilobytes each) and holds:

- ``person.json``: their record, consent included, and one entry per sample, sighting,
  correction and audit entry, valid against ``person.schema.json`` (``SCHEMA`` below);
- ``samples/<id>.jpg``: the face of each sample (facerec keeps the face, never the photo);
- ``sightings.csv`` and ``sightings/<id>.jpg``: every sighting of them and its face crop;
- ``negatives/<id>.jpg``: the faces said to be "not this person" (the corrections);
- ``audit.csv``: the audit entries about them, their samples and their corrections.

Face encodings are left out: 128 numbers that mean nothing to a reader and only serve to
find the face again.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

from sqlalchemy import or_, select

from . import audit, consent, csvfiles, people, shapes
from .extensions import db
from .models import AuditEntry, NegativeSample, Sighting, User, iso, utcnow

FORMAT = "facerec-person-export/1"
# The person's record: the shape of the API's person, without their samples (listed apart) and
# without whether the consent's review is due (a flag of the day it is read, not data held).
PERSON = shapes.Person(exclude=("consent.review_due",))

SIGHTING_COLUMNS = (
    "id",
    "camera",
    "name",
    "started_at",
    "ended_at",
    "frames",
    "distance",
    "labelled_by_hand",
    "crop",
)

_TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
_TIME_OR_NULL = {"anyOf": [_TIME, {"type": "null"}]}
_FILE = {"type": "string", "pattern": r"^[a-z]+/\d+\.jpg$"}
_FILE_OR_NULL = {"anyOf": [_FILE, {"type": "null"}]}


def _object(properties: dict, **more) -> dict:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
        **more,
    }


# What person.json says of a group of a person's fields (``group`` in PersonFields), written
# beside the shape it checks (shapes.PERSON_GROUPS): the consent record.
GROUP_SCHEMAS = {
    "consent": _object(
        {
            "basis": {"enum": list(consent.BASES)},
            "note": {"type": "string"},
            "expires_on": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            "recorded_at": _TIME_OR_NULL,
            "recorded_by": {"type": ["string", "null"]},
        }
    ),
}


def _person_properties() -> dict:
    """person.json's properties for a person's fields, one per ``PersonFields`` field (as
    ``shapes.Person`` gives them): a new field is in the export and its schema at once."""
    made = {}
    for field in dataclasses.fields(people.PersonFields):
        group = field.metadata.get("group")
        if group is None:
            made[field.name] = {"type": "string"}
            if field.metadata.get("required"):
                made[field.name]["minLength"] = 1
        elif group[0] not in made:
            made[group[0]] = {"anyOf": [{"type": "null"}, GROUP_SCHEMAS[group[0]]]}
    return made


# The JSON Schema of person.json (draft 2020-12); docs/guide/people.md describes it in words.
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "A person's data held by facerec",
    **_object(
        {
            "format": {"const": FORMAT},
            "exported_at": _TIME,
            "person": _object(
                {
                    "id": {"type": "integer"},
                    **_person_properties(),
                    "created_at": _TIME,
                    "updated_at": _TIME,
                }
            ),
            "samples": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "source": {"type": "string"},
                        "created_at": _TIME,
                        "file": _FILE,
                    }
                ),
            },
            "sightings": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "camera": {"type": "string"},
                        "name": {"type": ["string", "null"]},
                        "started_at": _TIME,
                        "ended_at": _TIME_OR_NULL,
                        "frames": {"type": "integer", "minimum": 0},
                        "distance": {"type": ["number", "null"]},
                        "labelled_by_hand": {"type": "boolean"},
                        "crop": _FILE_OR_NULL,
                    }
                ),
            },
            "corrections": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "kind": {"const": "not this person"},
                        "sighting_id": {"type": ["integer", "null"]},
                        "created_at": _TIME,
                        "file": _FILE_OR_NULL,
                    }
                ),
            },
            "audit": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "time": _TIME,
                        "actor": {"type": "string"},
                        "address": {"type": ["string", "null"]},
                        "action": {"type": "string"},
                        "object_type": {"type": ["string", "null"]},
                        "object_id": {"type": ["integer", "null"]},
                        "object_name": {"type": ["string", "null"]},
                        "details": {"type": "object"},
                    }
                ),
            },
        }
    ),
}


def file_name(user: User) -> str:
    """The ZIP's name: the person's id (a name may hold any character)."""
    return f"facerec-person-{user.id}.zip"


def audit_about(user: User, sample_ids, negative_ids) -> list[AuditEntry]:
    """The audit entries about the person, their samples and their corrections."""
    about = [(AuditEntry.object_type == "person") & (AuditEntry.object_id == user.id)]
    if sample_ids:
        about.append((AuditEntry.object_type == "sample") & AuditEntry.object_id.in_(sample_ids))
    if negative_ids:
        about.append(
            (AuditEntry.object_type == "negative") & AuditEntry.object_id.in_(negative_ids)
        )
    return list(db.session.scalars(select(AuditEntry).where(or_(*about)).order_by(AuditEntry.id)))


def build(user: User) -> tuple[bytes, dict]:
    """The ZIP of everything held on ``user``, and its person.json as a dict."""
    sightings = list(
        db.session.scalars(
            select(Sighting).where(Sighting.user_id == user.id).order_by(Sighting.id)
        )
    )
    negatives = list(
        db.session.scalars(
            select(NegativeSample)
            .where(NegativeSample.user_id == user.id)
            .order_by(NegativeSample.id)
        )
    )
    entries = audit_about(user, [s.id for s in user.samples], [n.id for n in negatives])
    files: dict[str, bytes] = {}
    samples = []
    for sample in user.samples:
        files[f"samples/{sample.id}.jpg"] = sample.thumbnail
        samples.append(
            {
                "id": sample.id,
                "source": sample.source,
                "created_at": iso(sample.created_at),
                "file": f"samples/{sample.id}.jpg",
            }
        )
    seen = []
    for row in sightings:
        shape = shapes.sighting(row)
        crop = f"sightings/{row.id}.jpg" if row.crop else None
        if crop:
            files[crop] = row.crop
        seen.append({key: shape[key] for key in SIGHTING_COLUMNS if key != "crop"} | {"crop": crop})
    corrections = []
    for negative in negatives:
        face = f"negatives/{negative.id}.jpg" if negative.thumbnail else None
        if face:
            files[face] = negative.thumbnail
        corrections.append(
            {
                "id": negative.id,
                "kind": "not this person",
                "sighting_id": negative.sighting_id,
                "created_at": iso(negative.created_at),
                "file": face,
            }
        )
    audit_rows = [audit.as_dict(entry) for entry in entries]
    document = {
        "format": FORMAT,
        "exported_at": iso(utcnow()),
        "person": PERSON.dump(user),
        "samples": samples,
        "sightings": seen,
        "corrections": corrections,
        "audit": audit_rows,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("person.json", json.dumps(document, ensure_ascii=False, indent=2))
        archive.writestr("person.schema.json", json.dumps(SCHEMA, indent=2))
        archive.writestr("sightings.csv", csvfiles.table(SIGHTING_COLUMNS, seen))
        archive.writestr("audit.csv", csvfiles.table(shapes.AUDIT_COLUMNS, audit_rows))
        for name, data in files.items():
            # JPEGs are compressed already: stored as they are.
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue(), document


def export(user: User) -> bytes:
    """``build`` and the audit entry saying who exported whom (the caller commits)."""
    data, document = build(user)
    audit.record(
        "person.exported",
        user,
        details={
            "samples": len(document["samples"]),
            "sightings": len(document["sightings"]),
            "corrections": len(document["corrections"]),
        },
    )
    return data
