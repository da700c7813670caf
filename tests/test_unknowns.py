"""Unknown visitors: grouping unknown sightings, the /unknowns page and API, corrections."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from facerec import faces, unknowns
from facerec.extensions import db
from facerec.grouping import Groups, group, pairwise_scores
from facerec.models import (
    FaceSample,
    NegativeSample,
    Sighting,
    UnknownGroup,
    User,
    iso,
    utcnow,
)

from .conftest import DATA, enroll, photo_samples
from .test_api import API, post_form, upload

KIT = [
    DATA / "people" / "kit_harington" / "john1.jpeg",
    DATA / "people" / "kit_harington" / "john2.jpeg",
    DATA / "people-test" / "johnsnow_test1.jpg",
]
ROSE = [DATA / "people" / "rose_leslie" / "img1.jpg", DATA / "people" / "rose_leslie" / "img2.jpg"]
# Four days ago at 09:00 UTC: strangers' sightings are kept 7 days (FACEREC_RETENTION_UNKNOWN_DAYS),
# so the visitors of these tests must have come within the last week.
T0 = (utcnow() - timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)


def face_crop(photo, index=0) -> tuple[np.ndarray, bytes]:
    """The encoding of a photo's face and a JPEG crop of it with a margin, as tracks keep."""
    face = photo_samples(photo)[index]
    rgb = faces.load_image(photo)
    top, right, bottom, left = face.box
    margin = (bottom - top) // 3
    crop = rgb[max(0, top - margin) : bottom + margin, max(0, left - margin) : right + margin]
    return face.encoding, faces.to_jpeg(np.ascontiguousarray(crop))


def add_sighting(
    app, photo, minutes=0, user_id=None, ended=True, frames=10, index=0, camera="main"
) -> int:
    encoding, crop = face_crop(photo, index)
    with app.app_context():
        user = db.session.get(User, user_id) if user_id else None
        row = Sighting(
            camera=camera,
            user_id=user_id,
            name=user.name if user else None,
            started_at=T0 + timedelta(minutes=minutes),
            ended_at=T0 + timedelta(minutes=minutes, seconds=20) if ended else None,
            frames=frames,
            distance=None,
            crop=crop,
        )
        row.vector = encoding
        db.session.add(row)
        db.session.commit()
        return row.id


def visitors(app, kit_days=(0, 1, 3), rose_days=(0, 2)) -> dict[str, list[int]]:
    """Kit seen on three days, Rose on two, nobody enrolled: sighting ids by person."""
    ids = {"kit": [], "rose": []}
    for photo, day in zip(KIT, kit_days, strict=True):
        ids["kit"].append(add_sighting(app, photo, minutes=day * 24 * 60))
    for photo, day in zip(ROSE, rose_days, strict=True):
        ids["rose"].append(add_sighting(app, photo, minutes=day * 24 * 60 + 5))
    return ids


def place(app) -> int:
    """Group what ended, as the placer's thread does after each unknown sighting."""
    with app.app_context():
        return unknowns.placer(app).sweep()


def groups_json(client) -> list[dict]:
    place(client.application)
    response = client.get(f"{API}/unknowns")
    assert response.status_code == 200
    return response.get_json()["groups"]


def sighting(app, sighting_id) -> Sighting:
    with app.app_context():
        row = db.session.get(Sighting, sighting_id)
        db.session.expunge(row)
        return row


def samples_of(app, user_id) -> int:
    with app.app_context():
        return db.session.query(FaceSample).filter_by(user_id=user_id).count()


# ---- the grouping rule ------------------------------------------------------------------------


def test_do_kit_and_rose_end_up_in_two_groups_not_one():
    encodings = [photo_samples(p)[0].encoding for p in KIT + ROSE]
    encodings.append(photo_samples(DATA / "people-test" / "kit_with_rose.jpg")[0].encoding)
    labels = group(encodings, join=0.45)
    kit, rose = set(labels[[0, 1, 2, 5]]), set(labels[[3, 4]])
    assert len(kit) == 1 and len(rose) == 1 and kit != rose


