"""Creating and changing enrolled people: the rules every path (wizard, admin, CLI, API) shares."""

from __future__ import annotations

import dataclasses
import functools
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask import has_app_context
from sqlalchemy import select

from . import consent, encodings, faces, gallery
from .config import current_settings
from .extensions import db
from .gallery import Match, distance_text
from .models import NAME_MAX, FaceSample, User, name_key, utcnow

DETAILS_MAX = 2000
DETAILS_WHITESPACE = "\t\n\r"  # the only control characters a textarea sends on purpose


class PersonError(ValueError):
    """A person's fields break a rule; the message says which.

    ``errors`` maps each field that breaks a rule to its sentence (forms put each under its
    field, the API names them in ``fields``).
    """

    def __init__(self, message: str, errors: Mapping[str, str] | None = None):
        super().__init__(message)
        self.errors = dict(errors or {})


class DuplicateName(PersonError):
    pass


class SampleRejected(ValueError):
    """The face cannot become a sample of this person; ``reason`` says which rule refused it."""

    def __init__(self, message: str, reason: str = "refused"):
        super().__init__(message)
        self.reason = reason


# SampleRejected.reason values
SAME_PHOTO = "same photo"
NEAR_DUPLICATE_FACE = "near-duplicate"
SOMEONE_ELSE = "someone else's face"

ALREADY_ADDED = "This photo has already been added. Choose a different photo."


# Two samples of one face closer than this add nothing (same photo, same pose). Different
# photos of one person are usually 0.3-0.5 apart.
NEAR_DUPLICATE = 0.15


def refused_character(ch: str, allowed: str = "") -> bool:
    """A character no name or details may hold (``allowed`` excepted): control characters.

    NUL and friends: PostgreSQL refuses NUL outright (a 500), OpenCV cuts the label drawn on
    the stream at it. The API's OpenAPI patterns are made from this rule (``text_pattern``).
    """
    return unicodedata.category(ch) == "Cc" and ch not in allowed


def _has_control(text: str, allowed: str = "") -> bool:
    return any(refused_character(ch, allowed) for ch in text)


@functools.cache
def text_pattern(allowed: str = "", required: bool = False, visible: bool = False) -> str:
    """A regular expression (JSON Schema ``pattern``) of the texts ``refused_character``
    allows, so API clients and schemathesis know the rule; with ``required``, at least one
    character must not be white space (a name of spaces is empty once trimmed); with
    ``visible``, invisible and text-direction characters are refused too (``is_invisible``:
    a name)."""
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        # Invisible characters beyond U+FFFF (tags, a few symbols) stay out of the pattern: a
        # JSON Schema pattern is an ECMA-262 one, where they are two halves of a surrogate
        # pair and cannot go in a character class. clean_name refuses them all the same.
        refused = code <= sys.maxunicode and (
            refused_character(chr(code), allowed)
            or (visible and code < 0x10000 and is_invisible(chr(code)))
        )
        if refused and start is None:
            start = code
        elif not refused and start is not None:
            ranges.append((start, code - 1))
            start = None
    refused = "".join(
        "".join(map(_escape, range(low, high + 1)))
        if high - low < 2
        else f"{_escape(low)}-{_escape(high)}"
        for low, high in ranges
    )
    if not required:
        return rf"^[^{refused}]*$"
    return rf"^[^{refused}]*[^\s{refused}][^{refused}]*$"


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else chr(code)


# Characters that show nothing, or change how what follows is shown: Unicode's format
# characters (category Cf: zero-width space and joiners, word joiner, soft hyphen, byte order
# mark, the bidirectional embeddings, overrides and isolates, tags...), and the few letters
# and marks that render as nothing (Hangul fillers, the combining grapheme joiner, variation
# selectors, the blank Braille pattern). "obama\u200b" looks exactly like "obama".
INVISIBLE_EXTRA = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0x1D159, 0x1D159),
    (0xE0100, 0xE01EF),
)
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def is_invisible(ch: str) -> bool:
    """A character a reader cannot see in a name (see INVISIBLE_EXTRA)."""
    code = ord(ch)
    return unicodedata.category(ch) == "Cf" or any(lo <= code <= hi for lo, hi in INVISIBLE_EXTRA)


