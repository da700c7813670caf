"""Database tables. The only module that defines them."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    event,
    false,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

if TYPE_CHECKING:
    import numpy as np

ENCODING_SIZE = 128
NAME_MAX = 100


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def name_key(name: str) -> str:
    """The form under which a person's name must be unique: NFKC-normalised, case-folded
    (and normalised again, as case folding may undo it), white space folded. Names that only
    differ in case, width or compatibility forms ("Obama", "OBAMA", "obama" in full-width
    letters) share it."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def owned_rows(parent: str, order_by: str):
    """The rows that belong to this one (their ``parent`` relationship points back).

    They go with it: the database's ON DELETE CASCADE deletes them (passive_deletes, so the
    session does not load them first), and a row taken out of the list is deleted.
    """
    return relationship(
        back_populates=parent,
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=order_by,
    )


class EncodingMixin:
    """``vector``: the ``encoding`` column (float64[128] bytes) as a numpy array.

    numpy (and ``faces``, with OpenCV, below) is imported where it is used: every command
    line command imports the models, most of them never read a face (0.1 s to import).
    """

    @property
    def vector(self) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.encoding, dtype="<f8")

    @vector.setter
    def vector(self, value):
        import numpy as np

        array = np.asarray(value, dtype="<f8")
        if array.shape != (ENCODING_SIZE,):
            raise ValueError(f"a face encoding has {ENCODING_SIZE} values, got {array.shape}")
        self.encoding = array.tobytes()


# SQLite's AUTOINCREMENT: an id is never given again, even after the newest row is deleted
# (without it SQLite reuses the largest id). A person's, a sample's or a sighting's id names
# them outside (events, MQTT, links, an export); PostgreSQL's sequences never go back anyway.
NEVER_REUSED = {"sqlite_autoincrement": True}


def new_external_key() -> str:
    """A person's key for the outside world: 16 random hex digits (64 bits: no two people
    of any gallery will draw the same one; the unique index would refuse it anyway)."""
    return secrets.token_hex(8)


class User(db.Model):
    """An enrolled person (not a login account: see Account)."""

    __tablename__ = "users"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    name_key: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    # What systems outside facerec know this person by (MQTT topics, Home Assistant's
    # unique_id): random, stored, never changed and never given to anyone else, whatever
    # happens to names and ids. People from before it keep "person_<id>" (the id their
    # Home Assistant entity was made with).
    external_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_external_key)
    details: Mapped[str] = mapped_column(Text, default="")
    # The match threshold set by hand for this person; None: computed (facerec.thresholds).
    tolerance: Mapped[float | None] = mapped_column(Float)
    # The consent record (facerec.consent): on what basis their face is held ("" for none
    # recorded), a note, an optional review date, and when and by whom it was recorded.
    consent_basis: Mapped[str] = mapped_column(String(20), default="", server_default=text("''"))
    consent_note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    consent_expires: Mapped[date | None] = mapped_column(Date)
    consent_recorded_at: Mapped[datetime | None] = mapped_column(DateTime)
    consent_recorded_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    samples: Mapped[list[FaceSample]] = owned_rows("user", order_by="FaceSample.id")
    headroom: Mapped[PersonHeadroom | None] = relationship(
        foreign_keys="PersonHeadroom.user_id",
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
    )

    @property
    def consent(self) -> dict | None:
        """The consent record as the API gives it; None when no basis is recorded."""
        if not self.consent_basis:
            return None
        return {
            "basis": self.consent_basis,
            "recorded_at": self.consent_recorded_at,
            "recorded_by": self.consent_recorded_by,
            "note": self.consent_note or "",
            "expires_on": self.consent_expires,
            "review_due": self.consent_review_due,
        }

    @property
    def consent_review_due(self) -> bool:
        """The review date has come (the person is flagged until the record is renewed)."""
        return self.consent_expires is not None and self.consent_expires <= date.today()

    @validates("name")
    def _set_name_key(self, _key, value):
        self.name_key = name_key(value)
        return value

    def __repr__(self):
        return f"<User {self.id} {self.name!r}>"


