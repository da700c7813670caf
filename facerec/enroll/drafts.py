"""Wizard state: one EnrollDraft row per browser session, found through a token in the session.

The token is random and lives only in the signed session cookie, so two browsers (or two
operators) never reach each other's draft. A draft also remembers the account that started
it: signing in as someone else in the same browser starts afresh. Every step pushes the
expiry back; expired drafts are deleted the next time any draft is started.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta

from flask import session
from flask_login import current_user
from sqlalchemy import delete, func, select

from .. import faces, people
from ..config import current_settings
from ..extensions import db
from ..models import EnrollDraft, EnrollDraftSample, utcnow
from ..people import PersonFields

SESSION_KEY = "enroll_draft"


def ttl() -> timedelta:
    """How long a draft lives after its last step (FACEREC_ENROLL_TTL)."""
    return timedelta(seconds=current_settings().enroll_ttl)


def maximum() -> int:
    """The most samples the wizard takes (FACEREC_SNAPSHOTS)."""
    return current_settings().snapshots


def minimum() -> int:
    """The fewest samples a person can be saved with (FACEREC_SNAPSHOTS_MIN, at most maximum)."""
    return min(maximum(), current_settings().snapshots_min)


def _account_id() -> int | None:
    if getattr(current_user, "is_authenticated", False):
        return current_user.id  # (get_id() is "id:generation", see Account.get_id)
    return None


def current() -> tuple[EnrollDraft | None, bool]:
    """This session's draft, or None; the flag says a draft existed but has expired."""
    token = session.get(SESSION_KEY)
    if not token:
        return None, False
    draft = db.session.get(EnrollDraft, token)
    if draft is None or draft.account_id != _account_id():
        session.pop(SESSION_KEY, None)
        return None, draft is None
    if draft.expires_at <= utcnow():
        discard(draft)
        db.session.commit()
        return None, True
    return draft, False


def start(person: PersonFields) -> EnrollDraft:
    """Create this session's draft for the person's (cleaned) fields (the caller commits)."""
    purge_expired()
    draft = EnrollDraft(
        id=secrets.token_urlsafe(32),
        account_id=_account_id(),
        person=person.to_dict(),
        expires_at=utcnow() + ttl(),
    )
    db.session.add(draft)
    session[SESSION_KEY] = draft.id
    return draft


def person(draft: EnrollDraft) -> PersonFields:
    """The person's fields the draft was given in step 1."""
    return PersonFields.from_dict(draft.person or {})


def set_person(draft: EnrollDraft, fields: PersonFields):
    draft.person = fields.to_dict()
    touch(draft)


def touch(draft: EnrollDraft):
    draft.expires_at = utcnow() + ttl()


def discard(draft: EnrollDraft, forget: bool = True):
    """Delete the draft and its samples (the caller commits) and forget it in the session.

    With ``forget=False`` the session keeps the token until the caller calls ``forget()``
    after a successful commit, so a failed save leaves the wizard where it was.
    """
    db.session.delete(draft)
    if forget:
        forget_draft(draft.id)


def forget_draft(draft_id: str):
    if session.get(SESSION_KEY) == draft_id:
        session.pop(SESSION_KEY, None)


# Drafts saved in the last few minutes, by token: a Save clicked twice (or resent by the
# browser) finds its draft gone and is shown the person instead of "expired". In memory:
# the single gunicorn worker sees every request; a restart forgets it, which only costs
# the friendlier message.
SAVED_MEMORY_S = 600
_saved: dict[str, tuple[float, int]] = {}
_saved_lock = threading.Lock()


def remember_saved(draft_id: str, user_id: int):
    now = time.monotonic()
    with _saved_lock:
        for token, (when, _uid) in list(_saved.items()):
            if now - when > SAVED_MEMORY_S:
                del _saved[token]
        _saved[draft_id] = (now, user_id)


def saved_as(draft_id: str | None) -> int | None:
    """The person a recently saved draft became, or None."""
    with _saved_lock:
        entry = _saved.get(draft_id or "")
    if entry is None or time.monotonic() - entry[0] > SAVED_MEMORY_S:
        return None
    return entry[1]


def purge_expired() -> int:
    """Delete every expired draft (drafts are not gallery rows: a bulk delete is fine here)."""
    expired = select(EnrollDraft.id).where(EnrollDraft.expires_at <= utcnow())
    db.session.execute(delete(EnrollDraftSample).where(EnrollDraftSample.draft_id.in_(expired)))
    result = db.session.execute(delete(EnrollDraft).where(EnrollDraft.expires_at <= utcnow()))
    return result.rowcount


def stored_count(draft: EnrollDraft) -> int:
    """Samples of the draft in the database (this transaction's included)."""
    query = select(func.count()).where(EnrollDraftSample.draft_id == draft.id)
    return db.session.scalar(query)


def check_new_file(draft: EnrollDraft, content_hash: str | None):
    """Raise people.SampleRejected when this very file was added before (no need to encode it)."""
    if content_hash and any(s.content_hash == content_hash for s in draft.samples):
        raise people.SampleRejected(people.ALREADY_ADDED, people.SAME_PHOTO)


def add_sample(draft: EnrollDraft, sample: faces.Sample, source: str, label: str):
    """Add ``sample`` to the draft if ``people.check_sample`` allows it (the caller commits)."""
    taken = [people.as_sample(s) for s in draft.samples]
    people.check_sample(None, sample, taken, name=draft.name)
    row = EnrollDraftSample(
        thumbnail=sample.thumbnail,
        source=source,
        label=label[:255],
        content_hash=sample.content_hash,
    )
    row.vector = sample.encoding
    draft.samples.append(row)
    touch(draft)
    return row