def clean_name(raw: str | None) -> str:
    """A name as it is stored: NFKC-normalised, trimmed, inner white space folded.

    Raises PersonError for an empty or too long name, control characters, and characters
    that cannot be seen or that reorder the text around them (a name must look like what it
    is, so that two people never look like one).
    """
    name = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if not name:
        raise PersonError("A name is required.")
    if len(name) > NAME_MAX or len(name_key(name)) > NAME_MAX:
        raise PersonError(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).")
    if _has_control(name):
        raise PersonError("The name must not contain control characters.")
    try:
        # A file name that is not UTF-8 (the importer) arrives with lone surrogates; the
        # database driver would raise UnicodeEncodeError, which no caller expects.
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PersonError("The name is not valid Unicode text.") from None
    hidden = next((ch for ch in name if is_invisible(ch)), None)
    if hidden in BIDI_CONTROLS:
        raise PersonError(
            f"The name contains a text-direction control character (U+{ord(hidden):04X}), "
            "which changes how the name is shown; type the name without it."
        )
    if hidden is not None:
        raise PersonError(
            f"The name contains an invisible character (U+{ord(hidden):04X}), which would "
            "make it look like another name; type the name without it."
        )
    return name


def clean_details(raw: str | None) -> str:
    details = (raw or "").strip()
    if len(details) > DETAILS_MAX:
        raise PersonError(f"The details are too long (at most {DETAILS_MAX} characters).")
    if _has_control(details, allowed=DETAILS_WHITESPACE):
        raise PersonError("The details must not contain control characters.")
    return details


# White space a name's folding turns into one space before its characters are checked.
NAME_FOLDED = "".join(ch for ch in map(chr, range(0x100)) if ch.isspace())


def _field(default, **about):
    """A field of PersonFields and what the forms and the API say of it: ``rule`` cleans it
    (raising PersonError), ``label``/``help`` are the form's, ``api`` and ``example`` the
    OpenAPI document's, ``max_length`` stops absurd inputs early, ``pattern`` (a function
    giving a regular expression) tells API clients the rule.

    ``choices`` ({value: words}) makes it a choice (a select in forms, an enum in the API),
    ``input="date"`` a date field; ``group=("consent", "basis")`` puts it in the API's
    ``consent`` object as ``basis``; ``column=(to_column, from_column)`` converts the cleaned
    text to and from its column (a date)."""
    return dataclasses.field(default=default, metadata=about)


def _consent_rule(rule):
    def clean(raw):
        try:
            return rule(raw)
        except consent.ConsentError as exc:
            raise PersonError(str(exc)) from None

    return clean


def clean_consent_note(raw: str | None) -> str:
    note = (raw or "").strip()
    if len(note) > consent.NOTE_MAX:
        raise PersonError(f"The consent note is too long (at most {consent.NOTE_MAX} characters).")
    if _has_control(note, allowed=DETAILS_WHITESPACE):
        raise PersonError("The consent note must not contain control characters.")
    return note


