"""Where the wizard may go and how it answers: the draft behind a request, progress, replies.

Shared by the steps (``routes.py``), sample intake (``intake.py``) and saving
(``saving.py``). Every reply exists twice: JSON for the page's scripts, a flash message and
a redirect for a plain form.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, session, url_for

from ..models import EnrollDraftSample
from ..web import wants_json
from . import drafts

EXPIRED = "The enrollment in progress expired, so it was discarded. Please start again."
FULL = "All the samples needed are taken. Remove one to replace it, or continue to the review."
GONE = "This enrollment was cancelled or has expired meanwhile. Please start again."


def draft_or_redirect(need_samples: bool = False):
    """(draft, None) when the wizard may be at this step, else (None, a redirect or JSON error)."""
    token = session.get(drafts.SESSION_KEY)
    draft, expired = drafts.current()
    if draft is None and (saved := drafts.saved_as(token)) is not None:
        return None, already_saved(saved)
    if draft is None:
        message = EXPIRED if expired else "Start by entering the person's name."
        if wants_json():
            return None, (jsonify(error=message), 409)
        flash(message, "warning" if expired else "info")
        return None, redirect(url_for(".index"), 303)
    if need_samples and len(draft.samples) < drafts.minimum():
        missing = drafts.minimum() - len(draft.samples)
        flash(
            f"{missing} more sample{'s' if missing != 1 else ''} needed before the review.", "info"
        )
        return None, redirect(url_for(".samples"), 303)
    return draft, None


def sample_json(row: EnrollDraftSample) -> dict:
    return {
        "id": row.id,
        "label": row.label,
        "source": row.source,
        "thumbnail_url": url_for(".draft_thumbnail", sample_id=row.id),
        "remove_url": url_for(".remove_sample", sample_id=row.id),
    }


def progress(draft) -> dict:
    """Samples taken, the fewest the review accepts, the most the wizard takes.

    ``required`` is ``maximum`` under its first name, for scripts written before
    FACEREC_SNAPSHOTS_MIN existed.
    """
    count, most = len(draft.samples), drafts.maximum()
    return {"count": count, "minimum": drafts.minimum(), "maximum": most, "required": most}


def answer(draft, accepted: bool, message: str, status: int, row=None):
    """The result of one sample check: JSON for fetch(), a flash and a redirect for a form."""
    if wants_json():
        body = {"accepted": accepted, "message": message, **progress(draft)}
        if row is not None:
            body["sample"] = sample_json(row)
        return jsonify(body), status
    flash(message, "success" if accepted else "error")
    return redirect(url_for(".samples"), 303)


def gone():
    if wants_json():
        return jsonify(error=GONE), 409
    flash(GONE, "warning")
    return redirect(url_for(".index"), 303)


def already_saved(user_id: int):
    message = "This enrollment was already saved."
    if wants_json():
        return jsonify(error=message, user_id=user_id), 409
    flash(message, "info")
    return redirect(url_for(".done", user_id=user_id), 303)