class FaceSample(EncodingMixin, db.Model):
    """One face of a person: its 128-d encoding and a small JPEG thumbnail."""

    __tablename__ = "face_samples"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # float64[128], little-endian bytes (1024 bytes), not JSON text.
    encoding: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    # SHA-256 of the source file, so an import run twice adds nothing.
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(20), default="upload")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="samples")


ROLES = ("admin", "operator", "viewer")  # most to least; what each may do: auth/roles.py
ROLE_MAX = 20
CAMERA_LIST_MAX = 2000


def name_list(text: str | None) -> list[str]:
    """A comma-separated column (camera limits, token scopes) as a list; "" is []."""
    return [part for part in (text or "").split(",") if part]


class PersonHeadroom(db.Model):
    """How far a person's faces are from everyone else's: what their threshold is computed
    from (``facerec.thresholds``), worked out again by the unknowns thread whenever their
    samples or negatives (``signature``) or their nearest person changed."""

    __tablename__ = "person_headroom"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The largest distance from one of their samples to the nearest other one of theirs (how
    # far apart two photos of them are); None with one sample.
    own_spread: Mapped[float | None] = mapped_column(Float)
    # The nearest sample of someone else.
    nearest_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    nearest_distance: Mapped[float | None] = mapped_column(Float)
    # The nearest of their negatives ("this is not them").
    negative_distance: Mapped[float | None] = mapped_column(Float)
    # The nearest unknown face seen (a sighting nobody was named in), for the person page.
    stranger_distance: Mapped[float | None] = mapped_column(Float)
    stranger_sighting_id: Mapped[int | None] = mapped_column(
        ForeignKey("sightings.id", ondelete="SET NULL")
    )
    signature: Mapped[str] = mapped_column(String(80), default="")
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], back_populates="headroom")
    nearest: Mapped[User | None] = relationship(foreign_keys=[nearest_user_id])


class Account(UserMixin, db.Model):
    """Someone who may sign in to facerec, with a role and, optionally, a camera limit."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Part of every session cookie's user id: raising it ends every session signed in before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The least role by default: an account is given more on purpose (the first is an admin).
    role: Mapped[str] = mapped_column(String(ROLE_MAX), default="viewer", server_default="viewer")
    # Comma-separated camera names this account may see; empty: every camera.
    cameras: Mapped[str | None] = mapped_column(String(CAMERA_LIST_MAX), default="")
    # A disabled account cannot sign in, its sessions and its tokens are refused.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def camera_list(self) -> list[str]:
        return name_list(self.cameras)

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to sign in an inactive account."""
        return self.disabled_at is None

    def set_password(self, password: str):
        """A new password hash; every session signed in with the old password ends."""
        if self.password_hash is not None:
            self.end_sessions()
        self.password_hash = generate_password_hash(password)

    def end_sessions(self):
        """Sign out every session of this account (cookies carry the old generation)."""
        self.session_generation = (self.session_generation or 0) + 1

    def get_id(self) -> str:
        """What Flask-Login keeps in the session (and remember) cookie: ``id:generation``."""
        return f"{self.id}:{self.session_generation or 0}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Comma-separated scopes (auth/roles.py SCOPES); NULL: every scope its account's role has
    # (tokens made before scopes existed, and tokens made without --scopes).
    scopes: Mapped[str | None] = mapped_column(String(200))
    # Comma-separated camera names; empty: those its account may see.
    cameras: Mapped[str | None] = mapped_column(String(CAMERA_LIST_MAX), default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)

    account: Mapped[Account | None] = relationship()

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def scope_list(self) -> list[str] | None:
        return None if self.scopes is None else name_list(self.scopes)

    @property
    def camera_list(self) -> list[str]:
        return name_list(self.cameras)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or utcnow()) >= self.expires_at


class GalleryState(db.Model):
    """A single row whose version changes whenever people or samples change.

    Every process holding a gallery compares this number with the one it loaded.
    """

    __tablename__ = "gallery_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class GroupingState(db.Model):
    """A single row whose version changes whenever the members of unknown groups change.

    The grouping thread keeps every group's centroid in memory (``facerec.unknowns.placing``)
    and reloads only when this number moved on without it: someone assigned, merged, split
    or deleted sightings, retention pruned them, or another server placed one.
    """

    __tablename__ = "grouping_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class EnrollDraft(db.Model):
    """An enrollment wizard in progress: one per browser session, deleted on save or expiry.

    ``id`` is a random token kept in the signed session cookie, so a draft is reachable only
    from the browser session that started it.
    """

    __tablename__ = "enroll_drafts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # The person's fields as step 1 took them (people.PersonFields as a JSON object), so a
    # field added to a person needs no column here.
    person: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    samples: Mapped[list[EnrollDraftSample]] = owned_rows("draft", order_by="EnrollDraftSample.id")

    @property
    def name(self) -> str:
        return (self.person or {}).get("name", "")


