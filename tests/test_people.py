"""The rules for people and their samples (facerec.people), shared by every path."""

from __future__ import annotations

from datetime import datetime

import pytest

from facerec import faces, people
from facerec.extensions import db
from facerec.models import FaceSample, Sighting, User
from tests.conftest import enroll


def sample_of(path) -> faces.Sample:
    return faces.sample_from_image(path)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def obama(ctx, data_dir) -> User:
    """Barack Obama, enrolled from known/obama.jpg."""
    return db.session.get(User, enroll(ctx, "Barack Obama", data_dir / "known" / "obama.jpg"))


def refusal(user: User, photo) -> people.SampleRejected:
    """Why the face in ``photo`` is refused as a new sample of ``user`` (it must be)."""
    with pytest.raises(people.SampleRejected) as caught:
        people.add_sample(user, sample_of(photo), "upload")
    return caught.value


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("  Ada   Lovelace ", "Ada Lovelace"), ("Zoë\tÅberg", "Zoë Åberg"), ("x" * 100, "x" * 100)],
)
def test_is_a_name_trimmed_and_its_spaces_folded(raw, clean):
    assert people.clean_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "A name is required."),
        ("   ", "A name is required."),
        ("x" * 101, "The name is too long (101 characters; at most 100)."),
        ("Ada\x00", "The name must not contain control characters."),
        ("Ad\udce9", "The name is not valid Unicode text."),
    ],
)
def test_is_a_bad_name_refused_with_a_reason(raw, message):
    with pytest.raises(people.PersonError) as caught:
        people.clean_name(raw)
    assert str(caught.value) == message


def test_may_details_hold_line_breaks_but_no_other_control_characters():
    assert people.clean_details(" line one\nline two\t ") == "line one\nline two"
    with pytest.raises(people.PersonError, match="control characters"):
        people.clean_details("bell\x07")
    with pytest.raises(people.PersonError, match="too long"):
        people.clean_details("x" * (people.DETAILS_MAX + 1))


def test_is_a_name_taken_whatever_its_case_and_spacing(ctx):
    people.create_person(people.PersonFields(name="Ada Lovelace"))
    db.session.commit()
    assert people.find_by_name("  ada   LOVELACE").name == "Ada Lovelace"
    with pytest.raises(people.DuplicateName, match="“Ada Lovelace” already exists"):
        people.create_person(people.PersonFields(name="ADA LOVELACE"))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\uff4f\uff42\uff41\uff4d\uff41 \uff12", "obama 2"),  # full-width letters
        ("\ufb01ona", "fiona"),  # the "fi" ligature
        ("Zoe\u0308", "Zoë"),  # e + combining diaeresis: one character, as typed elsewhere
        ("Ada\u00a0Lovelace", "Ada Lovelace"),  # a no-break space
    ],
)
def test_is_a_name_stored_in_its_nfkc_form(raw, clean):
    assert people.clean_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "code", "kind"),
    [
        ("obama\u200b", "U+200B", "invisible"),  # zero-width space
        ("obama\u2060", "U+2060", "invisible"),  # word joiner
        ("oba\u200dma", "U+200D", "invisible"),  # zero-width joiner
        ("\ufeffobama", "U+FEFF", "invisible"),  # byte order mark
        ("oba\u00adma", "U+00AD", "invisible"),  # soft hyphen
        # A Hangul filler, a "letter" that shows nothing (NFKC turns it into U+1160)
        ("obama\u3164", "U+1160", "invisible"),
        ("obama\ufe0f", "U+FE0F", "invisible"),  # variation selector
        ("obama\U000e0041", "U+E0041", "invisible"),  # a tag character
        ("\u202eamabo", "U+202E", "text-direction"),  # right-to-left override
        ("obama\u2066x\u2069", "U+2066", "text-direction"),  # left-to-right isolate
        ("obama\u200f", "U+200F", "text-direction"),  # right-to-left mark
    ],
)
def test_is_a_name_with_an_invisible_or_direction_character_refused(raw, code, kind):
    with pytest.raises(people.PersonError) as caught:
        people.clean_name(raw)
    assert f"contains an {kind} character ({code})" in str(caught.value) or (
        f"contains a {kind} control character ({code})" in str(caught.value)
    )


