"""A person's export (subject access): the ZIP from the person's page, the API and the CLI holds
what the docs say, every picture decodes, person.json validates against its schema, and the
export is on the audit trail."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import cv2
import jsonschema
import numpy as np
import pytest

from facerec import export
from facerec.extensions import db
from facerec.models import AuditEntry, NegativeSample

from .conftest import DATA, create_account, enroll, login_client
from .test_api import API
from .test_unknowns import KIT, add_sighting, face_crop

OBAMA = DATA / "known" / "obama.jpg"


def person_with_everything(app, client) -> dict:
    """Obama with two samples, a consent record, three sightings (one without a crop), a
    "not this person" correction, and the sighting of someone else (not in the export)."""
    person = enroll(app, "Obama", OBAMA, DATA / "unknown" / "obama2.jpg")
    changed = client.patch(
        f"{API}/users/{person}",
        json={"details": "=HYPERLINK(1)", "consent": {"basis": "employment", "note": "HR file"}},
    )
    assert changed.status_code == 200, changed.get_json()
    seen = [
        add_sighting(app, DATA / "unknown" / "obama3.jpg", minutes=i, user_id=person)
        for i in range(3)
    ]
    add_sighting(app, KIT[0], minutes=5)  # a stranger: not theirs
    encoding, crop = face_crop(KIT[1])
    with app.app_context():
        row = db.session.get(export.Sighting, seen[2])
        row.crop = None
        negative = NegativeSample(user_id=person, thumbnail=crop, sighting_id=seen[0])
        negative.vector = encoding
        db.session.add(negative)
        db.session.commit()
        negative_id = negative.id
    return {"id": person, "sightings": seen, "negative": negative_id}


def opened(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive


def decodes(jpeg: bytes) -> bool:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return image is not None and image.shape[0] > 0 and image.shape[1] > 0


def test_does_the_api_export_hold_everything_on_the_person_and_validate(app, client):
    held = person_with_everything(app, client)

    response = client.get(f"{API}/users/{held['id']}/export.zip")

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f'filename="facerec-person-{held["id"]}.zip"' in response.headers["Content-Disposition"]
    archive = opened(response.data)
    names = set(archive.namelist())
    document = json.loads(archive.read("person.json"))
    # Valid against the schema shipped beside it (and the module's, the same one).
    schema = json.loads(archive.read("person.schema.json"))
    assert schema == json.loads(json.dumps(export.SCHEMA))
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    person = document["person"]
    assert (person["id"], person["name"], person["details"]) == (
        held["id"],
        "Obama",
        "=HYPERLINK(1)",
    )
    assert (person["consent"]["basis"], person["consent"]["note"]) == ("employment", "HR file")
    assert person["consent"]["recorded_by"] == "tester"
    # Every sample, sighting (the stranger's left out) and correction, each with its picture.
    assert len(document["samples"]) == 2
    assert [s["id"] for s in document["sightings"]] == held["sightings"]
    assert [s["crop"] for s in document["sightings"]] == [
        f"sightings/{held['sightings'][0]}.jpg",
        f"sightings/{held['sightings'][1]}.jpg",
        None,
    ]
    assert [c["id"] for c in document["corrections"]] == [held["negative"]]
    pictures = (
        [s["file"] for s in document["samples"]]
        + [s["crop"] for s in document["sightings"] if s["crop"]]
        + [document["corrections"][0]["file"]]
    )
    assert names == {"person.json", "person.schema.json", "sightings.csv", "audit.csv", *pictures}
    assert all(decodes(archive.read(name)) for name in pictures)
    # The CSV: one row per sighting; a cell a spreadsheet would run is made plain text.
    rows = list(csv.DictReader(io.StringIO(archive.read("sightings.csv").decode())))
    assert [int(r["id"]) for r in rows] == held["sightings"]
    assert rows[0]["name"] == "Obama" and rows[2]["crop"] == ""
    # The audit entries about them: the consent recorded, the correction... and in the CSV too.
    actions = [entry["action"] for entry in document["audit"]]
    assert "person.changed" in actions
    audit_rows = list(csv.DictReader(io.StringIO(archive.read("audit.csv").decode())))
    assert [r["action"] for r in audit_rows] == actions
    # The export is on the audit trail itself (and is in the next export).
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).filter_by(action="person.exported"))
        assert (entry.object_id, entry.actor) == (held["id"], "tester")
        assert json.loads(entry.details) == {"samples": 2, "sightings": 3, "corrections": 1}
    again = json.loads(
        opened(client.get(f"{API}/users/{held['id']}/export.zip").data).read("person.json")
    )
    assert "person.exported" in [entry["action"] for entry in again["audit"]]


def test_does_the_person_page_offer_the_export_to_admins_only(app, client):
    held = person_with_everything(app, client)
    page = client.get(f"/admin/users/{held['id']}").get_data(as_text=True)
    assert "Export their data (ZIP)" in page

    response = client.post(f"/admin/users/{held['id']}/export")

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert json.loads(opened(response.data).read("person.json"))["person"]["name"] == "Obama"
    # An operator sees the person but neither the button nor the ZIP.
    create_account(app, "olga", role="operator")
    operator = app.test_client()
    login_client(app, operator, "olga")
    assert "Export their data" not in operator.get(f"/admin/users/{held['id']}").get_data(
        as_text=True
    )
    assert operator.post(f"/admin/users/{held['id']}/export").status_code == 403
    assert operator.get(f"{API}/users/{held['id']}/export.zip").status_code == 403


@pytest.mark.sqlite_only
def test_does_the_page_export_need_the_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    person = enroll(app, "Ada", OBAMA)
    client = login_client(app, app.test_client())

    refused = client.post(f"/admin/users/{person}/export")

    assert refused.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(AuditEntry).filter_by(action="person.exported")) is None


def test_does_the_cli_write_the_export_and_never_overwrite(app, client, runner, tmp_path):
    held = person_with_everything(app, client)
    target = tmp_path / "obama.zip"

    done = runner.invoke(args=["users", "export", "obama", "--output", str(target)])

    assert done.exit_code == 0, done.output
    assert f"Wrote everything held on Obama to {target}" in done.output
    document = json.loads(opened(target.read_bytes()).read("person.json"))
    assert [s["id"] for s in document["sightings"]] == held["sightings"]
    again = runner.invoke(args=["users", "export", "Obama", "--output", str(target)])
    assert again.exit_code == 1 and "exists already" in again.output
    missing = runner.invoke(args=["users", "export", "Nobody"])
    assert missing.exit_code == 1 and "No person named “Nobody”." in missing.output
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEntry.actor).filter_by(action="person.exported")
        ).all()
    assert len(entries) == 1 and entries[0].startswith("command line")