class EnrollDraftSample(EncodingMixin, db.Model):
    """A face accepted by the wizard, not yet part of the gallery."""

    __tablename__ = "enroll_draft_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[str] = mapped_column(
        ForeignKey("enroll_drafts.id", ondelete="CASCADE"), index=True
    )
    encoding: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20), default="upload")
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    draft: Mapped[EnrollDraft] = relationship(back_populates="samples")


def iso(moment: datetime | None) -> str | None:
    """A naive UTC datetime as ISO 8601 with a Z (``2026-11-24T18:41:59Z``)."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


class UnknownGroup(db.Model):
    """Unknown sightings that look like one recurring visitor."""

    __tablename__ = "unknown_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Dismissed groups are hidden from the unknowns inbox; their sightings stay in the history.
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Enrolled as or assigned to this person (its sightings were relabelled and left the
    # group); kept so that the same request sent again adds nothing.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    # An operator merged or split it: automatic grouping still adds faces to it, but never
    # merges it with another group (facerec.grouping.Groups.keep_apart).
    kept_apart: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Its faces match this enrolled person now (someone was enrolled or given samples since
    # they were seen): "Looks like ..." on the unknowns page. Worked out by the unknowns thread.
    looks_like_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    looks_like_distance: Mapped[float | None] = mapped_column(Float)

    sightings: Mapped[list[Sighting]] = relationship(back_populates="group")


class Sighting(EncodingMixin, db.Model):
    """One track: a face continuously in view on one camera, with one identity by consensus.

    A person's sightings are deleted with the person (``ondelete=CASCADE``): the crop is their
    face, so erasing a person must erase it too.
    """

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(64), default="main", index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))  # the name at the time
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    distance: Mapped[float | None] = mapped_column(Float)  # best (smallest) distance seen
    # Someone said who this is ("This is ...", "This is not ...", an unknown group enrolled
    # or assigned): the distance is then the recognition's, not a match with this person.
    labelled_by_hand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The best face's encoding (float64[128] bytes) and a JPEG crop of it.
    encoding: Mapped[bytes | None] = mapped_column(LargeBinary)
    crop: Mapped[bytes | None] = mapped_column(LargeBinary)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("unknown_groups.id", ondelete="SET NULL"), index=True
    )
    # The best face's quality where the camera saw it (faces.Quality): its height in the
    # frame's pixels, sharpness, how far it was turned away. Null for sightings recorded
    # before these were measured.
    face_height: Mapped[int | None] = mapped_column(Integer)
    sharpness: Mapped[float | None] = mapped_column(Float)
    turn: Mapped[float | None] = mapped_column(Float)

    user: Mapped[User | None] = relationship()
    group: Mapped[UnknownGroup | None] = relationship(back_populates="sightings")

    __table_args__ = (
        # The unknown visitors' figures and best crops are read from this index alone
        # (facerec.unknowns.listing), without reading a row of 2 KB of encoding and crop.
        Index(
            "ix_sightings_unknown_members",
            "user_id",
            "group_id",
            "frames",
            "started_at",
            "face_height",
            "sharpness",
            "turn",
        ),
        NEVER_REUSED,
    )

    @property
    def quality(self):
        """The face's ``faces.Quality`` (None when it was not measured)."""
        from .faces import Quality

        if self.face_height is None or self.sharpness is None:
            return None
        return Quality(self.face_height, self.sharpness, self.turn)

    @quality.setter
    def quality(self, value):
        self.face_height = int(value.height)
        self.sharpness = float(value.sharpness)
        self.turn = None if value.turn is None else float(value.turn)

    @property
    def group_problems(self) -> list[str]:
        """Why the face is not good enough to join an unknown group (``faces.MEMBER_GATE``)."""
        from .faces import MEMBER_GATE

        quality = self.quality
        return MEMBER_GATE.problems(quality) if quality is not None else []

    @classmethod
    def passes(cls, gate):
        """SQL: the face passes ``gate`` (a ``faces.Gate``), or was never measured."""
        return or_(
            cls.face_height.is_(None),
            and_(
                cls.face_height >= gate.min_height,
                cls.sharpness >= gate.min_sharpness,
                or_(cls.turn.is_(None), cls.turn <= gate.max_turn),
            ),
        )

    @property
    def crop_url(self) -> str | None:
        """Where the API serves its crop (None without one)."""
        return f"/api/v1/sightings/{self.id}/crop.jpg" if self.crop else None


