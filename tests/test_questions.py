"""Questions: "Is this X?" for the sightings named after a close call; Yes adds a sample, No a
negative, and an answered question leaves the queue."""

from __future__ import annotations

from datetime import timedelta

from facerec import gallery
from facerec.extensions import db
from facerec.models import AuditEntry, FaceSample, NegativeSample, Sighting, User

from .conftest import DATA, enroll, login_client
from .test_api import API, post_form, upload
from .test_unknowns import T0, face_crop

ALEX = DATA / "known" / "alex-lacamoire.png"
STRANGER = DATA / "people" / "kit_harington" / "john1.jpeg"  # 0.81 from Alex's sample
THE_SAME_STRANGER = DATA / "people-test" / "johnsnow_test1.jpg"
ALEX_AGAIN = DATA / "people" / "alex_lacamoire" / "img1.jpg"


def seen(app, photo, minutes=0) -> int:
    """A sighting as the camera pipeline writes it: named after whom the gallery matches, with
    that distance, under the tolerance in force."""
    encoding, crop = face_crop(photo)
    with app.app_context():
        match = gallery.current().match(encoding, app.config["FACEREC_TOLERANCE"])
        row = Sighting(
            camera="main",
            user_id=match.user_id,
            name=match.name,
            distance=match.distance,
            started_at=T0 + timedelta(minutes=minutes),
            ended_at=T0 + timedelta(minutes=minutes, seconds=20),
            frames=10,
            crop=crop,
        )
        row.vector = encoding
        db.session.add(row)
        db.session.commit()
        return row.id


def name_of(client, photo, tolerance):
    found = post_form(
        client, f"{API}/recognize", {"image": upload(photo), "tolerance": str(tolerance)}
    ).get_json()["faces"]
    return found[0]["name"]


def test_is_a_look_alike_stranger_asked_about_and_no_makes_him_unknown(app_factory):
    app = app_factory(FACEREC_TOLERANCE=0.85)  # loose enough to name the stranger Alex
    client = login_client(app, app.test_client())
    alex = enroll(app, "Alex", ALEX)
    clear = seen(app, ALEX_AGAIN)
    close = seen(app, STRANGER, minutes=5)
    with app.app_context():
        assert db.session.get(Sighting, close).user_id == alex  # the mistake happened
        assert db.session.get(Sighting, clear).user_id == alex

    (asked,) = client.get(f"{API}/unknowns/questions").get_json()["questions"]
    assert (asked["sighting_id"], asked["user_id"], asked["name"]) == (close, alex, "Alex")
    assert asked["distance"] > asked["threshold"] - 0.06 and asked["look_alike"] is False
    assert asked["crop_url"] == f"/api/v1/sightings/{close}/crop.jpg"

    page = client.get("/unknowns/questions").get_data(as_text=True)
    assert page.count("Is this Alex?") == 1
    assert f'id="question-{close}"' in page and f'id="question-{clear}"' not in page
    assert "No, this is not Alex" in page and "Yes, this is Alex" in page
    # The navigation badge counts it (no visitor waits).
    assert 'aria-label="1 waiting"' in page

    answered = client.post(
        f"/history/sightings/{close}/label",
        data={"not_user_id": alex, "next": "/unknowns/questions"},
        follow_redirects=True,
    )

    assert answered.status_code == 200
    text = answered.get_data(as_text=True)
    assert "is not Alex" in text and "Is this Alex?" not in text
    assert "No questions" in text
    assert client.get(f"{API}/unknowns/questions").get_json() == {"questions": []}
    with app.app_context():
        assert db.session.query(NegativeSample).filter_by(user_id=alex).count() == 1
    # The next sighting of the stranger is unknown; Alex is still named.
    assert name_of(client, THE_SAME_STRANGER, 0.85) is None
    assert name_of(client, ALEX_AGAIN, 0.85) == "Alex"


def test_does_yes_add_the_crop_as_a_sample_and_end_the_question(app_factory):
    app = app_factory(FACEREC_TOLERANCE=0.55)
    client = login_client(app, app.test_client())
    alex = enroll(app, "Alex", ALEX)
    close = seen(app, DATA / "people-test" / "alex_lacamoire1.jpg")  # 0.53: a close call
    assert "Is this Alex?" in client.get("/unknowns/questions").get_data(as_text=True)

    answered = client.post(
        f"/history/sightings/{close}/label",
        data={"user_id": alex, "next": "/unknowns/questions"},
        follow_redirects=True,
    )

    text = answered.get_data(as_text=True)
    assert "its face was added as a sample" in text and "Is this Alex?" not in text
    with app.app_context():
        assert db.session.query(FaceSample).filter_by(user_id=alex).count() == 2
        assert db.session.get(Sighting, close).labelled_by_hand
        entry = db.session.query(AuditEntry).filter_by(action="sighting.relabelled").one()
        assert entry.object_id == close
        assert db.session.get(User, alex).name == "Alex"


def test_are_questions_a_tab_of_the_unknowns_page(app, client):
    visitors = client.get("/unknowns").get_data(as_text=True)
    assert 'href="/unknowns/questions"' in visitors
    questions = client.get("/unknowns/questions")
    assert questions.status_code == 200
    text = questions.get_data(as_text=True)
    assert 'aria-current="page">Questions' in text and "No questions" in text