@pytest.mark.parametrize(
    "look_alike",
    ["OBAMA", "\uff2f\uff42\uff41\uff4d\uff41", "obama\u00a0", "Obama"],
)
def test_is_a_name_that_looks_like_a_taken_one_refused(ctx, look_alike):
    people.create_person(people.PersonFields(name="obama"))
    db.session.commit()
    with pytest.raises(people.DuplicateName, match="“obama” already exists"):
        people.create_person(people.PersonFields(name=look_alike))


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u041ebama",  # a Cyrillic capital O
        "\u03bfbama",  # a Greek small omicron
        "Ob\u0430m\u0430",  # Cyrillic small a, twice
        "\u041e\u0412\u0410\u039c\u0410",  # OBAMA in Cyrillic and Greek capitals
    ],
)
def test_is_a_name_in_look_alike_letters_of_another_script_refused(ctx, look_alike):
    people.create_person(people.PersonFields(name="Obama"))
    db.session.commit()
    with pytest.raises(people.DuplicateName, match="looks the same as “Obama”, who is already"):
        people.create_person(people.PersonFields(name=look_alike))


@pytest.mark.parametrize(
    "other",
    [
        "\u041e\u0431\u0430\u043c\u0430",  # Obama written in Cyrillic: it reads differently
        "Osama",
        "Oba ma",
    ],
)
def test_is_a_name_that_reads_differently_accepted(ctx, other):
    people.create_person(people.PersonFields(name="Obama"))
    people.create_person(people.PersonFields(name=other))
    db.session.commit()


def test_may_a_person_keep_their_look_alike_name_when_edited(ctx):
    """Their own name is not someone else's (a name stored before the rule keeps working)."""
    user = people.create_person(people.PersonFields(name="\u041ebama"))
    db.session.commit()
    people.update_person(user, people.PersonFields(name="\u041ebama", details="renamed"))
    people.update_person(user, people.PersonFields(name="Obama"))


def test_may_a_person_keep_their_own_name_when_edited(ctx):
    user = people.create_person(people.PersonFields(name="Ada"))
    db.session.commit()
    people.update_person(user, people.PersonFields(name="Ada", details="mathematician"))
    assert user.details == "mathematician"


def test_does_a_photo_sample_carry_the_hash_of_its_file(data_dir):
    photo = data_dir / "known" / "obama.jpg"
    sample = sample_of(photo)
    assert sample.content_hash == faces.photo_hash(photo.read_bytes())
    assert len(sample.content_hash) == 64


def test_is_the_same_photo_refused_for_a_person_who_has_it(obama, data_dir):
    obama.samples[0].content_hash = faces.photo_hash((data_dir / "known/obama.jpg").read_bytes())
    db.session.commit()
    refused = refusal(obama, data_dir / "known" / "obama.jpg")
    assert refused.reason == people.SAME_PHOTO
    assert str(refused) == "This photo is already one of Barack Obama's samples."


def test_is_a_near_duplicate_of_a_persons_sample_refused(obama, data_dir):
    # obama-480p.jpg is another file of the same picture as known/obama.jpg (distance 0.06).
    refused = refusal(obama, data_dir / "unknown" / "obama-480p.jpg")
    assert refused.reason == people.NEAR_DUPLICATE_FACE
    assert "almost identical to a sample Barack Obama already has" in str(refused)


def test_is_someone_elses_face_refused_for_a_person(ctx, obama, data_dir):
    biden = db.session.get(User, enroll(ctx, "Joe Biden", data_dir / "known" / "biden.jpg"))
    refused = refusal(biden, data_dir / "unknown" / "obama2.jpg")
    assert refused.reason == people.SOMEONE_ELSE
    assert "looks like Barack Obama, who is already enrolled, more than like" in str(refused)
    assert ": distance 0.3" in str(refused) and " (match below 0.60)." in str(refused)
    assert len(biden.samples) == 1


def test_does_a_new_photo_of_the_person_join_them_and_move_their_updated_time(obama, data_dir):
    before = obama.updated_at
    row = people.add_sample(obama, sample_of(data_dir / "unknown" / "obama3.jpg"), "upload")
    db.session.commit()
    assert row.source == "upload" and row.content_hash
    assert len(obama.samples) == 2 and obama.updated_at > before


def test_are_the_samples_of_one_batch_checked_against_each_other(ctx, data_dir):
    first = sample_of(data_dir / "known" / "obama.jpg")
    with pytest.raises(people.SampleRejected) as same:
        people.check_sample(None, first, [first], name="Barry")
    assert str(same.value) == people.ALREADY_ADDED
    near = sample_of(data_dir / "unknown" / "obama-480p.jpg")
    with pytest.raises(people.SampleRejected, match="almost the same as a sample already taken"):
        people.check_sample(None, near, [first], name="Barry")
    people.check_sample(None, sample_of(data_dir / "unknown" / "obama3.jpg"), [first])