class NegativeSample(EncodingMixin, db.Model):
    """A face that was wrongly given a person's name: "this is not them"."""

    __tablename__ = "negative_samples"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    encoding: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    sighting_id: Mapped[int | None] = mapped_column(ForeignKey("sightings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


CAMERA_NAME_MAX = 64
CAMERA_SOURCE_MAX = 2000


class Camera(db.Model):
    """A camera the server watches: a webcam index, a video file or a stream URL.

    ``name`` is a slug (lower-case letters, digits, ``-`` and ``_``) used in URLs and written
    on sightings. ``detect_width`` and ``tolerance`` override FACEREC_DETECT_WIDTH and
    FACEREC_TOLERANCE for this camera when set. With no row at all, FACEREC_CAMERA defines one
    camera named ``main``.

    ``server`` is the FACEREC_SERVER of the server that owns the camera: several servers
    sharing one database each open only their own cameras (one server alone: all are "").

    ``transport`` is how an RTSP camera's video travels: ``tcp`` (inside the RTSP connection,
    the default) or ``udp``. ``snapshot_rate`` is how many pictures a second are asked of a
    snapshot camera (an http URL answering one JPEG per request); empty: FACEREC_SNAPSHOT_RATE.

    ``motion_gate``, ``motion_area`` (percent) and ``recheck_interval`` (seconds) override
    FACEREC_MOTION_GATE, FACEREC_MOTION_AREA and FACEREC_RECHECK_INTERVAL when set.
    """

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX), unique=True)
    source: Mapped[str] = mapped_column(String(CAMERA_SOURCE_MAX))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    detect_width: Mapped[int | None] = mapped_column(Integer)
    tolerance: Mapped[float | None] = mapped_column(Float)
    server: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX), default="", index=True)
    transport: Mapped[str] = mapped_column(String(8), default="tcp")
    snapshot_rate: Mapped[float | None] = mapped_column(Float)
    motion_gate: Mapped[bool | None] = mapped_column(Boolean)
    motion_area: Mapped[float | None] = mapped_column(Float)
    recheck_interval: Mapped[float | None] = mapped_column(Float)
    # The camera's detection sub-stream (same scene, smaller): faces are looked for in it,
    # encoded from ``source``'s frame and drawn on ``source``, the stream viewers see. Empty:
    # faces are looked for in ``source``.
    detect_source: Mapped[str | None] = mapped_column(String(CAMERA_SOURCE_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<Camera {self.id} {self.name!r}>"


EVENT_NAMES = ("sighting.started", "sighting.updated", "sighting.ended")
WEBHOOK_URL_MAX = 2000


class Webhook(db.Model):
    """A URL that receives every sighting event (or those in ``events``) as a JSON POST."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_MAX))
    # Signs each body (HMAC-SHA256). Stored as given: facerec needs it to sign.
    secret: Mapped[str | None] = mapped_column(String(200))
    # Comma-separated event names; empty means every event.
    events: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Each event with a face also carries a small JPEG of it, base64, as "thumbnail".
    thumbnail: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    deliveries: Mapped[list[WebhookDelivery]] = owned_rows(
        "webhook", order_by="WebhookDelivery.id.desc()"
    )

    @property
    def event_list(self) -> list[str]:
        return [name for name in (self.events or "").split(",") if name]

    def wants(self, event: str) -> bool:
        names = self.event_list
        return not names or event in names


class WebhookDelivery(db.Model):
    """One attempt to deliver an event to a webhook: what the receiver answered, or why not."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no HTTP answer
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    webhook: Mapped[Webhook] = relationship(back_populates="deliveries")

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


NOTIFY_URL_MAX = 2000
NOTIFY_WHO = ("anyone", "known", "unknown", "people")


class NotificationTarget(db.Model):
    """Somewhere people get a message with the face: an Apprise URL (ntfy, email, Telegram,
    ...) and the rule saying who, where and when is worth a message.

    ``url`` holds the service's credentials (stored as given: facerec needs them to send) and
    is only ever shown masked. ``who``: anyone, known (people enrolled), unknown (visitors
    nobody enrolled) or people (those in ``people`` with kind "only"); people with kind
    "except" never cause a message. ``cameras``: comma-separated names, empty for all.
    ``days``: seven 0/1 characters from Monday; ``start_minute``/``end_minute``: the hours
    (minutes after midnight, server time; end before start runs past midnight; None: all
    day). ``cooldown``: seconds between two messages about one person at one camera.
    """

    __tablename__ = "notification_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(NOTIFY_URL_MAX))
    who: Mapped[str] = mapped_column(String(10), default="anyone")
    cameras: Mapped[str] = mapped_column(String(1000), default="")
    days: Mapped[str] = mapped_column(String(7), default="1111111")
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    cooldown: Mapped[int] = mapped_column(Integer, default=600)
    attach: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    people: Mapped[list[NotificationPerson]] = owned_rows(
        "target", order_by="NotificationPerson.user_id"
    )
    deliveries: Mapped[list[NotificationDelivery]] = owned_rows(
        "target", order_by="NotificationDelivery.id.desc()"
    )

    @property
    def shown_url(self) -> str:
        """The URL with its secrets masked: the only form in which it is ever shown."""
        from .events.targets import masked

        return masked(self.url)


class NotificationPerson(db.Model):
    """A person a notification rule names: only them ("only") or never them ("except")."""

    __tablename__ = "notification_people"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(8), default="only")

    target: Mapped[NotificationTarget] = relationship(back_populates="people")
    user: Mapped[User] = relationship()


class NotificationDelivery(db.Model):
    """One attempt to send a message to a target. The person is a reference, not a name:
    erasing them erases these rows (``ondelete=CASCADE``)."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE"), index=True
    )
    sighting_id: Mapped[int | None] = mapped_column(Integer)  # kept after retention
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    camera: Mapped[str | None] = mapped_column(String(CAMERA_NAME_MAX))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    target: Mapped[NotificationTarget] = relationship(back_populates="deliveries")
    user: Mapped[User | None] = relationship()


AUDIT_ACTION_MAX = 60


class AuditEntry(db.Model):
    """One change (or sign-in) on record: who, when, from where, what, and on which object.

    Append-only: nothing in the product updates or deletes a row, except retention
    (FACEREC_AUDIT_RETENTION_DAYS). Who and the object are kept as text as they were at the
    time, with the ids beside them but no foreign keys: the record outlives what it names.
    Written through ``facerec.audit.record``.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    token_id: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_MAX), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    object_name: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="{}")  # a JSON object


