"""The JSON API under /api/v1: recognition, people, samples, stream control and its errors."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from facerec.extensions import db
from facerec.models import ApiToken, FaceSample, User
from tests.conftest import enroll, photo_samples

API = "/api/v1"


def upload(path_or_bytes, filename=None) -> FileStorage:
    """A file for a multipart field, from a path or bytes."""
    if isinstance(path_or_bytes, bytes):
        return FileStorage(io.BytesIO(path_or_bytes), filename or "upload.bin")
    return FileStorage(io.BytesIO(path_or_bytes.read_bytes()), filename or path_or_bytes.name)


def post_form(client, url, fields, **kwargs):
    """POST multipart/form-data encoded in memory.

    The test client spools bodies over 500 KB to a temporary file that it never closes,
    which pytest (warnings are errors) reports; photos are often that big.
    """
    boundary, body = encode_multipart(fields)
    return client.post(
        url, data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs
    )


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 140, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def iou(a, b) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)

    def area(box):
        return (box[1] - box[3]) * (box[2] - box[0])

    return inter / (area(a) + area(b) - inter)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


# ---- recognition --------------------------------------------------------------------------


def test_are_obama_and_biden_both_found_in_two_people_with_boxes_on_their_faces(
    app, client, data_dir
):
    ids = {
        "obama": enroll(app, "obama", data_dir / "known" / "obama.jpg"),
        "biden": enroll(app, "biden", data_dir / "known" / "biden.jpg"),
    }
    photo = data_dir / "unknown" / "two_people.jpg"
    # Who is where, worked out here from the reference photos' encodings.
    references = {
        name: photo_samples(data_dir / "known" / f"{name}.jpg")[0].encoding for name in ids
    }
    expected = {}
    for face in photo_samples(photo):
        nearest = min(references, key=lambda n: np.linalg.norm(references[n] - face.encoding))
        expected[nearest] = face.box
    assert set(expected) == {"obama", "biden"}

    response = post_form(client, f"{API}/recognize", {"image": upload(photo)})

    assert response.status_code == 200
    found = response.get_json()["faces"]
    assert len(found) == 2
    by_name = {face["name"]: face for face in found}
    assert set(by_name) == {"obama", "biden"}
    for name, face in by_name.items():
        assert face["user_id"] == ids[name]
        assert 0 <= face["distance"] <= 0.6
        assert len(face["box"]) == 4
        assert iou(face["box"], expected[name]) > 0.8
    # The README's ground truth: biden's photo is a much closer match than obama's.
    assert by_name["biden"]["distance"] < 0.2 < by_name["obama"]["distance"]


def test_is_jon_snow_one_unknown_face_against_the_known_people(app, client, data_dir, enroll_known):
    enroll_known(app)
    photo = data_dir / "people-test" / "johnsnow_test1.jpg"

    response = post_form(client, f"{API}/recognize", {"image": upload(photo)})

    assert response.status_code == 200
    (face,) = response.get_json()["faces"]
    assert face["user_id"] is None and face["name"] is None
    assert face["distance"] > 0.6
    assert iou(face["box"], photo_samples(photo)[0].box) > 0.8


def test_does_a_stricter_tolerance_leave_only_the_close_match(app, client, data_dir):
    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    enroll(app, "biden", data_dir / "known" / "biden.jpg")
    photo = data_dir / "unknown" / "two_people.jpg"

    response = post_form(client, f"{API}/recognize", {"image": upload(photo), "tolerance": "0.2"})

    assert response.status_code == 200
    names = sorted(str(face["name"]) for face in response.get_json()["faces"])
    assert names == ["None", "biden"]


@pytest.mark.sqlite_only  # refused before any query
def test_does_a_photo_without_faces_give_an_empty_list(client):
    response = post_form(client, f"{API}/recognize", {"image": upload(blank_png(), "wall.png")})
    assert response.status_code == 200
    assert response.get_json() == {"faces": []}


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_file_that_is_not_an_image_refused_with_400(client):
    response = post_form(client, f"{API}/recognize", {"image": upload(b"hello there", "a.jpg")})
    assert response.status_code == 400
    assert response.get_json() == {"error": "The file is not an image in a format facerec reads."}


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_recognize_request_without_a_photo_refused_with_422_naming_the_field(client):
    response = post_form(client, f"{API}/recognize", {"tolerance": "0.5"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"].startswith("“image” is required")
    assert list(body["fields"]) == ["image"]


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize("tolerance", ["abc", "-0.1", "1.5", "nan", "inf"])
def test_is_a_tolerance_outside_0_to_1_refused_with_422(client, data_dir, tolerance):
    photo = data_dir / "unknown" / "obama_small.jpg"
    response = post_form(
        client, f"{API}/recognize", {"image": upload(photo), "tolerance": tolerance}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"].startswith("“tolerance” must be a")
    assert list(body["fields"]) == ["tolerance"]


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize(
    ("path", "field"),
    [("recognize", "image"), ("users/with-photos", "images"), ("users/{id}/samples", "image")],
)
def test_is_an_upload_over_the_10_mb_limit_refused_with_413_json(app, client, path, field):
    user_id = enroll(app, "Ada")
    big = b"\xff\xd8" + bytes(10 * 1024 * 1024 + 1)
    url = f"{API}/{path.format(id=user_id)}"
    response = post_form(client, url, {"name": "Grace", field: upload(big, "huge.jpg")})
    assert response.status_code == 413
    assert response.get_json() == {"error": "The request is too large: the limit is 10 MB."}
    assert count(app, User) == 1


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_json_body_over_the_10_mb_limit_refused_with_413_json(app, client):
    user_id = enroll(app, "Ada")
    body = '{"details": "' + "x" * (10 * 1024 * 1024) + '"}'
    response = client.patch(f"{API}/users/{user_id}", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "The request is too large: the limit is 10 MB."}


@pytest.mark.sqlite_only  # the face engine, not the database
def test_does_a_face_engine_that_does_not_answer_give_503_json(client, data_dir, monkeypatch):
    from facerec import engine

    def stalled(app, data):
        raise engine.EngineUnavailable("the face engine gave no answer within 120 s")

    monkeypatch.setattr(engine, "faces_in_image", stalled)
    photo = data_dir / "unknown" / "obama_small.jpg"
    response = post_form(client, f"{API}/recognize", {"image": upload(photo)})
    assert response.status_code == 503
    assert response.get_json() == {"error": "The face engine is busy or restarting; try again."}


# ---- listing people -----------------------------------------------------------------------


def test_are_people_listed_in_name_order_a_page_at_a_time(app, client):
    for name in ("Carol", "alice", "Bob"):
        enroll(app, name)

    first = client.get(f"{API}/users?per_page=2").get_json()
    second = client.get(f"{API}/users?per_page=2&page=2").get_json()

    assert [u["name"] for u in first["users"]] == ["alice", "Bob"]
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [u["name"] for u in second["users"]] == ["Carol"]
    assert second["page"] == 2
    assert client.get(f"{API}/users?page=3&per_page=2").get_json()["users"] == []


def test_does_q_filter_people_by_part_of_the_name_in_any_case(app, client):
    for name in ("Ada Lovelace", "Grace Hopper", "Adam 50%"):
        enroll(app, name)

    body = client.get(f"{API}/users?q=ADA").get_json()
    assert sorted(u["name"] for u in body["users"]) == ["Ada Lovelace", "Adam 50%"]
    assert body["total"] == 2
    # LIKE wildcards are plain characters here.
    assert [u["name"] for u in client.get(f"{API}/users?q=%25").get_json()["users"]] == ["Adam 50%"]
    assert client.get(f"{API}/users?q=nobody").get_json()["total"] == 0


def test_does_a_listed_person_carry_their_samples(app, client, data_dir):
    user_id = enroll(app, "obama", data_dir / "known" / "obama.jpg")
    (person,) = client.get(f"{API}/users").get_json()["users"]
    assert person["id"] == user_id
    assert set(person) == {
        "id",
        "name",
        "details",
        "consent",
        "tolerance",
        "headroom",
        "samples",
        "created_at",
        "updated_at",
    }
    (sample,) = person["samples"]
    assert sample["user_id"] == user_id and sample["source"] == "test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sample["created_at"])


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize(
    "query", ["page=0", "page=abc", "per_page=0", "per_page=101", "q=" + "x" * 101]
)
def test_are_paging_values_out_of_range_refused_with_422(client, query):
    response = client.get(f"{API}/users?{query}")
    assert response.status_code == 422
    assert response.get_json()["error"]


# ---- creating people ----------------------------------------------------------------------


def test_can_a_person_be_created_from_json(app, client):
    response = client.post(f"{API}/users", json={"name": "  Ada   Lovelace ", "details": "Visitor"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Ada Lovelace"
    assert body["details"] == "Visitor"
    assert body["samples"] == []
    assert response.headers["Location"].endswith(f"{API}/users/{body['id']}")
    with app.app_context():
        user = db.session.get(User, body["id"])
        assert (user.name, user.details) == ("Ada Lovelace", "Visitor")


def test_is_a_person_created_with_photos_recognised_by_the_next_request(app, client, data_dir):
    response = post_form(
        client,
        f"{API}/users/with-photos",
        {
            "name": "Barack",
            "details": "44th",
            "images": [upload(data_dir / "known" / "obama.jpg")],
        },
    )

    assert response.status_code == 201
    body = response.get_json()
    assert len(body["samples"]) == 1 and body["samples"][0]["source"] == "api"
    with app.app_context():
        (sample,) = db.session.scalars(db.select(FaceSample)).all()
        assert sample.user_id == body["id"] and sample.vector.shape == (128,)

    photo = data_dir / "unknown" / "obama-480p.jpg"
    found = post_form(client, f"{API}/recognize", {"image": upload(photo)}).get_json()["faces"]
    assert [(f["user_id"], f["name"]) for f in found] == [(body["id"], "Barack")]


def test_is_nobody_created_when_one_of_the_photos_has_two_faces(app, client, data_dir):
    response = post_form(
        client,
        f"{API}/users/with-photos",
        {
            "name": "Barack",
            "images": [
                upload(data_dir / "known" / "obama.jpg"),
                upload(data_dir / "unknown" / "two_people.jpg"),
            ],
        },
    )

    assert response.status_code == 400
    assert response.get_json()["error"].startswith("two_people.jpg: 2 faces were found.")
    assert count(app, User) == 0
    assert count(app, FaceSample) == 0


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_person_with_a_photo_that_is_not_an_image_refused_with_400(app, client):
    response = post_form(
        client,
        f"{API}/users/with-photos",
        {"name": "Ada", "images": [upload(b"GIF89a broken", "ada.gif")]},
    )
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("ada.gif: The ")
    assert count(app, User) == 0


def test_is_a_duplicate_name_refused_with_409_whatever_its_case(app, client):
    enroll(app, "Ada Lovelace")
    response = client.post(f"{API}/users", json={"name": "ada  LOVELACE"})
    assert response.status_code == 409
    assert response.get_json() == {"error": "A person named “Ada Lovelace” already exists."}
    assert count(app, User) == 1


def test_is_a_name_in_look_alike_letters_refused_with_409(app, client):
    enroll(app, "Ada Lovelace")
    response = client.post(f"{API}/users", json={"name": "\u0410da Lovelace"})  # Cyrillic A
    assert response.status_code == 409
    assert response.get_json()["error"] == (
        "The name “\u0410da Lovelace” looks the same as “Ada Lovelace”, who is already enrolled "
        "(letters of another script that look alike); type the name in plain letters."
    )
    assert count(app, User) == 1


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({"name": "   "}, "A name is required.", "name"),
        ({}, "“name” is required.", "name"),
        ({"name": "x" * 101}, "“name” must be at most 100 characters.", "name"),
        ({"name": 5}, "“name” must be a JSON string.", "name"),
        ({"name": "Ada", "details": ["a"]}, "“details” must be a JSON string.", "details"),
        ({"name": "Ada", "age": 3}, "“age” is not a field of this request.", "age"),
        (["Ada"], 'The JSON body must be an object, such as {"name": "..."}.', None),
        ({"name": "Ada\x00"}, "The name must not contain control characters.", "name"),
        (
            {"name": "Ada", "details": "a\x07b"},
            "The details must not contain control characters.",
            "details",
        ),
    ],
)
def test_are_invalid_person_fields_refused_with_422(app, client, body, message, field):
    response = client.post(f"{API}/users", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"].startswith(message)
    # The field is named, with the same sentence as the person page and the wizard give.
    assert list(response.get_json().get("fields", {None: 0})) == [field]
    assert count(app, User) == 0


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_multipart_person_without_a_name_or_photos_refused_with_422(client, data_dir):
    photo = upload(data_dir / "known" / "obama.jpg")
    response = post_form(client, f"{API}/users/with-photos", {"details": "x", "images": [photo]})
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "“name” is required.",
        "fields": {"name": ["is required."]},
    }
    no_photo = post_form(client, f"{API}/users/with-photos", {"name": "Ada"})
    assert no_photo.status_code == 422
    assert list(no_photo.get_json()["fields"]) == ["images"]


def test_does_the_person_form_older_clients_send_to_users_still_create_them(app, client, data_dir):
    # The document gives POST /users one media type (JSON: generated clients cannot tell two
    # apart, issue 26); the form it took before photos moved to /users/with-photos is still
    # accepted, with or without photos, so clients written then keep working.
    with_photo = post_form(
        client,
        f"{API}/users",
        {"name": "Barack", "details": "44th", "images": [upload(data_dir / "known" / "obama.jpg")]},
    )
    assert with_photo.status_code == 201, with_photo.get_json()
    body = with_photo.get_json()
    assert (body["name"], body["details"], len(body["samples"])) == ("Barack", "44th", 1)
    assert with_photo.headers["Location"].endswith(f"{API}/users/{body['id']}")
    no_photo = post_form(client, f"{API}/users", {"name": "Ada"})
    assert no_photo.status_code == 201 and no_photo.get_json()["samples"] == []
    url_encoded = client.post(f"{API}/users", data={"name": "Grace", "details": "x"})
    assert url_encoded.status_code == 201 and url_encoded.get_json()["details"] == "x"
    with app.app_context():
        assert sorted(u.name for u in db.session.scalars(db.select(User))) == [
            "Ada",
            "Barack",
            "Grace",
        ]
    photo = data_dir / "unknown" / "obama-480p.jpg"
    found = post_form(client, f"{API}/recognize", {"image": upload(photo)}).get_json()["faces"]
    assert [f["name"] for f in found] == ["Barack"]
    # The form's rules are the photo route's: a refused photo creates nobody.
    refused = post_form(
        client, f"{API}/users", {"name": "Kit", "images": [upload(b"GIF89a broken", "k.gif")]}
    )
    assert refused.status_code == 400 and refused.get_json()["error"].startswith("k.gif: ")
    assert count(app, User) == 3


@pytest.mark.sqlite_only  # refused before any query
def test_does_the_document_give_each_way_to_create_a_person_one_kind_of_body(app, client):
    from facerec.api.openapi import spec

    document = spec(app)
    create = document["paths"]["/api/v1/users"]["post"]
    assert list(create["requestBody"]["content"]) == ["application/json"]
    # The older form is said in words, for people; generators read one media type.
    assert "**Also accepted**" in create["description"]
    assert "`multipart/form-data`" in create["description"]
    photos = document["paths"]["/api/v1/users/with-photos"]["post"]
    assert list(photos["requestBody"]["content"]) == ["multipart/form-data"]
    json_photos = client.post(f"{API}/users/with-photos", json={"name": "Ada"})
    assert json_photos.status_code == 415
    assert json_photos.get_json() == {"error": "Send the body as multipart/form-data."}


@pytest.mark.sqlite_only  # refused before any query
def test_is_malformed_json_refused_with_400(client):
    response = client.post(f"{API}/users", data='{"name": "Ada"', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "The request body is not valid JSON."}


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_lone_surrogate_in_json_refused_with_422(client):
    response = client.post(
        f"{API}/users", data='{"name": "\\ud800"}', content_type="application/json"
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "The name is not valid Unicode text.",
        "fields": {"name": ["The name is not valid Unicode text."]},
    }


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_plain_text_body_refused_with_415(client):
    response = client.post(f"{API}/users", data="Ada", content_type="text/plain")
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]


# ---- one person ---------------------------------------------------------------------------


def test_can_a_person_be_read_by_id(app, client, data_dir):
    user_id = enroll(app, "obama", data_dir / "known" / "obama.jpg")
    response = client.get(f"{API}/users/{user_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["name"], len(body["samples"])) == (user_id, "obama", 1)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_is_an_unknown_id_answered_with_404(client, method):
    response = getattr(client, method)(f"{API}/users/4242", json={"name": "x"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "No person with id 4242."}


def test_is_an_id_beyond_the_database_range_answered_with_404(client):
    response = client.get(f"{API}/users/{2**64}")
    assert response.status_code == 404


def test_does_patch_change_only_the_fields_sent(app, client):
    user_id = enroll(app, "Ada")
    response = client.patch(f"{API}/users/{user_id}", json={"details": "Analyst"})
    assert response.status_code == 200
    assert (response.get_json()["name"], response.get_json()["details"]) == ("Ada", "Analyst")

    response = client.patch(f"{API}/users/{user_id}", json={"name": "Ada Lovelace"})
    assert response.status_code == 200
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.name, user.details) == ("Ada Lovelace", "Analyst")


def test_can_a_person_change_the_case_of_their_own_name(app, client):
    user_id = enroll(app, "ada")
    response = client.patch(f"{API}/users/{user_id}", json={"name": "Ada"})
    assert response.status_code == 200
    assert response.get_json()["name"] == "Ada"


def test_is_renaming_to_a_taken_name_refused_with_409(app, client):
    enroll(app, "Grace")
    user_id = enroll(app, "Ada")
    response = client.patch(f"{API}/users/{user_id}", json={"name": "GRACE"})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(User, user_id).name == "Ada"


@pytest.mark.parametrize(
    ("body", "status"),
    [({"name": ""}, 422), ({"details": 3}, 422), ({"id": 9}, 422), ("not json", 400)],
)
def test_are_bad_updates_refused(app, client, body, status):
    user_id = enroll(app, "Ada")
    if isinstance(body, str):
        response = client.patch(
            f"{API}/users/{user_id}", data=body, content_type="application/json"
        )
    else:
        response = client.patch(f"{API}/users/{user_id}", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.get(User, user_id).name == "Ada"


def test_does_delete_remove_the_person_and_their_samples(app, client, data_dir):
    user_id = enroll(app, "obama", data_dir / "known" / "obama.jpg")
    response = client.delete(f"{API}/users/{user_id}")
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"{API}/users/{user_id}").status_code == 404
    assert count(app, FaceSample) == 0


# ---- samples ------------------------------------------------------------------------------


def test_can_a_sample_be_added_to_a_person_from_a_photo(app, client, data_dir):
    user_id = enroll(app, "obama")
    photo = data_dir / "unknown" / "obama-480p.jpg"

    response = post_form(client, f"{API}/users/{user_id}/samples", {"image": upload(photo)})

    assert response.status_code == 201
    sample = response.get_json()
    assert (sample["user_id"], sample["source"]) == (user_id, "api")
    with app.app_context():
        row = db.session.get(FaceSample, sample["id"])
        assert row.user_id == user_id and row.vector.shape == (128,)
    assert [s["id"] for s in client.get(f"{API}/users/{user_id}").get_json()["samples"]] == [
        sample["id"]
    ]


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize(
    ("photo", "message"),
    [("two_people.jpg", "2 faces were found."), (None, "No face was found.")],
)
def test_is_a_sample_photo_without_exactly_one_face_refused_with_400(
    app, client, data_dir, photo, message
):
    user_id = enroll(app, "obama")
    image = upload(data_dir / "unknown" / photo) if photo else upload(blank_png(), "wall.png")
    response = post_form(client, f"{API}/users/{user_id}/samples", {"image": image})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message)
    assert count(app, FaceSample) == 0


def test_are_the_same_photo_twice_and_someone_elses_face_refused_with_409(app, client, data_dir):
    obama = enroll(app, "obama")
    enroll(app, "biden", data_dir / "known" / "biden.jpg")
    photo = data_dir / "unknown" / "obama-480p.jpg"
    url = f"{API}/users/{obama}/samples"
    assert post_form(client, url, {"image": upload(photo)}).status_code == 201

    again = post_form(client, url, {"image": upload(photo)})  # a retried request
    assert again.status_code == 409
    assert "already one of obama's samples" in again.get_json()["error"]

    biden = post_form(client, url, {"image": upload(data_dir / "people" / "biden" / "biden2.jpg")})
    assert biden.status_code == 409
    assert "looks like biden" in biden.get_json()["error"]
    with app.app_context():
        assert len(db.session.get(User, obama).samples) == 1


def test_is_a_sample_for_an_unknown_person_answered_with_404(client):
    response = post_form(client, f"{API}/users/77/samples", {"image": upload(blank_png())})
    assert response.status_code == 404


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_sample_request_without_a_photo_refused_with_422(app, client):
    user_id = enroll(app, "obama")
    response = post_form(client, f"{API}/users/{user_id}/samples", {})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("“image” is required")


# ---- stream control -----------------------------------------------------------------------


@pytest.mark.sqlite_only  # the camera, not the database
def test_do_stream_start_and_stop_answer_with_the_camera_status(client):
    started = client.post(f"{API}/stream/start")
    assert started.status_code == 200
    assert started.get_json()["state"] in {"starting", "unavailable", "running"}
    stopped = client.post(f"{API}/stream/stop").get_json()
    assert stopped["running"] is False and stopped["state"] == "stopped"
    status = client.get(f"{API}/stream/status").get_json()
    assert set(status) >= {"running", "source", "fps", "recognition_hz", "frame_index", "viewers"}
    assert status["faces"] == []


# ---- credentials --------------------------------------------------------------------------


def test_can_a_script_with_a_bearer_token_manage_people(app, anon_client):
    token = "fr_" + "k" * 40
    with app.app_context():
        db.session.add(ApiToken(name="door", token_hash=ApiToken.hash(token), prefix=token[:8]))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    created = anon_client.post(f"{API}/users", json={"name": "Ada"}, headers=headers)
    listed = anon_client.get(f"{API}/users", headers=headers)

    assert created.status_code == 201
    assert [u["name"] for u in listed.get_json()["users"]] == ["Ada"]


@pytest.mark.sqlite_only  # CSRF: refused before any query
def test_does_a_signed_in_browser_need_the_csrf_header_to_change_people(app_factory):
    from tests.conftest import login_client

    app = app_factory(WTF_CSRF_ENABLED=True)
    client = login_client(app, app.test_client())
    page = client.get(f"{API}/docs").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    refused = client.post(f"{API}/users", json={"name": "Ada"})
    accepted = client.post(f"{API}/users", json={"name": "Ada"}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400
    assert "CSRF" in refused.get_json()["error"]
    assert accepted.status_code == 201


@pytest.mark.sqlite_only  # CSRF: refused before any query
def test_does_a_bogus_bearer_header_not_let_a_cookie_session_skip_the_csrf_check(app_factory):
    from .conftest import login_client

    app = app_factory(WTF_CSRF_ENABLED=True)
    browser = login_client(app, app.test_client())
    response = browser.post(
        "/api/v1/users", json={"name": "Mallory"}, headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]
    assert browser.get("/api/v1/users").get_json()["total"] == 0