def test_do_two_groups_merge_when_a_face_shows_they_are_one_person():
    groups = Groups(join=0.5)
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 0.8  # two groups 0.8 apart
    first, _ = groups.add(a)
    second, _ = groups.add(b)
    assert first != second
    # Faces between them pull the centroids together until they are one visitor.
    merged = []
    for x in (0.3, 0.5, 0.4, 0.45):
        c = np.zeros(128)
        c[0] = x
        merged += groups.add(c)[1]
    assert len(groups) == 1 and merged


def test_is_a_face_far_from_every_group_a_group_of_its_own():
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 0.056, size=(20, 128))
    truth = rng.integers(0, 20, size=400)
    encodings = centres[truth] + rng.normal(0, 0.025, size=(400, 128))
    precision, recall = pairwise_scores(truth, group(encodings, join=0.45))
    assert precision == 1.0 and recall > 0.95


# ---- grouping sightings -----------------------------------------------------------------------


def test_are_unknown_sightings_listed_as_one_group_per_visitor(app, client):
    ids = visitors(app)

    groups = groups_json(client)

    assert sorted(g["sightings"] for g in groups) == [2, 3]
    kit = next(g for g in groups if g["sightings"] == 3)
    assert kit["first_seen"] == iso(T0)
    assert kit["last_seen"] == iso(T0 + timedelta(days=3))
    assert sorted(kit["crop_urls"]) == sorted(f"/api/v1/sightings/{i}/crop.jpg" for i in ids["kit"])
    assert {sighting(app, i).group_id for i in ids["kit"]} == {kit["id"]}
    # Last seen first.
    assert [g["sightings"] for g in groups] == [3, 2]


def test_are_known_open_and_recognisable_sightings_never_put_in_a_group(app, client):
    obama = enroll(app, "obama", DATA / "known" / "obama.jpg")
    known = add_sighting(app, DATA / "unknown" / "obama2.jpg", user_id=obama)
    # Unknown at the time, but the gallery names it now: not an unknown visitor.
    recognisable = add_sighting(app, DATA / "unknown" / "obama3.jpg")
    in_view = add_sighting(app, KIT[0], ended=False)

    assert groups_json(client) == []
    assert all(sighting(app, i).group_id is None for i in (known, recognisable, in_view))


def test_does_a_new_sighting_join_its_visitors_group(app, client):
    first = add_sighting(app, KIT[0])
    (before,) = groups_json(client)
    later = add_sighting(app, KIT[1], minutes=90)

    (after,) = groups_json(client)

    assert after["id"] == before["id"] and after["sightings"] == 2
    assert sighting(app, later).group_id == sighting(app, first).group_id


# ---- enrol, assign, dismiss -------------------------------------------------------------------


def test_does_enrolling_a_group_create_the_person_with_its_crops(app, client):
    ids = visitors(app)
    kit = next(g for g in groups_json(client) if g["sightings"] == 3)

    response = client.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Kit Harington"})

    assert response.status_code == 201
    person = response.get_json()
    assert person["name"] == "Kit Harington" and len(person["samples"]) == 3
    assert all(s["source"] == "sighting" for s in person["samples"])
    assert [g["sightings"] for g in groups_json(client)] == [2]
    for sighting_id in ids["kit"]:
        row = sighting(app, sighting_id)
        assert (row.user_id, row.name, row.group_id) == (person["id"], "Kit Harington", None)
    # The next recognition names him.
    found = post_form(
        client, f"{API}/recognize", {"image": upload(DATA / "people-test" / "kit_with_rose.jpg")}
    )
    assert "Kit Harington" in [f["name"] for f in found.get_json()["faces"]]


