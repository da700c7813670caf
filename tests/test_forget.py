"""Forget everywhere (issue 25): deleting a person removes every copy of their face, and each
store is searched afterwards the way a user would (a search by their photo, the tables, the
in-memory index, the confirmation page, the audit)."""

from __future__ import annotations

import html
import json

import pytest

from facerec.extensions import db
from facerec.models import AuditEntry, FaceSample, NegativeSample, Sighting, UnknownGroup, User

from .conftest import DATA, enroll
from .test_api import API, post_form, upload
from .test_unknowns import KIT, add_sighting, face_crop

SEARCH = f"{API}/sightings/search"
OBAMA = DATA / "known" / "obama.jpg"
OBAMA_AGAIN = [DATA / "unknown" / "obama2.jpg", DATA / "unknown" / "obama3.jpg"]


def found_by_photo(client, photo) -> list[int]:
    response = post_form(client, SEARCH, {"image": upload(photo)})
    assert response.status_code == 200, response.get_json()
    return [m["sighting"]["id"] for m in response.get_json()["matches"]]


def negative(app, user_id: int, photo) -> int:
    encoding, crop = face_crop(photo)
    with app.app_context():
        row = NegativeSample(user_id=user_id, thumbnail=crop)
        row.vector = encoding
        db.session.add(row)
        db.session.commit()
        return row.id


def everywhere(app) -> dict:
    """Obama seen as a stranger before he was enrolled (two sightings, one in a visitors' group
    of its own), enrolled from a group, seen since, with a "not Obama" sample; Biden with a
    "not Biden" sample made from Obama's face and one from Kit's; Kit, a stranger, seen twice."""
    before = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(OBAMA_AGAIN)]
    strangers = [add_sighting(app, photo, minutes=10 + i) for i, photo in enumerate(KIT[:2])]
    obama = enroll(app, "Obama", OBAMA)
    biden = enroll(app, "Biden", DATA / "known" / "biden.jpg")
    theirs = [add_sighting(app, OBAMA_AGAIN[0], minutes=30 + i, user_id=obama) for i in range(2)]
    with app.app_context():
        alone = UnknownGroup()  # the visitors' group of one early sighting: left empty
        enrolled_from = UnknownGroup(user_id=obama)  # the group he was enrolled from
        kits = UnknownGroup()
        db.session.add_all([alone, enrolled_from, kits])
        db.session.flush()
        db.session.get(Sighting, before[1]).group_id = alone.id
        db.session.get(Sighting, theirs[0]).group_id = enrolled_from.id
        for sighting_id in strangers:
            db.session.get(Sighting, sighting_id).group_id = kits.id
        groups = {"alone": alone.id, "enrolled_from": enrolled_from.id, "kits": kits.id}
        db.session.commit()
    return {
        "obama": obama,
        "biden": biden,
        "before": before,
        "theirs": theirs,
        "strangers": strangers,
        "groups": groups,
        "not_obama": negative(app, obama, KIT[2]),
        "not_biden_from_obama": negative(app, biden, OBAMA_AGAIN[1]),
        "not_biden_from_kit": negative(app, biden, KIT[0]),
    }


def ids(app, model) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(db.select(model.id)))


def test_does_deleting_a_person_remove_every_copy_of_their_face(app, client):
    held = everywhere(app)
    # Before: a search by a new photo of him finds his sightings and the earlier strangers'.
    assert set(found_by_photo(client, OBAMA)) == {*held["before"], *held["theirs"]}
    index = app.extensions["sighting_index"]
    assert set(held["before"]) <= set(index.ids.tolist())
    # The confirmation page lists what will go, before anything goes.
    page = html.unescape(client.get(f"/admin/users/{held['obama']}/delete").get_data(as_text=True))
    for line in (
        "1 face sample",
        "2 sightings of them, with the crops",
        "2 unknown visitors' sightings whose face matches theirs",
        "1 “not this person” sample of theirs",
        "1 “not this person” sample of other people made from their face",
        "2 unknown visitors' groups",
    ):
        assert line in page, line

    assert client.delete(f"{API}/users/{held['obama']}").status_code == 204

    # Every store, queried directly: nothing of him, everything of the others.
    assert ids(app, User) == {held["biden"]}
    with app.app_context():
        assert db.session.scalars(db.select(FaceSample.user_id)).all() == [held["biden"]]
    assert ids(app, Sighting) == set(held["strangers"])
    assert ids(app, NegativeSample) == {held["not_biden_from_kit"]}
    assert ids(app, UnknownGroup) == {held["groups"]["kits"]}
    # The search index dropped them at once, and a search by his photo finds nothing.
    assert set(index.ids.tolist()) == set(held["strangers"])
    assert found_by_photo(client, OBAMA) == []
    assert found_by_photo(client, OBAMA_AGAIN[1]) == []
    assert set(found_by_photo(client, KIT[0])) == set(held["strangers"])
    # One audit entry says who deleted whom and what went with him.
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).filter_by(action="person.deleted"))
        who = (entry.object_id, entry.object_name, entry.actor)
        assert who == (held["obama"], "Obama", "tester")
        assert json.loads(entry.details) == {
            "samples": 1,
            "sightings": 2,
            "unknown_sightings": 2,
            "negatives": 1,
            "others_negatives": 1,
            "unknown_groups": 2,
        }
        removed = db.session.scalars(
            db.select(AuditEntry.object_id).filter_by(action="negative.removed")
        ).all()
    assert held["not_biden_from_obama"] in removed


@pytest.mark.sqlite_only
def test_do_the_page_and_the_cli_forget_everywhere_too(app, client, runner):
    held = everywhere(app)
    done = client.post(f"/admin/users/{held['obama']}/delete", follow_redirects=True)
    assert "Deleted Obama and every copy of their face" in done.get_data(as_text=True)
    assert ids(app, Sighting) == set(held["strangers"])
    assert found_by_photo(client, OBAMA) == []

    # The CLI: Biden, with his negative made from Kit's face (not his: it stays with him
    # until he goes) and Kit's sightings (not his face: they stay).
    asked = runner.invoke(args=["users", "delete", "biden"], input="n\n")
    assert "Delete Biden and every copy of their face (1 face sample, 1 “not this person” " in (
        asked.output
    )
    deleted = runner.invoke(args=["users", "delete", "biden", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert ids(app, User) == set() and ids(app, NegativeSample) == set()
    assert ids(app, Sighting) == set(held["strangers"])
