"""The enrollment wizard: details, samples (uploads and camera snapshots), review and save."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, func, insert, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from facerec import engine, people
from facerec.extensions import db
from facerec.gallery import Gallery
from facerec.models import EnrollDraft, EnrollDraftSample, FaceSample, User, utcnow
from tests.conftest import change_settings, create_account, enroll, login_client, photo_samples

# ---- helpers ----

# On SQLite alone (see conftest.py) but for the tests marked both_databases: the wizard's
# pages and photo checks are the same on both; what it saves, and its races, are not.
pytestmark = pytest.mark.sqlite_only


def details(client, name="Barack Obama", notes="", **extra):
    return client.post("/enroll/", data={"name": name, "details": notes, **extra})


def one_photo_wizard(app_factory, name, photo):
    """A signed-in operator's wizard that needs one sample and has taken ``photo``."""
    app = app_factory(FACEREC_SNAPSHOTS=1)
    client = login_client(app, app.test_client())
    details(client, name)
    upload(client, photo)
    return app, client


def upload(client, *photos, json=False, **fields):
    """Post photos (paths, or (bytes, filename) pairs) to the upload step."""
    files = []
    for photo in photos:
        data, filename = photo if isinstance(photo, tuple) else (photo.read_bytes(), photo.name)
        files.append(FileStorage(io.BytesIO(data), filename=filename))
    # Encoded in memory: the test client spools bodies over 500 KB to a file it never closes.
    boundary, body = encode_multipart(MultiDict([*fields.items(), *(("photos", f) for f in files)]))
    return client.post(
        "/enroll/samples/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": "application/json"} if json else {},
        follow_redirects=not json,
    )


def text(response) -> str:
    """The page as a reader sees it: tags removed, entities decoded, white space folded."""
    import html

    body = re.sub(
        r"<(script|style|template)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S
    )
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def person(app, name):
    with app.app_context():
        user = people.find_by_name(name)
        if user is None:
            return None
        return {
            "id": user.id,
            "name": user.name,
            "details": user.details,
            "samples": [(s.source, s.vector.copy()) for s in user.samples],
        }


def recognise(app, photo):
    """Who the stored gallery says the largest face of ``photo`` is."""
    with app.app_context():
        gallery = Gallery.load(db.session)
        return gallery.match(photo_samples(photo)[0].encoding, app.config["FACEREC_TOLERANCE"]).name


def resaved(photo, quality=70, scale=0.9) -> bytes:
    """The same photo, resized and re-encoded: other bytes, (almost) the same face."""
    image = Image.open(photo).convert("RGB")
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# ---- the whole wizard ----


@pytest.mark.both_databases
def test_can_an_operator_enroll_barack_obama_from_two_uploads_and_is_he_then_recognised(
    app_factory, data_dir
):
    app = app_factory(FACEREC_SNAPSHOTS=2)
    client = login_client(app, app.test_client())

    page = client.get("/enroll/")
    assert page.status_code == 200
    assert "Enroll a person" in text(page)

    response = details(client, "  Barack   Obama ", "44th president\nWashington, D.C.")
    assert response.status_code == 303 and response.headers["Location"].endswith("/enroll/samples")

    page = client.get("/enroll/samples")
    assert "Samples of Barack Obama" in text(page)
    assert "Samples: 0 of 2" in text(page)

    page = upload(client, data_dir / "known" / "obama.jpg")
    assert "obama.jpg: accepted." in text(page)
    assert "Samples: 1 of 2" in text(page)
    page = upload(client, data_dir / "unknown" / "obama2.jpg")
    assert "obama2.jpg: accepted." in text(page)
    assert "Samples: 2 of 2" in text(page)

    # Reloading a step loses nothing: the thumbnails are served from the wizard state.
    page = client.get("/enroll/samples")
    thumbs = re.findall(r'src="(/enroll/samples/\d+\.jpg)"', page.get_data(as_text=True))
    assert len(thumbs) == 2
    for url in thumbs:
        image = client.get(url)
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
        assert image.data[:2] == b"\xff\xd8"

    review = client.get("/enroll/review")
    assert review.status_code == 200
    assert "Review: Barack Obama" in text(review)
    assert "44th president" in text(review)
    assert "looks like" not in text(review)
    assert count(app, User) == 0  # nothing is stored before Save

    saved = client.post("/enroll/review", data={"action": "save"})
    assert saved.status_code == 303
    done = client.get(saved.headers["Location"])
    assert "Barack Obama is enrolled with 2 samples." in text(done)
    assert "Barack Obama is enrolled" in text(done)

    stored = person(app, "barack obama")
    assert stored["name"] == "Barack Obama"
    assert stored["details"] == "44th president\nWashington, D.C."
    assert [source for source, _v in stored["samples"]] == ["upload", "upload"]
    assert count(app, EnrollDraft) == 0 and count(app, EnrollDraftSample) == 0
    assert recognise(app, data_dir / "unknown" / "obama-480p.jpg") == "Barack Obama"


