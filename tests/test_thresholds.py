"""Each person's own threshold: computed from their samples, negatives and nearest other
person; set by hand on the person page and the API; what it changes in matching."""

from __future__ import annotations

import pytest

from facerec import gallery, unknowns
from facerec.extensions import db
from facerec.gallery import Gallery
from facerec.models import AuditEntry, PersonHeadroom, User

from .conftest import DATA, enroll, photo_samples
from .test_api import API, post_form, upload

PEOPLE = {folder.name: sorted(folder.iterdir()) for folder in sorted((DATA / "people").iterdir())}
# people-test, with who each face is (largest first); None: someone not enrolled.
TRUTH = [
    (DATA / "people-test" / "alex_lacamoire1.jpg", ["alex_lacamoire"]),
    (DATA / "people-test" / "johnsnow_test1.jpg", ["kit_harington"]),
    (DATA / "people-test" / "kit_with_rose.jpg", ["kit_harington", "rose_leslie"]),
    (DATA / "people-test" / "obama1.jpg", ["obama"]),
    (DATA / "people-test" / "obama_and_biden.jpg", ["biden", "obama", None]),
    (DATA / "known" / "lin-manuel-miranda.png", [None]),
    (DATA / "known" / "alex-lacamoire.png", ["alex_lacamoire"]),
]


def refreshed(app) -> Gallery:
    """The gallery once the unknowns thread has worked the thresholds out (run here)."""
    with app.app_context():
        unknowns.placer(app).look_again()
        return gallery.current()


def scores(matcher: Gallery, tolerance: float) -> tuple[int, int, int]:
    """(faces named right, faces named wrong, strangers given a name) over people-test."""
    right = wrong = strangers = 0
    for photo, people in TRUTH:
        for face, truth in zip(photo_samples(photo), people, strict=True):
            match = matcher.match(face.encoding, tolerance)
            if truth is None:
                strangers += match.known
            elif match.known:
                right += match.name == truth
                wrong += match.name != truth
    return right, wrong, strangers


def without_thresholds(matcher: Gallery) -> Gallery:
    """The same gallery matching with the one tolerance alone."""
    return Gallery(
        matcher.matrix,
        matcher.user_ids,
        matcher.names,
        negatives=matcher.negatives.rows,
        negative_user_ids=matcher.negative_user_ids,
    )


@pytest.fixture
def people_app(app):
    ids = {name: enroll(app, name, *photos) for name, photos in PEOPLE.items()}
    app.config["TEST_IDS"] = ids
    return app


@pytest.mark.parametrize("tolerance", [0.6, 0.8])
def test_do_thresholds_per_person_name_people_no_worse_and_strangers_less(people_app, tolerance):
    """At 0.6 everyone in people/ is far from everyone else: the thresholds change nothing.
    At 0.8, Obama and Alex Lacamoire (0.78 apart) and Kit and Rose (0.78) are look-alike
    pairs: each one's threshold closes in under their nearest other person, and the two
    strangers of the photos (0.70 from Obama) stop being named Obama."""
    matcher = refreshed(people_app)
    per_person = scores(matcher, tolerance)
    one_tolerance = scores(without_thresholds(matcher), tolerance)

    assert per_person[0] >= one_tolerance[0] and per_person[1] <= one_tolerance[1]
    assert per_person[2] <= one_tolerance[2]
    if tolerance == 0.6:
        assert per_person == one_tolerance == (8, 0, 0)
    else:
        assert one_tolerance[2] == 2 and per_person[2] == 0
        assert per_person[:2] == one_tolerance[:2] == (8, 0)


def test_does_a_person_get_their_nearest_person_and_a_look_alike_pair_a_warning(app, client):
    obama = enroll(app, "Obama", DATA / "people" / "obama" / "obama.jpg")
    barack = enroll(app, "Barack", DATA / "people" / "obama" / "obama2.jpg")  # the same face
    kit = enroll(app, "Kit", *PEOPLE["kit_harington"])
    refreshed(app)

    far = client.get(f"{API}/users/{kit}").get_json()
    near = client.get(f"{API}/users/{obama}").get_json()

    assert far["tolerance"] is None
    assert far["headroom"]["tolerance"] == 0.6 and far["headroom"]["separates"] is True
    assert near["headroom"]["nearest_person"]["id"] == barack
    assert near["headroom"]["nearest_person"]["distance"] < 0.4
    assert near["headroom"]["separates"] is False
    page = client.get(f"/admin/users/{obama}").get_data(as_text=True)
    assert "does not keep Obama apart from\\n    Barack" in page.replace("\n", "\\n") or (
        "does not keep Obama apart from" in page and "Barack" in page
    )