def test_does_enrolling_the_same_group_again_add_nothing(app, client):
    visitors(app)
    kit = next(g for g in groups_json(client) if g["sightings"] == 3)
    first = client.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Kit"})
    again = client.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Kit"})
    other = client.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Jon"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert samples_of(app, first.get_json()["id"]) == 3
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_does_assign_add_samples_once_and_a_retry_adds_nothing(app, client):
    kit = enroll(app, "Kit", KIT[2])
    # Sightings of him from before he was enrolled, grouped then.
    with app.app_context():
        db.session.query(FaceSample).delete()
        db.session.commit()
    ids = [add_sighting(app, p, minutes=i) for i, p in enumerate(KIT[:2])]
    (group_,) = groups_json(client)
    enroll_again = enroll(app, "Kit 2", KIT[2])  # someone else holds the gallery sample now
    with app.app_context():
        db.session.delete(db.session.get(User, enroll_again))
        db.session.commit()

    first = client.post(f"{API}/unknowns/{group_['id']}/assign", json={"user_id": kit})
    again = client.post(f"{API}/unknowns/{group_['id']}/assign", json={"user_id": kit})

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json()["id"] == kit and len(first.get_json()["samples"]) == 2
    assert samples_of(app, kit) == 2
    assert all(sighting(app, i).user_id == kit for i in ids)
    assert groups_json(client) == []


def test_is_a_group_assigned_to_someone_else_refused_with_409(app, client):
    add_sighting(app, KIT[0])
    (group_,) = groups_json(client)
    a = enroll(app, "A", DATA / "known" / "obama.jpg")
    b = enroll(app, "B", DATA / "known" / "biden.jpg")
    assert (
        client.post(f"{API}/unknowns/{group_['id']}/assign", json={"user_id": a}).status_code == 200
    )
    refused = client.post(f"{API}/unknowns/{group_['id']}/assign", json={"user_id": b})
    assert refused.status_code == 409 and "already" in refused.get_json()["error"]


def test_does_dismiss_hide_the_group_and_keep_its_sightings(app, client):
    ids = visitors(app)
    kit = next(g for g in groups_json(client) if g["sightings"] == 3)

    response = client.delete(f"{API}/unknowns/{kit['id']}")

    assert response.status_code == 204
    assert [g["sightings"] for g in groups_json(client)] == [2]
    with app.app_context():
        assert db.session.query(Sighting).count() == 5
        assert db.session.get(UnknownGroup, kit["id"]).dismissed_at is not None
    assert all(sighting(app, i).group_id == kit["id"] for i in ids["kit"])
    # A dismissed visitor who comes back stays dismissed.
    add_sighting(app, KIT[0], minutes=60 * 24 * 5)
    assert [g["sightings"] for g in groups_json(client)] == [2]


def test_does_a_look_alike_ask_before_enrolling_like_the_wizard(app, client):
    add_sighting(app, KIT[0])
    (group_,) = groups_json(client)
    enroll(app, "Jon Snow", KIT[2])

    warned = client.post(f"{API}/unknowns/{group_['id']}/enroll", json={"name": "Kit"})
    saved = client.post(
        f"{API}/unknowns/{group_['id']}/enroll", json={"name": "Kit", "save_anyway": True}
    )

    assert warned.status_code == 409
    assert "looks like Jon Snow" in warned.get_json()["error"]
    assert saved.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 422, "“name” is required"),
        ({"name": ""}, 422, "A name is required."),
        ({"name": "x" * 101}, 422, "at most 100 characters"),
        ({"name": 5}, 422, "must be a JSON string"),
        ({"name": "Kit", "colour": "red"}, 422, "is not a field"),
        ({"name": "Kit", "save_anyway": "yes"}, 422, "must be a JSON boolean"),
    ],
)
def test_are_bad_enrolments_refused_and_nothing_created(app, client, body, status, message):
    add_sighting(app, KIT[0])
    (group_,) = groups_json(client)
    response = client.post(f"{API}/unknowns/{group_['id']}/enroll", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_is_a_crop_that_fails_the_sample_checks_not_enrolled(app, client):
    row = add_sighting(app, KIT[0])
    with app.app_context():
        db.session.get(Sighting, row).crop = faces.to_jpeg(np.full((60, 60, 3), 128, np.uint8))
        db.session.commit()
    (group_,) = groups_json(client)
    response = client.post(f"{API}/unknowns/{group_['id']}/enroll", json={"name": "Kit"})
    assert response.status_code == 422
    assert "None of this visitor's faces passed" in response.get_json()["error"]
    assert "No face" in response.get_json()["error"]
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_are_missing_groups_people_and_bad_ids_answered_clearly(app, client):
    add_sighting(app, KIT[0])
    (group_,) = groups_json(client)
    gid = group_["id"]
    assert client.post(f"{API}/unknowns/999/enroll", json={"name": "x"}).status_code == 404
    assert client.delete(f"{API}/unknowns/999").status_code == 404
    assert client.post(f"{API}/unknowns/{gid}/assign", json={"user_id": 999}).status_code == 404
    bad = client.post(f"{API}/unknowns/{gid}/assign", json={"user_id": "1"})
    assert bad.status_code == 422 and "user_id" in bad.get_json()["error"]
    assert client.post(f"{API}/unknowns/{gid}/assign", data="x").status_code == 415


# ---- corrections on a sighting ----------------------------------------------------------------


def test_does_this_is_person_add_the_crop_and_relabel_the_sighting(app, client):
    kit = enroll(app, "Kit", KIT[0])
    row = add_sighting(app, KIT[1])
    groups_json(client)

    response = client.post(f"{API}/sightings/{row}/label", json={"user_id": kit})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["user_id"], body["name"], body["group_id"]) == (row, kit, "Kit", None)
    assert samples_of(app, kit) == 2
    # Sent again: relabelled already, the same crop is not added twice.
    assert client.post(f"{API}/sightings/{row}/label", json={"user_id": kit}).status_code == 200
    assert samples_of(app, kit) == 2