def test_are_the_steps_closed_to_anyone_not_signed_in(anon_client):
    response = anon_client.get("/enroll/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = anon_client.post("/enroll/samples/snapshot", headers={"Accept": "application/json"})
    assert response.status_code == 401


@pytest.mark.both_databases
def test_does_the_wizard_save_a_person_with_one_sample_by_default(app, data_dir):
    client = login_client(app, app.test_client())
    details(client)
    page = text(upload(client, data_dir / "known" / "obama.jpg"))
    assert "Samples: 1 of 5" in page
    assert "At least 1 sample is needed, up to 5." in page
    assert "More samples, of different angles and light, recognise better." in page
    review = client.get("/enroll/review")
    assert review.status_code == 200
    saved = client.post("/enroll/review", data={"action": "save"}, follow_redirects=True)
    assert "Barack Obama is enrolled with 1 sample." in text(saved)
    assert len(person(app, "Barack Obama")["samples"]) == 1


def test_does_the_review_wait_until_enough_samples_are_taken(app_factory, data_dir):
    app = app_factory(FACEREC_SNAPSHOTS=3, FACEREC_SNAPSHOTS_MIN=2)
    client = login_client(app, app.test_client())
    assert client.get("/enroll/samples").headers["Location"].endswith("/enroll/")
    details(client)
    upload(client, data_dir / "known" / "obama.jpg")
    response = client.get("/enroll/review", follow_redirects=True)
    assert response.request.path == "/enroll/samples"
    assert "1 more sample needed before the review." in text(response)
    response = client.post("/enroll/review", data={"action": "save"}, follow_redirects=True)
    assert "1 more sample needed" in text(response)
    assert count(app, User) == 0


# ---- rejections ----


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A name is required."),
        ("   ", "A name is required."),
        ("x" * 101, "The name is too long (101 characters; at most 100)."),
        ("barack OBAMA", "A person named “Barack Obama” already exists."),
        ("Ada\x00Lovelace", "The name must not contain control characters."),
        ("Ada\x1bLovelace", "The name must not contain control characters."),
        ("Barack Obama\u200b", "The name contains an invisible character (U+200B)"),
        ("\u202eamabO kcaraB", "The name contains a text-direction control character (U+202E)"),
        ("\uff42\uff41\uff52\uff41\uff43\uff4b obama", "“Barack Obama” already exists."),
    ],
)
def test_is_a_bad_name_refused_with_its_reason(app, client, data_dir, name, message):
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    response = details(client, name)
    assert response.status_code == 422
    assert message in text(response)
    assert count(app, EnrollDraft) == 0
    assert count(app, User) == 1


def test_are_details_with_a_nul_character_refused_but_line_breaks_kept(app, client):
    response = details(client, "Ada Lovelace", "Analyst\x00")
    assert response.status_code == 422
    assert "The details must not contain control characters." in text(response)
    assert count(app, EnrollDraft) == 0
    assert details(client, "Ada Lovelace", "Analyst\r\n\tEngine").status_code == 303


def test_is_a_100_character_name_accepted(client):
    assert details(client, "x" * 100).status_code == 303


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (
            "unknown/two_people.jpg",
            "two_people.jpg: 2 faces were found. Only the person being enrolled may be in",
        ),
        (
            (b"name,role\nobama,president\n", "people.txt"),
            "people.txt: The file is not an image in a format facerec reads.",
        ),
        ((b"", "empty.jpg"), "empty.jpg: The file is empty."),
    ],
)
def test_is_an_unusable_upload_refused_with_its_reason(app, client, data_dir, photo, message):
    details(client)
    if isinstance(photo, str):
        photo = data_dir / photo
    page = upload(client, photo)
    assert message in text(page)
    assert "Samples: 0 of 5" in text(page)
    assert count(app, EnrollDraftSample) == 0


