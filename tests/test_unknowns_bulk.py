"""Several unknown visitors at once: assign, enrol, dismiss, merge, split; on the page and the
API, each on the audit trail."""

from __future__ import annotations

import re

import numpy as np

from facerec import faces
from facerec.extensions import db
from facerec.models import AuditEntry, FaceSample, Sighting, UnknownGroup, User

from .conftest import DATA, enroll
from .test_api import API, post_form, upload
from .test_unknowns import KIT, ROSE, add_sighting, groups_json, sighting

KIT_WITH_ROSE = DATA / "people-test" / "kit_with_rose.jpg"


def group_of_sightings(app, ids: list[int]) -> int:
    """A group holding exactly these sightings (as grouping, or an operator, made it)."""
    with app.app_context():
        group = UnknownGroup()
        db.session.add(group)
        db.session.flush()
        for sighting_id in ids:
            db.session.get(Sighting, sighting_id).group_id = group.id
        db.session.commit()
        return group.id


def names_in(client, photo) -> list[str | None]:
    found = post_form(client, f"{API}/recognize", {"image": upload(photo)}).get_json()["faces"]
    return [face["name"] for face in found]


def audited(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return rows


def samples_of(app, user_id: int) -> list[FaceSample]:
    with app.app_context():
        rows = db.session.scalars(db.select(FaceSample).where(FaceSample.user_id == user_id)).all()
        db.session.expunge_all()
        return rows


def test_does_assigning_three_groups_add_each_passing_crop_once_and_name_the_person(app, client):
    first = add_sighting(app, KIT[0], minutes=0)
    twice = add_sighting(app, KIT[0], minutes=60)  # the same crop seen again
    second = add_sighting(app, KIT[1], minutes=120)
    third = add_sighting(app, KIT[2], minutes=180)
    blank = add_sighting(app, KIT[2], minutes=240)  # a crop with no face in it
    with app.app_context():
        db.session.get(Sighting, blank).crop = faces.to_jpeg(np.full((60, 60, 3), 90, np.uint8))
        db.session.commit()
    groups = [
        group_of_sightings(app, [first]),
        group_of_sightings(app, [twice, second]),
        group_of_sightings(app, [third, blank]),
    ]
    kit = client.post(f"{API}/users", json={"name": "Kit Harington"}).get_json()["id"]
    assert "Kit Harington" not in names_in(client, KIT_WITH_ROSE)

    response = client.post(f"{API}/unknowns/assign", json={"group_ids": groups, "user_id": kit})

    assert response.status_code == 200
    # Three different faces; the same crop is added once, the crop without a face not at all.
    assert len(response.get_json()["samples"]) == 3
    assert len({s.content_hash for s in samples_of(app, kit)}) == 3
    for sighting_id in (first, twice, second, third, blank):
        assert sighting(app, sighting_id).user_id == kit
    assert groups_json(client) == []
    assert "Kit Harington" in names_in(client, KIT_WITH_ROSE)
    assert sorted(e.object_id for e in audited(app, "unknown.assigned")) == sorted(groups)
    # Sent again: nothing is added twice.
    again = client.post(f"{API}/unknowns/assign", json={"group_ids": groups, "user_id": kit})
    assert again.status_code == 200 and len(samples_of(app, kit)) == 3


def test_does_splitting_kit_from_rose_make_two_people_each_named_afterwards(app, client):
    kit = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(KIT)]
    rose = [add_sighting(app, photo, minutes=10 + i) for i, photo in enumerate(ROSE)]
    mixed = group_of_sightings(app, kit + rose)

    split = client.post(f"{API}/unknowns/{mixed}/split", json={"sighting_ids": rose})

    assert split.status_code == 201
    new = split.get_json()
    assert new["sightings"] == 2 and new["id"] != mixed
    assert {sighting(app, i).group_id for i in rose} == {new["id"]}
    assert {sighting(app, i).group_id for i in kit} == {mixed}
    (entry,) = audited(app, "unknown.split")
    assert entry.object_id == mixed and str(new["id"]) in entry.details
    for group_id, name in ((mixed, "Kit Harington"), (new["id"], "Rose Leslie")):
        enrolled = client.post(f"{API}/unknowns/{group_id}/enroll", json={"name": name})
        assert enrolled.status_code == 201, enrolled.get_json()
    assert sorted(names_in(client, KIT_WITH_ROSE)) == ["Kit Harington", "Rose Leslie"]


def test_is_a_split_group_never_merged_back_by_grouping(app, client):
    kit = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(KIT)]
    group = group_of_sightings(app, kit)
    new = client.post(f"{API}/unknowns/{group}/split", json={"sighting_ids": kit[:1]}).get_json()
    # Kit seen again: he joins one of the two groups, which stay two.
    again = add_sighting(app, KIT[1], minutes=30)

    groups = groups_json(client)

    assert sorted(g["id"] for g in groups) == sorted([group, new["id"]])
    assert sighting(app, again).group_id in (group, new["id"])


def test_does_merging_two_groups_keep_every_sighting_in_the_oldest(app, client):
    a = group_of_sightings(app, [add_sighting(app, KIT[0])])
    b = group_of_sightings(app, [add_sighting(app, KIT[1], minutes=5)])

    merged = client.post(f"{API}/unknowns/merge", json={"group_ids": [b, a]})

    assert merged.status_code == 200
    assert (merged.get_json()["id"], merged.get_json()["sightings"]) == (a, 2)
    with app.app_context():
        assert db.session.get(UnknownGroup, b) is None
        assert db.session.get(UnknownGroup, a).kept_apart
    (entry,) = audited(app, "unknown.merged")
    assert entry.object_id == a and str(b) in entry.details