def test_does_this_is_not_person_add_a_negative_and_make_the_sighting_unknown(app, client):
    alex = enroll(app, "Alex", DATA / "known" / "alex-lacamoire.png")
    row = add_sighting(app, KIT[0], user_id=alex)

    response = client.post(f"{API}/sightings/{row}/label", json={"not_user_id": alex})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["user_id"], body["name"]) == (None, None)
    assert body["group_id"] is not None  # now an unknown visitor
    with app.app_context():
        (negative,) = db.session.query(NegativeSample).all()
        assert (negative.user_id, negative.sighting_id) == (alex, row)
    # Another photo of the same stranger is not named Alex, even at a loose tolerance.
    found = post_form(
        client, f"{API}/recognize", {"image": upload(KIT[2]), "tolerance": "0.9"}
    ).get_json()["faces"]
    assert found[0]["name"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 409), ({"user_id": 1, "not_user_id": 1}, 409), ({"user_id": True}, 422),
     ({"user_id": 999}, 404), ({"not_user_id": 999}, 404)],
)  # fmt: skip
def test_are_bad_labels_refused(app, client, body, status):
    enroll(app, "Kit", KIT[0])
    row = add_sighting(app, KIT[1])
    assert client.post(f"{API}/sightings/{row}/label", json=body).status_code == status
    assert client.post(f"{API}/sightings/999/label", json={"user_id": 1}).status_code == 404


def test_is_this_is_not_refused_on_a_sighting_named_someone_else(app, client):
    alex = enroll(app, "Alex", DATA / "known" / "alex-lacamoire.png")
    row = add_sighting(app, KIT[0])
    response = client.post(f"{API}/sightings/{row}/label", json={"not_user_id": alex})
    assert response.status_code == 409
    assert "not named Alex" in response.get_json()["error"]


# ---- access -----------------------------------------------------------------------------------


def test_is_anonymous_access_to_every_new_route_refused(app, anon_client):
    row = add_sighting(app, KIT[0])
    with app.app_context():
        group_ = UnknownGroup()
        db.session.add(group_)
        db.session.commit()
        gid = group_.id
    for method, url in [
        ("get", f"{API}/unknowns"),
        ("post", f"{API}/unknowns/{gid}/enroll"),
        ("post", f"{API}/unknowns/{gid}/assign"),
        ("delete", f"{API}/unknowns/{gid}"),
        ("post", f"{API}/sightings/{row}/label"),
        ("post", f"{API}/users/1/negatives"),
    ]:
        assert getattr(anon_client, method)(url, json={}).status_code == 401, url
    for method, url in [
        ("get", "/unknowns"),
        ("post", f"/unknowns/{gid}/enroll"),
        ("post", f"/unknowns/{gid}/assign"),
        ("post", f"/unknowns/{gid}/dismiss"),
        ("post", "/admin/negatives/1/delete"),
        ("get", "/admin/negatives/1/thumbnail.jpg"),
    ]:
        response = getattr(anon_client, method)(url)
        assert response.status_code in (302, 401), url
        assert "/login" in response.headers.get("Location", "/login"), url