def test_does_a_face_engine_that_does_not_answer_give_the_wizard_a_503_message(
    app, client, data_dir, monkeypatch
):
    def stalled(app, data, **checks):
        raise engine.EngineUnavailable("the face engine gave no answer within 120 s")

    monkeypatch.setattr(engine, "sample_from_image", stalled)
    details(client)
    response = upload(client, data_dir / "known" / "obama.jpg", json=True)
    assert response.status_code == 503
    assert response.get_json() == {"error": "The face engine is busy or restarting; try again."}
    assert count(app, EnrollDraftSample) == 0


def test_is_the_same_photo_twice_refused_but_another_photo_of_him_accepted(app, client, data_dir):
    details(client)
    obama = data_dir / "known" / "obama.jpg"
    assert "obama.jpg: accepted." in text(upload(client, obama))

    page = upload(client, obama)
    assert "obama.jpg: This photo has already been added." in text(page)
    # Other bytes, same picture: caught by the encoding distance.
    page = upload(client, (resaved(obama), "obama-copy.jpg"))
    assert re.search(
        r"obama-copy\.jpg: This is almost the same as a sample already taken "
        r"\(distance 0\.\d\d\)",
        text(page),
    )
    assert "Samples: 1 of 5" in text(page)

    page = upload(client, data_dir / "unknown" / "obama2.jpg")
    assert "obama2.jpg: accepted." in text(page)
    assert count(app, EnrollDraftSample) == 2
    assert count(app, User) == 0