def test_does_enrolling_several_groups_and_a_single_face_make_one_person(app, client):
    a = group_of_sightings(app, [add_sighting(app, KIT[0])])
    b = group_of_sightings(app, [add_sighting(app, KIT[1], minutes=5)])
    # One face of Kit that grouping put with Rose.
    stray = add_sighting(app, KIT[2], minutes=10)
    rose = [add_sighting(app, photo, minutes=20 + i) for i, photo in enumerate(ROSE)]
    mixed = group_of_sightings(app, [stray, *rose])

    response = client.post(
        f"{API}/unknowns/enroll",
        json={"group_ids": [a, b], "sighting_ids": [stray], "name": "Kit"},
    )

    assert response.status_code == 201
    person = response.get_json()
    assert len(person["samples"]) == 3
    assert sighting(app, stray).user_id == person["id"]
    assert [g["id"] for g in groups_json(client)] == [mixed]
    assert sorted(e.object_id for e in audited(app, "unknown.enrolled")) == sorted([a, b])


def test_does_dismissing_groups_and_a_single_face_hide_them_all(app, client):
    a = group_of_sightings(app, [add_sighting(app, KIT[0])])
    rose = [add_sighting(app, photo, minutes=5 + i) for i, photo in enumerate(ROSE)]
    b = group_of_sightings(app, rose)

    response = client.post(
        f"{API}/unknowns/dismiss", json={"group_ids": [a], "sighting_ids": rose[:1]}
    )

    assert response.status_code == 204
    (left,) = groups_json(client)
    assert (left["id"], left["sightings"]) == (b, 1)
    with app.app_context():
        assert db.session.query(Sighting).count() == 3  # all still in the history
    assert len(audited(app, "unknown.dismissed")) == 2


def test_are_bad_selections_refused_with_a_reason(app, client):
    only = add_sighting(app, KIT[0])
    a = group_of_sightings(app, [only])
    k = client.post(f"{API}/users", json={"name": "K"}).get_json()["id"]
    named = add_sighting(app, KIT[1], user_id=k)
    cases = [
        ("assign", {"group_ids": [], "user_id": 1}, 409, "at least one"),
        ("assign", {"group_ids": [999], "user_id": 1}, 404, "No unknown visitor 999"),
        ("assign", {"sighting_ids": [999], "user_id": 1}, 404, "No sighting 999"),
        ("assign", {"sighting_ids": [named], "user_id": 1}, 409, "named K already"),
        ("dismiss", {"group_ids": ["1"]}, 422, "group_ids"),
        ("merge", {"group_ids": [a]}, 422, "from 2"),
        ("merge", {"group_ids": [a, a]}, 422, "twice"),
        (f"{a}/split", {"sighting_ids": [named]}, 409, "not an unknown face of visitor"),
        (f"{a}/split", {"sighting_ids": []}, 422, "sighting_ids"),
    ]
    for path, body, status, words in cases:
        response = client.post(f"{API}/unknowns/{path}", json=body)
        assert response.status_code == status, (path, body, response.get_json())
        assert words in response.get_json()["error"], (path, body, response.get_json())
    whole = client.post(f"{API}/unknowns/{a}/split", json={"sighting_ids": [only]})
    assert whole.status_code == 409 and "leave at least one" in whole.get_json()["error"]


def test_does_the_page_act_on_the_visitors_ticked(app, client):
    kit = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(KIT)]
    rose = [add_sighting(app, photo, minutes=10 + i) for i, photo in enumerate(ROSE)]
    mixed = group_of_sightings(app, kit + rose)
    page = client.get("/unknowns").get_data(as_text=True)
    assert 'id="bulk-form"' in page and f'name="sighting_id" value="{kit[0]}"' in page

    split = client.post(
        "/unknowns/selected",
        data={"action": "split", "sighting_id": rose},
        follow_redirects=True,
    )
    assert "Moved 2 sightings of visitor" in split.get_data(as_text=True)
    rose_group = sighting(app, rose[0]).group_id
    enrolled = client.post(
        "/unknowns/selected",
        data={"action": "enroll", "group_id": [mixed], "name": "Kit"},
        follow_redirects=True,
    )
    assert "Enrolled Kit with 3 samples." in enrolled.get_data(as_text=True)
    nobody = client.post("/unknowns/selected", data={"action": "merge"}, follow_redirects=True)
    assert "Choose at least one visitor or sighting." in nobody.get_data(as_text=True)
    dismissed = client.post(
        "/unknowns/selected",
        data={"action": "dismiss", "group_id": [rose_group]},
        follow_redirects=True,
    )
    assert "No unknown visitors." in dismissed.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).one().name == "Kit"


def test_does_a_look_alike_among_the_ticked_say_its_distance_in_the_one_wording(app, client):
    ticked = group_of_sightings(app, [add_sighting(app, KIT[0])])
    enroll(app, "Jon Snow", KIT[2])
    words = r"distance 0\.\d\d \(match below 0\.60\)\."

    page = client.post(
        "/unknowns/selected", data={"action": "enroll", "group_id": [ticked], "name": "Kit"}
    )
    api = client.post(f"{API}/unknowns/enroll", json={"group_ids": [ticked], "name": "Kit"})

    assert page.status_code == 409 and api.status_code == 409
    text = " ".join(page.get_data(as_text=True).split())
    assert re.search(r"Kit looks like Jon Snow: " + words, text)
    assert re.search(r"already enrolled: " + words, api.get_json()["error"])
