"""The wizard's state (facerec.enroll.drafts): one draft per browser session and account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import session
from flask_login import login_user, logout_user

from facerec import faces, people
from facerec.enroll import drafts
from facerec.extensions import db
from facerec.models import Account, EnrollDraft, EnrollDraftSample, utcnow
from tests.conftest import change_settings, create_account


@pytest.fixture
def request_ctx(app):
    """A request of a signed-in operator (the wizard's views run in one)."""
    account_id = create_account(app)
    with app.test_request_context("/enroll/"):
        login_user(db.session.get(Account, account_id))
        yield app


def sample_of(path) -> faces.Sample:
    return faces.sample_from_image(path)


def test_does_a_new_draft_belong_to_this_session_and_account(request_ctx):
    draft = drafts.start(people.PersonFields(name="Ada", details="notes"))
    db.session.commit()
    assert session[drafts.SESSION_KEY] == draft.id and len(draft.id) >= 40
    assert drafts.current() == (draft, False)
    assert draft.account_id is not None


def test_does_another_account_in_the_same_browser_start_afresh(request_ctx):
    drafts.start(people.PersonFields(name="Ada"))
    db.session.commit()
    other = db.session.get(Account, create_account(request_ctx, "someone-else"))
    logout_user()
    login_user(other)
    assert drafts.current() == (None, False)
    assert drafts.SESSION_KEY not in session


def test_is_an_expired_draft_discarded_and_said_to_have_expired(request_ctx):
    draft = drafts.start(people.PersonFields(name="Ada"))
    draft.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert drafts.current() == (None, True)
    assert db.session.query(EnrollDraft).count() == 0


def test_does_starting_a_draft_delete_every_expired_one_with_its_samples(request_ctx, data_dir):
    old = EnrollDraft(id="old", person={"name": "Old"}, expires_at=utcnow() - timedelta(hours=1))
    old.samples.append(
        EnrollDraftSample(encoding=b"\0" * 1024, thumbnail=b"jpeg", source="upload", label="x")
    )
    db.session.add(old)
    db.session.commit()
    drafts.start(people.PersonFields(name="Ada"))
    db.session.commit()
    assert [d.name for d in db.session.query(EnrollDraft)] == ["Ada"]
    assert db.session.query(EnrollDraftSample).count() == 0


def test_does_every_step_push_the_expiry_back(request_ctx):
    change_settings(request_ctx, enroll_ttl=60)
    draft = drafts.start(people.PersonFields(name="Ada"))
    draft.expires_at = utcnow() + timedelta(seconds=5)
    drafts.touch(draft)
    assert draft.expires_at > utcnow() + timedelta(seconds=55)


def test_are_repeated_and_near_duplicate_samples_refused_with_the_wizards_words(
    request_ctx, data_dir
):
    draft = drafts.start(people.PersonFields(name="Barack Obama"))
    row = drafts.add_sample(draft, sample_of(data_dir / "known" / "obama.jpg"), "upload", "a.jpg")
    db.session.commit()
    assert row.content_hash and drafts.stored_count(draft) == 1
    with pytest.raises(people.SampleRejected, match="already been added"):
        drafts.check_new_file(draft, row.content_hash)
    with pytest.raises(people.SampleRejected, match="almost the same as a sample already taken"):
        drafts.add_sample(draft, sample_of(data_dir / "unknown" / "obama-480p.jpg"), "camera", "")
    drafts.add_sample(draft, sample_of(data_dir / "unknown" / "obama3.jpg"), "upload", "b.jpg")
    db.session.commit()
    assert [s.label for s in draft.samples] == ["a.jpg", "b.jpg"]


def test_does_a_saved_draft_remember_the_person_it_became(request_ctx):
    drafts.remember_saved("token-1", 42)
    assert drafts.saved_as("token-1") == 42
    assert drafts.saved_as("token-2") is None and drafts.saved_as(None) is None


def test_does_discard_without_forget_keep_the_session_until_the_commit(request_ctx):
    draft = drafts.start(people.PersonFields(name="Ada"))
    db.session.commit()
    draft_id = draft.id
    drafts.discard(draft, forget=False)
    assert session[drafts.SESSION_KEY] == draft_id
    db.session.commit()
    drafts.forget_draft(draft_id)
    assert drafts.SESSION_KEY not in session