def test_is_a_look_alike_of_a_new_person_a_question_not_a_refusal(ctx, data_dir):
    enroll(ctx, "Barack Obama", data_dir / "known" / "obama.jpg")
    sample = sample_of(data_dir / "unknown" / "obama3.jpg")
    people.check_sample(None, sample, name="Barry")  # not refused
    match = people.look_alike([sample.encoding])
    assert match.name == "Barack Obama"
    warning = people.look_alike_warning("Barry", match)
    assert warning.startswith("Barry looks like Barack Obama: distance 0.")
    assert warning.endswith(" (match below 0.60).")
    assert people.look_alike([sample_of(data_dir / "known" / "biden.jpg").encoding]) is None


def test_does_add_samples_leave_out_what_the_person_already_has(obama, data_dir):
    batch = [
        (sample_of(data_dir / "unknown" / "obama-480p.jpg"), "camera"),
        (sample_of(data_dir / "unknown" / "obama3.jpg"), "upload"),
        (sample_of(data_dir / "unknown" / "obama3.jpg"), "upload"),
    ]
    added, refused = people.add_samples(obama, batch)
    db.session.commit()
    assert len(added) == 1 and [r.reason for r in refused] == [
        people.NEAR_DUPLICATE_FACE,
        people.SAME_PHOTO,
    ]
    assert db.session.query(FaceSample).count() == 2


def test_is_the_owner_of_a_photo_found_by_its_hash(ctx, data_dir):
    photo = data_dir / "unknown" / "obama3.jpg"
    user = people.create_person(
        people.PersonFields(name="Barack Obama"), samples=[people.sample_row(sample_of(photo), "t")]
    )
    db.session.commit()
    assert people.photo_owner(faces.photo_hash(photo.read_bytes())) == user
    assert people.photo_owner(faces.photo_hash(photo.read_bytes()), exclude=user.id) is None
    assert people.photo_owner(None) is None


def test_are_the_ids_of_deleted_people_samples_and_sightings_never_given_again(app, data_dir):
    """A person's, a sample's or a sighting's id names them outside (events, MQTT, links):
    after the newest is deleted, the next one gets a new id (SQLite reuses the largest id
    without AUTOINCREMENT)."""
    photo = data_dir / "known" / "obama.jpg"
    first = enroll(app, "Barack Obama", photo)
    with app.app_context():
        sample_id = db.session.scalars(db.select(FaceSample.id)).one()
        sighting = Sighting(camera="main", user_id=first, name="Barack Obama", frames=1)
        db.session.add(sighting)
        db.session.commit()
        sighting_id = sighting.id
        db.session.delete(db.session.get(User, first))
        db.session.commit()
        assert db.session.get(Sighting, sighting_id) is None  # gone with the person
    second = enroll(app, "Barack Obama", photo)
    with app.app_context():
        again = Sighting(camera="main", user_id=second, name="Barack Obama", frames=1)
        db.session.add(again)
        db.session.commit()
        new_sample = db.session.scalars(db.select(FaceSample.id)).one()
        assert (second, new_sample, again.id) > (first, sample_id, sighting_id)
        assert second != first and new_sample != sample_id and again.id != sighting_id


def test_does_the_migration_give_existing_names_their_look_alike_key(empty_database_url):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from facerec import create_app, shutdown

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": empty_database_url}
    )
    try:
        with app.app_context():
            upgrade(directory="migrations", revision="0020")
            # Stored before names were normalised: full-width letters, keyed as typed.
            db.session.execute(
                text(
                    "INSERT INTO users (name, name_key, details, created_at, updated_at, "
                    "external_key) VALUES (:n, :k, '', :t, :t, 'a1b2c3')"
                ),
                {
                    "n": "\uff2f\uff42\uff41\uff4d\uff41",
                    "k": "\uff4f\uff42\uff41\uff4d\uff41",
                    "t": datetime(2026, 1, 1),
                },
            )
            db.session.commit()
            upgrade(directory="migrations")
            assert db.session.execute(text("SELECT name_key FROM users")).scalar() == "obama"
            with pytest.raises(people.DuplicateName):
                people.create_person(people.PersonFields(name="Obama"))
    finally:
        shutdown(app)