class SignInFailure(db.Model):
    """A wrong password, counted under three keys (the address and the account together,
    the address, the account) by ``auth.throttle``: kept here so a restart forgets none."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch

    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)


class SignInAddress(db.Model):
    """An address an account signed in from, and when last (``auth.throttle``): while its
    account is under a distributed attack, only such addresses may try it."""

    __tablename__ = "sign_in_addresses"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)  # the username, folded
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class CameraLease(db.Model):
    """Which process runs a camera, until when (``camera.lease``): one at a time."""

    __tablename__ = "camera_leases"

    camera: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))  # host:pid:random of the process
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


class RateLimit(db.Model):
    """A rate limit's count in its current window (``ratelimits.DatabaseStorage``)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class WriteCheckRow(db.Model):
    """One row per server, rewritten by the readiness check to prove the database takes
    writes (``instance.WriteCheck``)."""

    __tablename__ = "write_checks"

    server: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


def gallery_version(connection) -> int:
    value = connection.execute(select(GalleryState.version).where(GalleryState.id == 1)).scalar()
    return value or 0


UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@event.listens_for(Session, "before_flush")
def _bump_gallery_version(session, _flush_context, _instances):
    """Any change to people or samples, from any code path, moves the gallery version on."""
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, User | FaceSample | NegativeSample) for obj in touched) or any(
        _moves_threshold(session, obj) for obj in touched if isinstance(obj, PersonHeadroom)
    ):
        bump_version(session, GalleryState)
        session.info[GALLERY_CHANGED] = True