def test_are_several_photos_in_one_upload_each_given_a_verdict(app, client, data_dir):
    details(client)
    response = upload(
        client,
        data_dir / "known" / "obama.jpg",
        data_dir / "unknown" / "two_people.jpg",
        data_dir / "unknown" / "obama2.jpg",
        json=True,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert [r["accepted"] for r in body["results"]] == [True, False, True]
    assert "2 faces were found" in body["results"][1]["message"]
    assert body["count"] == 2 and body["required"] == 5


def test_is_a_step_posted_without_the_csrf_token_refused(app_factory, data_dir):
    app = app_factory(WTF_CSRF_ENABLED=True, FACEREC_SNAPSHOTS=1)
    client = login_client(app, app.test_client())

    response = details(client)
    assert response.status_code == 400
    assert "security token is missing" in text(response)
    assert count(app, EnrollDraft) == 0

    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/enroll/").get_data(as_text=True)
    )[1]
    assert details(client, csrf_token=token).status_code == 303

    response = upload(client, data_dir / "known" / "obama.jpg")
    assert "security token is missing" in text(response)
    assert count(app, EnrollDraftSample) == 0
    response = client.post("/enroll/samples/snapshot", headers={"Accept": "application/json"})
    assert response.status_code == 400 and "security token" in response.get_json()["error"]

    page = upload(client, data_dir / "known" / "obama.jpg", csrf_token=token)
    assert "obama.jpg: accepted." in text(page)
    sample_id = int(re.search(r"/enroll/samples/(\d+)\.jpg", page.get_data(as_text=True))[1])
    response = client.post(f"/enroll/samples/{sample_id}/remove")
    assert response.status_code == 400
    response = client.post("/enroll/review", data={"action": "save"})
    assert response.status_code == 400
    assert count(app, User) == 0 and count(app, EnrollDraftSample) == 1

    # The header the page's scripts send is accepted too.
    response = client.post(
        f"/enroll/samples/{sample_id}/remove",
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert response.status_code == 200 and response.get_json()["count"] == 0


def meanwhile(app, monkeypatch, action):
    """Run ``action(connection, draft_id)`` from 'another request' while a photo is checked."""
    real = engine.sample_from_image

    def checking(app_, data, **checks):
        sample = real(app_, data, **checks)
        with db.engine.begin() as connection:
            draft_id = connection.execute(select(EnrollDraft.id)).scalar_one()
            action(connection, draft_id)
        return sample

    monkeypatch.setattr(engine, "sample_from_image", checking)


@pytest.mark.both_databases
def test_can_racing_requests_not_take_more_samples_than_needed(app_factory, data_dir, monkeypatch):
    app = app_factory(FACEREC_SNAPSHOTS=1)
    client = login_client(app, app.test_client())
    details(client)

    def other_request_stores_one(connection, draft_id):
        connection.execute(
            insert(EnrollDraftSample).values(
                draft_id=draft_id,
                encoding=bytes(1024),
                thumbnail=b"jpeg",
                source="camera",
                label="the other click",
                created_at=utcnow(),
            )
        )

    meanwhile(app, monkeypatch, other_request_stores_one)
    page = upload(client, data_dir / "known" / "obama.jpg")
    assert "obama.jpg: not needed, all the samples are taken." in text(page)
    assert "Samples: 1 of 1" in text(page)
    assert count(app, EnrollDraftSample) == 1


def test_is_a_photo_checked_while_the_wizard_is_cancelled_elsewhere_dropped(
    app, client, data_dir, monkeypatch
):
    details(client)

    def other_tab_cancels(connection, draft_id):
        connection.execute(delete(EnrollDraft).where(EnrollDraft.id == draft_id))

    meanwhile(app, monkeypatch, other_tab_cancels)
    page = upload(client, data_dir / "known" / "obama.jpg")
    assert page.request.path == "/enroll/"
    assert "This enrollment was cancelled or has expired meanwhile." in text(page)
    assert count(app, EnrollDraftSample) == 0 and count(app, User) == 0


# ---- look-alikes ----


def enroll_with_files(app, name, *photos) -> int:
    """A person whose samples remember their files (as the wizard, the API and imports do)."""
    with app.app_context():
        from facerec import faces

        rows = [people.sample_row(faces.sample_from_image(p), "upload") for p in photos]
        user = people.create_person(people.PersonFields(name=name), samples=rows)
        db.session.commit()
        return user.id


@pytest.mark.both_databases
def test_does_add_to_an_existing_person_store_none_of_their_photos_twice(app_factory, data_dir):
    app = app_factory(FACEREC_SNAPSHOTS=3)
    obama, obama2 = data_dir / "known" / "obama.jpg", data_dir / "unknown" / "obama2.jpg"
    obama_id = enroll_with_files(app, "Barack Obama", obama, obama2)
    with app.app_context():
        updated_before = db.session.get(User, obama_id).updated_at
    client = login_client(app, app.test_client())
    details(client, "Barry")
    page = text(upload(client, data_dir / "unknown" / "obama3.jpg", obama, obama2))
    # Said at once, not only at the review: these very files belong to someone else.
    assert "obama.jpg: accepted, but this very photo is already a sample of Barack Obama." in page
    assert "obama3.jpg: accepted." in page

    response = client.post(
        "/enroll/review", data={"action": "add", "target": str(obama_id)}, follow_redirects=True
    )
    page = text(response)
    assert "1 sample added to Barack Obama." in page
    assert "Left out so nothing is stored twice: 2 photos Barack Obama already had." in page
    with app.app_context():
        user = db.session.get(User, obama_id)
        hashes = [s.content_hash for s in user.samples]
        assert len(hashes) == 3 and len(set(hashes)) == 3
        assert user.updated_at > updated_before
    assert person(app, "Barry") is None and count(app, EnrollDraftSample) == 0


def test_does_the_review_warn_of_a_look_alike_and_add_the_samples_to_him(app_factory, data_dir):
    app = app_factory(FACEREC_SNAPSHOTS=1)
    obama_id = enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    client = login_client(app, app.test_client())
    details(client, "Barry")
    assert "obama3.jpg: accepted." in text(upload(client, data_dir / "unknown" / "obama3.jpg"))

    review = client.get("/enroll/review")
    assert re.search(
        r"Barry looks like Barack Obama: distance 0\.3\d \(match below 0\.60\)\.",
        text(review),
    )
    for button in ("Cancel", "Add to Barack Obama", "Save anyway as Barry"):
        assert button in text(review)

    # A plain Save is not enough while the warning stands.
    response = client.post("/enroll/review", data={"action": "save"})
    assert response.status_code == 409
    assert "looks like Barack Obama" in text(response)
    assert count(app, User) == 1

    response = client.post(
        "/enroll/review", data={"action": "add", "target": str(obama_id)}, follow_redirects=True
    )
    assert "1 sample added to Barack Obama." in text(response)
    assert count(app, User) == 1
    assert person(app, "Barry") is None
    assert [source for source, _v in person(app, "Barack Obama")["samples"]] == ["test", "upload"]
    assert count(app, EnrollDraft) == 0


def test_can_the_operator_save_a_look_alike_anyway_or_cancel(app_factory, data_dir):
    app = app_factory(FACEREC_SNAPSHOTS=1)
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    client = login_client(app, app.test_client())
    details(client, "Barry")
    upload(client, data_dir / "unknown" / "obama3.jpg")

    response = client.post("/enroll/review", data={"action": "cancel"}, follow_redirects=True)
    assert "Enrollment cancelled. Nothing was saved." in text(response)
    assert count(app, EnrollDraft) == 0 and count(app, User) == 1

    details(client, "Barry")
    upload(client, data_dir / "unknown" / "obama3.jpg")
    response = client.post("/enroll/review", data={"action": "save_anyway"}, follow_redirects=True)
    assert "Barry is enrolled with 1 sample." in text(response)
    assert count(app, User) == 2 and len(person(app, "Barry")["samples"]) == 1


# ---- wizard state ----


@pytest.mark.both_databases
def test_do_two_operators_enrolling_at_once_keep_separate_samples(app, data_dir):
    alice = login_client(app, app.test_client(), "alice")
    bob = login_client(app, app.test_client(), "bob")
    details(alice, "Barack Obama")
    details(bob, "Joe Biden")
    page_a = upload(alice, data_dir / "known" / "obama.jpg")
    page_b = upload(bob, data_dir / "known" / "biden.jpg")
    assert "Samples of Barack Obama" in text(page_a) and "Samples: 1 of 5" in text(page_a)
    assert "Samples of Joe Biden" in text(page_b) and "Samples: 1 of 5" in text(page_b)

    thumbs_a = re.findall(
        r"/enroll/samples/(\d+)\.jpg", alice.get("/enroll/samples").get_data(as_text=True)
    )
    thumbs_b = re.findall(
        r"/enroll/samples/(\d+)\.jpg", bob.get("/enroll/samples").get_data(as_text=True)
    )
    assert len(thumbs_a) == 1 and len(thumbs_b) == 1 and thumbs_a != thumbs_b
    # Neither can see nor remove the other's sample.
    assert bob.get(f"/enroll/samples/{thumbs_a[0]}.jpg").status_code == 404
    assert bob.post(f"/enroll/samples/{thumbs_a[0]}/remove").status_code == 404
    assert alice.get(f"/enroll/samples/{thumbs_a[0]}.jpg").status_code == 200

    # The same account in a second browser starts its own wizard too.
    alice_laptop = login_client(app, app.test_client(), "alice")
    assert alice_laptop.get("/enroll/samples").status_code == 303
    assert 'value="Barack Obama"' in alice.get("/enroll/").get_data(as_text=True)


def test_does_signing_in_as_someone_else_in_the_same_browser_start_afresh(app, data_dir):
    browser = login_client(app, app.test_client(), "alice")
    details(browser, "Barack Obama")
    bob_id = create_account(app, "bob")
    with browser.session_transaction() as session:
        session["_user_id"] = str(bob_id)
    assert browser.get("/enroll/samples").status_code == 303
    assert "Barack Obama" not in browser.get("/enroll/").get_data(as_text=True)


def test_can_a_sample_be_removed_and_do_the_details_survive_going_back(app, client, data_dir):
    details(client, "Barack Obama", "president")
    page = upload(client, data_dir / "known" / "obama.jpg")
    sample_id = re.search(r"/enroll/samples/(\d+)\.jpg", page.get_data(as_text=True))[1]
    form = client.get("/enroll/").get_data(as_text=True)
    assert 'value="Barack Obama"' in form and re.search(r">\s*president</textarea>", form)
    assert "1 sample taken so far" in text(client.get("/enroll/"))
    # Changing the name keeps the samples.
    details(client, "Barack H. Obama", "president")
    page = client.post(f"/enroll/samples/{sample_id}/remove", follow_redirects=True)
    assert "Sample removed." in text(page)
    assert "Samples of Barack H. Obama" in text(page) and "Samples: 0 of 5" in text(page)
    assert client.get(f"/enroll/samples/{sample_id}.jpg").status_code == 404
    assert count(app, EnrollDraftSample) == 0


def test_does_an_abandoned_wizard_expire(app, client, data_dir):
    details(client)
    upload(client, data_dir / "known" / "obama.jpg")
    with app.app_context():
        draft = db.session.scalars(select(EnrollDraft)).one()
        draft.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get("/enroll/samples", follow_redirects=True)
    assert response.request.path == "/enroll/"
    assert "The enrollment in progress expired" in text(response)
    assert count(app, EnrollDraft) == 0 and count(app, EnrollDraftSample) == 0


@pytest.mark.both_databases
def test_are_expired_wizards_of_other_sessions_deleted(app, client):
    other = login_client(app, app.test_client(), "other")
    details(other, "Forgotten")
    with app.app_context():
        db.session.scalars(select(EnrollDraft)).one().expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    details(client, "Barack Obama")
    with app.app_context():
        assert [d.name for d in db.session.scalars(select(EnrollDraft))] == ["Barack Obama"]


# ---- saving ----


@pytest.mark.both_databases
def test_does_a_failed_save_leave_nothing_behind(app_factory, data_dir, monkeypatch):
    app = app_factory(FACEREC_SNAPSHOTS=2)
    client = login_client(app, app.test_client())
    details(client)
    upload(client, data_dir / "known" / "obama.jpg", data_dir / "unknown" / "obama2.jpg")
    with app.app_context():
        version_before = db.session.execute(select(func.max(FaceSample.id))).scalar()

    real_sample_row = people.sample_row
    calls = []

    def broken_second_row(*args, **kwargs):
        row = real_sample_row(*args, **kwargs)
        calls.append(row)
        if len(calls) == 2:
            row.thumbnail = None  # NOT NULL: the INSERT fails after the person's INSERT
        return row

    monkeypatch.setattr(people, "sample_row", broken_second_row)
    response = client.post("/enroll/review", data={"action": "save"})
    assert response.status_code == 500
    assert "Nothing was stored" in text(response)
    assert len(calls) == 2
    assert count(app, User) == 0 and count(app, FaceSample) == 0
    assert version_before is None
    assert count(app, EnrollDraftSample) == 2  # the wizard can try again

    monkeypatch.setattr(people, "sample_row", real_sample_row)
    response = client.post("/enroll/review", data={"action": "save"}, follow_redirects=True)
    assert "Barack Obama is enrolled with 2 samples." in text(response)
    assert count(app, User) == 1 and count(app, FaceSample) == 2


@pytest.mark.both_databases
def test_is_a_name_taken_meanwhile_refused_at_save(app_factory, data_dir):
    app, client = one_photo_wizard(app_factory, "Joe Biden", data_dir / "known" / "biden.jpg")
    enroll(app, "JOE BIDEN", data_dir / "unknown" / "obama2.jpg")  # someone else was quicker
    response = client.post("/enroll/review", data={"action": "save"})
    assert response.status_code == 409
    assert "A person named “JOE BIDEN” already exists." in text(response)
    assert count(app, User) == 1 and count(app, EnrollDraftSample) == 1


# ---- the camera ----


def test_does_the_samples_step_say_when_no_camera_is_configured(client):
    details(client)
    page = client.get("/enroll/samples")
    assert "No camera is configured on the server" in text(page)
    response = client.post("/enroll/samples/snapshot", headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json()["message"] == (
        "The camera is not running. Start it, then take the snapshot again."
    )


def test_does_the_start_camera_form_start_the_camera(clip_app):
    client = login_client(clip_app, clip_app.test_client())
    details(client)
    response = client.post("/enroll/camera/start", follow_redirects=True)
    assert response.request.path == "/enroll/samples"
    assert "The camera is starting." in text(response)
    assert clip_app.extensions["cameras"].first().running


def test_is_lin_manuel_mirandas_face_taken_from_the_clip_and_saved(clip_app, data_dir):
    app = clip_app
    change_settings(app, snapshots=1)
    client = login_client(app, app.test_client())
    details(client, "Lin-Manuel Miranda", "from the camera")

    page = client.get("/enroll/samples")
    assert "The camera is not running" in text(page) and "Start camera" in text(page)
    # The live stream is shown beside the snapshot button.
    assert re.search(
        r'<img id="stream" src="/cameras/main/stream.mjpg".*Take snapshot',
        page.get_data(as_text=True),
        re.S,
    )
    page = client.post("/enroll/samples/snapshot", follow_redirects=True)
    assert "The camera is not running. Start it, then take the snapshot again." in text(page)

    camera = app.extensions["cameras"].first()
    camera.start()
    deadline = time.monotonic() + 30
    while camera.snapshot() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert camera.snapshot() is not None, camera.status()

    lin = photo_samples(data_dir / "known" / "lin-manuel-miranda.png")[0].encoding
    reasons, accepted = [], None
    for _attempt in range(60):
        response = client.post("/enroll/samples/snapshot", headers={"Accept": "application/json"})
        body = response.get_json()
        if response.status_code != 201:
            assert body["accepted"] is False and body["message"]
            reasons.append(body["message"])
            time.sleep(0.2)
            continue
        with app.app_context():
            vector = db.session.get(EnrollDraftSample, body["sample"]["id"]).vector
        if np.linalg.norm(vector - lin) < 0.6:
            accepted = body
            break
        client.post(body["sample"]["remove_url"])  # the other face in the clip: not him
    assert accepted is not None, reasons
    assert accepted["message"] == "Sample 1 of 1 accepted."
    assert accepted["sample"]["label"].startswith("camera main, frame ")

    response = client.post("/enroll/review", data={"action": "save"}, follow_redirects=True)
    assert "Lin-Manuel Miranda is enrolled with 1 sample." in text(response)
    stored = person(app, "lin-manuel miranda")
    assert [source for source, _v in stored["samples"]] == ["camera"]
    assert np.linalg.norm(stored["samples"][0][1] - lin) < 0.6


@pytest.mark.both_databases
def test_does_a_save_sent_twice_show_the_person_once_saved(app_factory, data_dir):
    app, client = one_photo_wizard(app_factory, "Barack Obama", data_dir / "known" / "obama.jpg")
    before = client.get_cookie("session").value  # the cookie a double-click sends again

    first = client.post("/enroll/review", data={"action": "save"})
    assert first.status_code == 303
    client.set_cookie("session", before)
    second = client.post("/enroll/review", data={"action": "save"})
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    page = client.get(second.headers["Location"])
    assert "This enrollment was already saved." in text(page)
    assert "expired" not in text(page)
    assert count(app, User) == 1 and count(app, FaceSample) == 1


def test_does_the_review_name_the_sample_that_looks_like_someone_and_offer_to_remove_it(
    app_factory, data_dir
):
    """One sample looks like Barack Obama, the other like nobody: the warning says which, and
    "Add to Barack Obama" is not offered (it would give him the other person's photo)."""
    from facerec import faces
    from facerec.models import EnrollDraft

    app = app_factory(FACEREC_SNAPSHOTS=1)
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    client = login_client(app, app.test_client())
    details(client, "Barry")
    upload(client, data_dir / "unknown" / "obama3.jpg")
    with app.app_context():  # a second sample, of someone else (as a camera snapshot might be)
        draft = db.session.scalars(select(EnrollDraft)).one()
        other = EnrollDraftSample(draft=draft, thumbnail=b"", source="snapshot", label="snap")
        other.vector = faces.sample_from_image(
            data_dir / "people" / "kit_harington" / "john1.jpeg"
        ).encoding
        db.session.add(other)
        db.session.commit()
        obama_sample = draft.samples[0].id

    review = text(client.get("/enroll/review"))
    assert re.search(r"Sample 1 looks like Barack Obama \(0\.3\d\)", review)
    assert "Not every sample: sample 1 looks like Barack Obama." in review
    assert "Add to Barack Obama" not in review and "Remove sample 1" in review
    assert "Remove sample 2" not in review
    refused = client.post("/enroll/review", data={"action": "add", "target": "1"})
    assert refused.status_code == 409
    assert "Not every sample looks like Barack Obama" in text(refused)

    removed = client.post(
        f"/enroll/samples/{obama_sample}/remove", data={"back": "review"}, follow_redirects=True
    )

    page = text(removed)
    assert "Review: Barry" in page and "looks like" not in page and "Save Barry" in page
