"""The consent record of an enrolled person: on what basis facerec holds their face.

A face is special-category data (GDPR art. 9, Illinois BIPA): whoever runs facerec must be
able to say, per person, why it holds their face. The record is three fields a person types
(``people.PersonFields``: the basis, a note, an optional review date) and two the server
fills in whenever one of those changes (when, and who: the signed-in account, the API token
or the command line). ``FACEREC_REQUIRE_CONSENT=1`` refuses to save a person without a basis.
"""

from __future__ import annotations

from datetime import date, datetime

# The bases a record may name, with their words for the forms, the docs and the CLI help.
BASES = {
    "consent": "Consent: they agreed (e.g. a signed form)",
    "employment": "Employment: needed for their work (e.g. site access)",
    "other": "Other: say which in the note",
}
NONE_TEXT = "Not recorded"
NOTE_MAX = 1000
DATE_FORMAT = "YYYY-MM-DD"
RECORDED_BY_MAX = 200

REQUIRED = (
    "A basis for holding this person's face is required (FACEREC_REQUIRE_CONSENT): choose "
    "consent, employment or other."
)


class ConsentError(ValueError):
    """A consent field breaks a rule (``people.PersonError`` carries it to the field)."""


def clean_basis(raw) -> str:
    basis = (raw or "").strip().lower()
    if basis and basis not in BASES:
        raise ConsentError(f"The basis must be one of {', '.join(BASES)} (or none).")
    return basis


def clean_expiry(raw) -> str:
    """A review date as ``YYYY-MM-DD`` ("" for none); a ``date`` is taken as it is."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        return raw.isoformat()
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConsentError(
            f"The review date must be a date written {DATE_FORMAT}, such as 2027-06-30."
        ) from None


def as_date(text: str) -> date | None:
    """The stored form of a cleaned review date."""
    return date.fromisoformat(text) if text else None


def check(basis: str, note: str, expires: str, required: bool) -> dict[str, str]:
    """The rule between the fields (each already cleaned): {field: sentence}. A note or a
    review date without a basis is kept, but there is no record until a basis is chosen (the
    pages say "Not recorded"); the API's consent object cannot be sent without a basis."""
    if not basis and required:
        return {"consent_basis": REQUIRED}
    return {}


def review_due(expires: date | None, today: date | None = None) -> bool:
    """The review date has come: the person is flagged until someone records the basis again."""
    return expires is not None and expires <= (today or date.today())