@dataclass(frozen=True)
class PersonFields:
    """Who a person is, besides their faces: the one value the wizard, the person page, the
    API, the unknowns page, the importer and the CLI build, and ``create_person`` /
    ``update_person`` take.

    Each field is a column of ``models.User`` of the same name, with its rule and its words
    in ``_field``. A new field: a column (and its migration), an attribute here, and the
    templates that show it; the forms (``person_fields.PersonFieldsForm``), the API's schemas,
    the wizard's draft and the services follow from this class.
    """

    name: str = _field(
        "",
        rule=clean_name,
        required=True,
        label="Name",
        max_length=NAME_MAX,
        api=(
            f"Trimmed, inner white space folded, NFKC-normalised; 1 to {NAME_MAX} characters "
            "without control, invisible or text-direction characters; unique without regard "
            "to case and character forms."
        ),
        example="Ada Lovelace",
        pattern=lambda: text_pattern(NAME_FOLDED, required=True, visible=True),
    )
    details: str = _field(
        "",
        rule=clean_details,
        label="Details (optional)",
        help="Role, team, address, notes: anything that helps the operators.",
        multiline=True,
        max_length=DETAILS_MAX,
        api=(
            f"Free text shown to operators, at most {DETAILS_MAX:,} characters; line breaks "
            "and tabs are the only control characters allowed."
        ),
        example="Visitor badge 12",
        pattern=lambda: text_pattern(DETAILS_WHITESPACE),
    )
    # The consent record (facerec.consent); when and by whom it was recorded are not typed:
    # apply() fills them in whenever one of these changes.
    consent_basis: str = _field(
        "",
        rule=_consent_rule(consent.clean_basis),
        label="Basis for holding their face",
        help="Why facerec may hold this person's face. Required when FACEREC_REQUIRE_CONSENT "
        "is on.",
        choices=consent.BASES,
        none_text=consent.NONE_TEXT,
        max_length=20,
        group=("consent", "basis"),
        required_in_group=True,
        api="consent (they agreed), employment (needed for their work) or other (say which in "
        "the note).",
        example="consent",
        pattern=lambda: "^(" + "|".join(consent.BASES) + ")$",
    )
    consent_note: str = _field(
        "",
        rule=clean_consent_note,
        label="Consent note (optional)",
        help="Where the consent is kept, what was agreed, or the basis when it is “other”.",
        multiline=True,
        max_length=consent.NOTE_MAX,
        group=("consent", "note"),
        api=f"Free text, at most {consent.NOTE_MAX:,} characters: with “other”, say which basis.",
        example="Signed form in the visitors' folder",
        pattern=lambda: text_pattern(DETAILS_WHITESPACE),
    )
    consent_expires: str = _field(
        "",
        rule=_consent_rule(consent.clean_expiry),
        label="Review on (optional)",
        help="From this date the person is flagged for review on the People page.",
        input="date",
        max_length=10,
        group=("consent", "expires_on"),
        api="From this date (YYYY-MM-DD) the person is flagged for review "
        "(`consent.review_due`); null: never.",
        example="2027-06-30",
        pattern=lambda: r"^\d{4}-\d{2}-\d{2}$",
        column=(consent.as_date, consent.clean_expiry),
    )

    def clean(self, require_consent: bool | None = None) -> PersonFields:
        """The fields trimmed and checked; PersonError names every field that breaks a rule.

        ``require_consent``: a basis must be given (FACEREC_REQUIRE_CONSENT when None)."""
        cleaned, errors = {}, {}
        for field in dataclasses.fields(self):
            try:
                cleaned[field.name] = field.metadata["rule"](getattr(self, field.name))
            except PersonError as exc:
                errors[field.name] = str(exc)
        if require_consent is None:
            require_consent = has_app_context() and current_settings().require_consent
        if not errors.keys() & {"consent_basis", "consent_note", "consent_expires"}:
            errors.update(
                consent.check(
                    cleaned["consent_basis"],
                    cleaned["consent_note"],
                    cleaned["consent_expires"],
                    require_consent,
                )
            )
        if errors:
            raise PersonError(" ".join(errors.values()), errors)
        return PersonFields(**cleaned)

    def consent_fields(self) -> tuple[str, str, str]:
        return (self.consent_basis, self.consent_note, self.consent_expires)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def of(cls, user: User) -> PersonFields:
        """A stored person's fields."""
        values = {}
        for field in dataclasses.fields(cls):
            value = getattr(user, field.name)
            convert = field.metadata.get("column")
            values[field.name] = convert[1](value) if convert else (value or "")
        return cls(**values)

    @classmethod
    def from_dict(cls, data: Mapping) -> PersonFields:
        """The fields found in ``data`` (a form, a JSON body, a draft); the others empty."""
        return cls(**{name: data[name] for name in cls.names() if data.get(name) is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def changed(self, **changes) -> PersonFields:
        """These fields with some replaced (an API PATCH)."""
        return dataclasses.replace(self, **changes)

    def apply(self, user: User):
        """Write the (cleaned) fields onto a person's row. A consent record that changes (or
        is new) is stamped with the time and who recorded it (the account, the token or the
        command line); one that is cleared loses both."""
        before = PersonFields.of(user).consent_fields() if user.id is not None else ("", "", "")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            convert = field.metadata.get("column")
            setattr(user, field.name, convert[0](value) if convert else value)
        if self.consent_fields() == before and user.id is not None:
            return
        if self.consent_basis:
            from . import audit

            user.consent_recorded_at = utcnow()
            user.consent_recorded_by = audit.actor_name()[: consent.RECORDED_BY_MAX]
        else:
            user.consent_recorded_at = user.consent_recorded_by = None


def api_field(name: str) -> str:
    """The name a PersonFields field has in the API's JSON (``consent.basis``)."""
    group = PersonFields.__dataclass_fields__[name].metadata.get("group")
    return ".".join(group) if group else name


def everyone() -> list[User]:
    """Every enrolled person in name order (the "This is…" pickers)."""
    return db.session.scalars(select(User).order_by(User.name_key)).all()


@functools.cache
def _look_alike_groups() -> dict[str, str]:
    """Each character of Unicode's table of confusable characters (UTS #39, as the
    confusable_homoglyphs package ships it) mapped to one member of its group of look-alikes,
    the lowest code point: Cyrillic U+043E and Greek U+03BF to Latin "o". Groups are
    joined through every pair the table lists (one character for one; a character that looks
    like two, "m" and "rn", is left out: it is rare in names and would refuse real ones)."""
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def root(ch: str) -> str:
        while (up := parent.get(ch, ch)) != ch:
            parent[ch] = parent.get(up, up)
            ch = up
        return ch

    for ch, entries in confusables_data.items():
        if len(ch) != 1:
            continue
        for entry in entries:
            if len(entry["c"]) == 1:
                first, second = root(ch), root(entry["c"])
                if first != second:
                    parent[max(first, second)] = min(first, second)
    return {ch: root(ch) for ch in list(parent)}


def look_alike_keys(name: str) -> tuple[str, str]:
    """Two forms of ``name_key`` with every character replaced by its look-alike group's
    (``_look_alike_groups``): of the case-folded name, and of the name as written (a capital
    Cyrillic "B" looks like a Latin one, its small letter does not). Two names look the same
    when either form is the same: "Obama" with a Cyrillic O (U+041E), or in capitals of
    Cyrillic and Greek letters, shares one with "Obama"."""
    groups = _look_alike_groups()

    def mapped(text: str) -> str:
        return "".join(groups.get(ch, ch) for ch in text)

    return name_key(mapped(name_key(name))), name_key(mapped(unicodedata.normalize("NFKC", name)))


def find_by_name(name: str) -> User | None:
    """The person with this name, whatever its case and spacing."""
    return db.session.execute(select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()


def check_name_free(name: str, exclude_id: int | None = None):
    """Refuse a name already taken, or one that only looks different: case, width,
    compatibility forms such as full-width letters (``models.name_key``), or letters of
    another script that look the same (``look_alike_keys``: a Cyrillic O for a Latin one)."""
    existing = find_by_name(name)
    if existing is not None and existing.id != exclude_id:
        raise DuplicateName(f"A person named “{existing.name}” already exists.")
    # Every name read (a few hundred people at most): the look-alike key is not stored, so
    # that an update of Unicode's table never needs the names keyed again.
    keys = look_alike_keys(name)
    for other_id, other in db.session.execute(select(User.id, User.name)):
        if other_id != exclude_id and any(map(str.__eq__, keys, look_alike_keys(other))):
            raise DuplicateName(
                f"The name “{name}” looks the same as “{other}”, who is already enrolled "
                "(letters of another script that look alike); type the name in plain letters."
            )


def as_sample(row) -> faces.Sample:
    """A stored sample row (a person's or a wizard draft's) as the sample it was made from."""
    return faces.Sample(row.vector.copy(), row.thumbnail, row.content_hash)


def sample_row(sample: faces.Sample, source: str) -> FaceSample:
    """A stored sample made from a checked face (the one conversion, at the edge)."""
    row = FaceSample(thumbnail=sample.thumbnail, source=source, content_hash=sample.content_hash)
    row.vector = sample.encoding
    return row


def create_person(fields: PersonFields, samples: Iterable[FaceSample] = ()) -> User:
    """Add a person with their samples to the session (the caller commits: one transaction)."""
    fields = fields.clean()
    check_name_free(fields.name)
    user = User()
    fields.apply(user)
    user.samples.extend(samples)
    db.session.add(user)
    return user


def update_person(user: User, fields: PersonFields) -> User:
    fields = fields.clean()
    check_name_free(fields.name, exclude_id=user.id)
    fields.apply(user)
    return user


# ---- may this face become a sample of this person? ------------------------------------------


def check_sample(
    person: User | None,
    sample: faces.Sample,
    taken: Sequence[faces.Sample] = (),
    name: str | None = None,
):
    """May ``sample`` become a sample of ``person``? Raise SampleRejected saying why not.

    The one rule set for every way a face joins a person: the wizard (each snapshot or
    photo, and its "Add to"), the person page, the API, ``facerec users import`` and enrolling
    an unknown group. ``person`` is the enrolled person, or None for someone not saved yet
    (``name`` then names them in messages); ``taken`` are the samples already accepted in the
    same batch (the wizard's draft, the other photos of one import or request).

    Refused, in this order:
    - the same photo (same SHA-256, ``faces.photo_hash``) as one already taken or stored;
    - a near-duplicate: closer than NEAR_DUPLICATE to one of them (it adds no new view);
    - someone else's face: for an enrolled person, a face nearer to another enrolled person
      (within the tolerance) than to any of their own samples.
    A look-alike of a person *not yet saved* is not refused here: it is a question for the
    operator (see ``look_alike()``), asked once for all the samples.
    """
    name = person.name if person is not None else name or "this person"
    stored = [as_sample(s) for s in person.samples] if person is not None else []
    digest = sample.content_hash
    if digest and any(s.content_hash == digest for s in taken):
        raise SampleRejected(ALREADY_ADDED, SAME_PHOTO)
    if digest and any(s.content_hash == digest for s in stored):
        raise SampleRejected(f"This photo is already one of {name}'s samples.", SAME_PHOTO)
    near = _nearest(sample.encoding, taken)
    if near is not None and near < NEAR_DUPLICATE:
        raise SampleRejected(
            f"This is almost the same as a sample already taken (distance {near:.2f}). "
            "Turn the head a little, change the expression or use a different photo, so the "
            "samples show the face in different ways.",
            NEAR_DUPLICATE_FACE,
        )
    own = _nearest(sample.encoding, stored)
    if own is not None and own < NEAR_DUPLICATE:
        raise SampleRejected(
            f"This face is almost identical to a sample {name} already has "
            f"(distance {own:.2f}). Use a different photo or pose.",
            NEAR_DUPLICATE_FACE,
        )
    if person is None:
        return
    other = look_alike([sample.encoding], exclude=person.id)
    if other is not None and (own is None or other.distance < own):
        raise SampleRejected(
            f"This face looks like {other.name}, who is already enrolled, more than like "
            f"{name}: distance {distance_words(other.distance)}. Check that the picture shows "
            f"{name}.",
            SOMEONE_ELSE,
        )


def _nearest(encoding, samples: Sequence[faces.Sample]) -> float | None:
    if not samples:
        return None
    return encodings.nearest([s.encoding for s in samples], encoding)


def add_sample(user: User, sample: faces.Sample, source: str) -> FaceSample:
    """check_sample(), then append the sample to ``user.samples`` (the caller commits)."""
    check_sample(user, sample)
    row = sample_row(sample, source)
    append_samples(user, [row])
    return row


def append_samples(user: User, rows: Iterable[FaceSample]):
    """Give ``user`` rows already checked by check_sample(); their "updated" time moves."""
    user.samples.extend(rows)
    user.updated_at = utcnow()


def add_samples(user: User, samples: Iterable[tuple[faces.Sample, str]]):
    """Add each (sample, source) that check_sample() allows; returns (added rows, refusals).

    What "Add to <person>" in the wizard and a re-import do: a photo the person already has,
    or a near-duplicate of one, is left out instead of stored twice.
    """
    added, refused = [], []
    for sample, source in samples:
        try:
            added.append(add_sample(user, sample, source))
        except SampleRejected as exc:
            refused.append(exc)
    return added, refused


def look_alike(vectors, exclude: int | None = None) -> Match | None:
    """The enrolled person these faces match within the tolerance (nearest first), or None.

    ``exclude`` leaves one person out (the person the faces are being added to).
    """
    if len(vectors) == 0:
        return None
    match = gallery.current().nearest_person(
        list(vectors), exclude={exclude} if exclude is not None else None
    )
    tolerance = current_settings().tolerance
    if match.user_id is not None and match.distance <= tolerance:
        return match
    return None


def look_alike_warning(name: str, match: Match) -> str:
    """The words used wherever a new person resembles someone enrolled (wizard, import)."""
    return f"{name} looks like {match.name}: distance {distance_words(match.distance)}."


def distance_words(distance: float) -> str:
    """A distance in the words of every page, judged by the configured tolerance."""
    return distance_text(distance, current_settings().tolerance)


def photo_owner(content_hash: str | None, exclude: int | None = None) -> User | None:
    """The enrolled person who already has this very photo as a sample, if anyone."""
    if not content_hash:
        return None
    query = select(User).join(FaceSample).where(FaceSample.content_hash == content_hash)
    if exclude is not None:
        query = query.where(User.id != exclude)
    return db.session.scalars(query.limit(1)).first()