GALLERY_CHANGED = "gallery_changed"  # session.info key, read after the commit


# What a person's threshold is computed from (the closest stranger seen is only shown).
THRESHOLD_INPUTS = ("own_spread", "nearest_distance", "negative_distance")


def _moves_threshold(session, room) -> bool:
    if room in session.new or room in session.deleted:
        return True
    state = inspect(room)
    return any(state.attrs[name].history.has_changes() for name in THRESHOLD_INPUTS)


def bump_version(session, table) -> int:
    """Move a one-row version table (GalleryState, GroupingState) on; returns the new value."""
    result = session.execute(
        update(table)
        .where(table.id == 1)
        .values(version=table.version + 1)
        .returning(table.version)
    ).first()
    if result is not None:
        return result[0]
    # The first change ever. Two servers sharing a database may both get here: with an
    # upsert the second waits for the first and then counts on, instead of failing.
    dialect = session.get_bind().dialect.name
    if dialect in UPSERT:
        stmt = UPSERT[dialect](table).values(id=1, version=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.id], set_={"version": table.version + 1}
        )
    else:
        stmt = insert(table).values(id=1, version=1)
    session.execute(stmt)
    return session.scalar(select(table.version).where(table.id == 1))


GROUPING_BUMPED = "grouping_version_bumped"  # session.info key: once per transaction is enough


def bump_grouping_version(session) -> int | None:
    """Tell every grouping thread that group members changed (once per transaction)."""
    if session.info.get(GROUPING_BUMPED):
        return None
    session.info[GROUPING_BUMPED] = True
    return bump_version(session, GroupingState)


def _moves_group_members(session) -> bool:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, UnknownGroup) and obj in session.deleted:
            return True
        if not isinstance(obj, Sighting):
            continue
        if obj in session.deleted:
            if obj.group_id is not None:
                return True
            continue
        state = inspect(obj)
        group = state.attrs.group_id.history
        if group.has_changes():
            return True
        # A member named (or no longer named) leaves (or rejoins) its group's faces.
        if obj.group_id is not None and state.attrs.user_id.history.has_changes():
            return True
    return False


@event.listens_for(Session, "before_flush")
def _bump_grouping_version(session, _flush_context, _instances):
    """Any change to which sightings make up an unknown group moves the grouping version on."""
    if _moves_group_members(session):
        bump_grouping_version(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_grouping_version_in_bulk(state):
    """A bulk UPDATE or DELETE of sightings or groups (retention, merges) counts as well, when
    it changed a row."""
    if not (state.is_update or state.is_delete) or state.session.info.get(GROUPING_BUMPED):
        return None
    tables = {mapper.local_table.name for mapper in state.all_mappers}
    if not tables & {Sighting.__tablename__, UnknownGroup.__tablename__}:
        return None
    result = state.invoke_statement()
    if result.rowcount:
        bump_grouping_version(state.session)
    return result


@event.listens_for(Session, "after_transaction_end")
def _forget_grouping_bump(session, transaction):
    if transaction.parent is None:
        session.info.pop(GROUPING_BUMPED, None)


__all__ = [
    "EVENT_NAMES",
    "ROLES",
    "Account",
    "ApiToken",
    "AuditEntry",
    "Camera",
    "CameraLease",
    "EnrollDraft",
    "EnrollDraftSample",
    "FaceSample",
    "GalleryState",
    "GroupingState",
    "NegativeSample",
    "NotificationDelivery",
    "NotificationPerson",
    "NotificationTarget",
    "PersonHeadroom",
    "RateLimit",
    "Sighting",
    "SignInAddress",
    "SignInFailure",
    "UnknownGroup",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WriteCheckRow",
    "bump_grouping_version",
    "gallery_version",
    "iso",
    "name_key",
    "name_list",
]