# ---- the page ---------------------------------------------------------------------------------


def test_does_the_page_show_each_visitor_with_crops_days_and_actions(app, client):
    ids = visitors(app)
    place(app)
    page = client.get("/unknowns").get_data(as_text=True)
    assert page.count('class="card unknown-group"') == 2
    assert "Seen 3 times on 3 days" in page
    assert f"/api/v1/sightings/{ids['kit'][0]}/crop.jpg" in page
    assert "Enrol as new person" in page and "Dismiss" in page
    # The navigation counts them.
    assert 'aria-label="2 waiting">2</span>' in page


def test_does_the_empty_page_say_so(client):
    page = client.get("/unknowns").get_data(as_text=True)
    assert "No unknown visitors." in page
    assert "waiting" not in page


def test_does_the_page_enrol_a_visitor_and_lead_to_the_new_person(app, client):
    visitors(app)
    kit = next(g for g in groups_json(client) if g["sightings"] == 3)

    response = client.post(
        f"/unknowns/{kit['id']}/enroll", data={"name": "Kit Harington", "details": "Neighbour"}
    )

    assert response.status_code == 303
    with app.app_context():
        user = db.session.query(User).one()
        assert (user.name, user.details, len(user.samples)) == ("Kit Harington", "Neighbour", 3)
    assert response.headers["Location"].endswith(f"/admin/users/{user.id}")
    person = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enrolled Kit Harington with 3 samples." in person


def test_does_the_page_keep_the_typed_name_when_it_is_taken(app, client):
    enroll(app, "Kit", DATA / "known" / "obama.jpg")
    add_sighting(app, KIT[0])
    (group_,) = groups_json(client)
    response = client.post(f"/unknowns/{group_['id']}/enroll", data={"name": "kit"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "already exists" in page and 'value="kit"' in page


def test_does_the_page_assign_and_dismiss(app, client):
    visitors(app)
    kit, rose = sorted(groups_json(client), key=lambda g: -g["sightings"])
    obama = enroll(app, "Kit", DATA / "known" / "obama.jpg")
    with app.app_context():
        db.session.query(FaceSample).delete()
        db.session.commit()

    assigned = client.post(
        f"/unknowns/{kit['id']}/assign", data={"user_id": obama}, follow_redirects=True
    )
    dismissed = client.post(f"/unknowns/{rose['id']}/dismiss", follow_redirects=True)

    assert "Added 3 samples to Kit." in assigned.get_data(as_text=True)
    assert "sightings stay in the history." in dismissed.get_data(as_text=True)
    assert "No unknown visitors." in dismissed.get_data(as_text=True)


def test_do_two_groups_in_the_database_merge_when_a_sighting_joins_them(app, client):
    def sighting_at(x: float, minutes: int) -> int:
        encoding = np.zeros(128)
        encoding[0] = x
        with app.app_context():
            row = Sighting(
                started_at=T0 + timedelta(minutes=minutes),
                ended_at=T0 + timedelta(minutes=minutes, seconds=5),
            )
            row.vector = encoding
            db.session.add(row)
            db.session.commit()
            return row.id

    first = sighting_at(0.0, 0)
    second = sighting_at(0.8, 1)  # far apart: two visitors
    assert len(groups_json(client)) == 2
    # Faces in between show they were one person all along.
    for minutes, x in enumerate((0.3, 0.5, 0.4, 0.45), start=2):
        sighting_at(x, minutes)

    (merged,) = groups_json(client)

    assert merged["sightings"] == 6
    assert sighting(app, first).group_id == sighting(app, second).group_id == merged["id"]
    with app.app_context():
        assert db.session.query(UnknownGroup).count() == 1