def test_does_a_threshold_set_by_hand_decide_and_null_compute_it_again(people_app, client):
    alex = people_app.config["TEST_IDS"]["alex_lacamoire"]
    photo = DATA / "known" / "alex-lacamoire.png"  # 0.52 from his one sample

    def named():
        faces = post_form(client, f"{API}/recognize", {"image": upload(photo)}).get_json()["faces"]
        return faces[0]["name"]

    assert named() == "alex_lacamoire"
    tighter = client.patch(f"{API}/users/{alex}", json={"tolerance": 0.5})
    assert tighter.status_code == 200
    assert tighter.get_json()["tolerance"] == 0.5
    assert tighter.get_json()["headroom"] == {**tighter.get_json()["headroom"], "tolerance": 0.5,
                                              "computed": False}  # fmt: skip
    assert named() is None
    again = client.patch(f"{API}/users/{alex}", json={"tolerance": None})
    assert again.get_json()["tolerance"] is None and named() == "alex_lacamoire"
    bad = client.patch(f"{API}/users/{alex}", json={"tolerance": 2})
    assert bad.status_code == 422 and "tolerance" in bad.get_json()["error"]


def test_can_the_person_page_set_and_clear_the_threshold(people_app, client):
    alex = people_app.config["TEST_IDS"]["alex_lacamoire"]
    refreshed(people_app)
    page = client.get(f"/admin/users/{alex}").get_data(as_text=True)
    assert "Closest other person:" in page and "obama" in page

    saved = client.post(
        f"/admin/users/{alex}/tolerance", data={"tolerance": "0.45"}, follow_redirects=True
    )
    assert "threshold is 0.45, set by hand" in saved.get_data(as_text=True)
    refused = client.post(f"/admin/users/{alex}/tolerance", data={"tolerance": "zero"})
    assert refused.status_code == 400
    assert "must be a number from 0.10 to 1.00" in refused.get_data(as_text=True)
    # The page's field, its check and the API's take one range.
    assert 'name="tolerance" type="number" min="0.1" max="1"' in page
    assert (
        client.post(f"/admin/users/{alex}/tolerance", data={"tolerance": "0.05"}).status_code == 400
    )
    assert client.patch(f"{API}/users/{alex}", json={"tolerance": 0.05}).status_code == 422
    cleared = client.post(
        f"/admin/users/{alex}/tolerance", data={"computed": "1"}, follow_redirects=True
    )
    assert "threshold is computed again" in cleared.get_data(as_text=True)
    with people_app.app_context():
        assert db.session.get(User, alex).tolerance is None
        entries = db.session.query(AuditEntry).filter_by(action="person.threshold_set").all()
        assert [(e.object_id, e.details) for e in entries] == [
            (alex, '{"from": null, "to": 0.45}'),
            (alex, '{"from": 0.45, "to": null}'),
        ]


def test_is_the_headroom_worked_out_again_only_for_who_changed(people_app):
    refreshed(people_app)
    with people_app.app_context():
        before = {
            r.user_id: (r.computed_at, r.nearest_user_id) for r in db.session.query(PersonHeadroom)
        }
    kit = people_app.config["TEST_IDS"]["kit_harington"]
    enroll(people_app, "Jon", DATA / "people-test" / "johnsnow_test1.jpg")  # near Kit

    refreshed(people_app)

    with people_app.app_context():
        rows = {r.user_id: r for r in db.session.query(PersonHeadroom)}
        jon = db.session.query(User).filter_by(name="Jon").one().id
        assert rows[jon].nearest_user_id == kit
        # Kit's nearest person is Jon now (0.36), though Kit's samples did not change.
        assert rows[kit].nearest_user_id == jon and rows[kit].nearest_distance < 0.4
        # The others are not written again, unless Jon is their nearest person now.
        for uid, (computed_at, nearest) in before.items():
            if uid != kit and rows[uid].nearest_user_id == nearest:
                assert rows[uid].computed_at == computed_at
