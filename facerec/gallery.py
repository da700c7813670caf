"""The enrolled encodings as one numpy matrix, and the nearest-sample match against it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .encodings import EncodingMatrix, as_rows
from .models import (
    ENCODING_SIZE,
    FaceSample,
    NegativeSample,
    PersonHeadroom,
    User,
    gallery_version,
)
from .thresholds import Threshold

log = logging.getLogger(__name__)


def distance_text(distance: float, tolerance: float, *, by_hand: bool = False) -> str:
    """A distance as people read it everywhere: "0.41 (match below 0.60)" or
    "0.73 (no match: above 0.60)"; "0.73 (labelled by hand)" when a person said who it is.

    Pages use the ``distance`` template filter (facerec.web), which passes the configured
    FACEREC_TOLERANCE; messages built in Python (people, importer, CSV) call this directly;
    static/js/facerec.js writes the same words for the live page.
    """
    return f"{distance:.2f} ({distance_verdict(distance, tolerance, by_hand=by_hand)})"


def distance_verdict(distance: float, tolerance: float, *, by_hand: bool = False) -> str:
    """The words in brackets of ``distance_text``: the CSV's "match" column."""
    if by_hand:
        return "labelled by hand"
    if distance <= tolerance:
        return f"match below {tolerance:.2f}"
    return f"no match: above {tolerance:.2f}"


@dataclass(frozen=True)
class Match:
    user_id: int | None
    name: str | None
    distance: float | None

    @property
    def known(self) -> bool:
        return self.user_id is not None


Box = tuple[float, float, float, float]  # top, right, bottom, left, in picture pixels


@dataclass(frozen=True)
class RecognisedFace:
    """A face in a picture and who it is: the one type from the recognition worker through
    the tracks, the drawing and the status to the API.

    ``encoding``, ``crop`` (a small JPEG of the face) and ``quality`` (``faces.Quality``)
    travel with it for the sightings; they are not part of its JSON. A camera's worker may
    leave a face it was told is already settled unencoded: it is then ``identified=False``,
    a place and no one (its track keeps its name).
    """

    box: Box
    user_id: int | None
    name: str | None
    distance: float | None
    encoding: np.ndarray | None = field(default=None, repr=False, compare=False)
    crop: bytes | None = field(default=None, repr=False, compare=False)
    quality: object | None = field(default=None, repr=False, compare=False)  # faces.Quality
    identified: bool = field(default=True, compare=False)

    @classmethod
    def of(cls, box, match: Match, encoding=None, crop=None, quality=None) -> RecognisedFace:
        return cls(tuple(box), match.user_id, match.name, match.distance, encoding, crop, quality)

    @classmethod
    def located(cls, box) -> RecognisedFace:
        """A face found where a settled track is, and not encoded: only where it is."""
        return cls(tuple(box), None, None, None, identified=False)

    @property
    def known(self) -> bool:
        return self.user_id is not None

    @property
    def height(self) -> float:
        return max(0.0, self.box[2] - self.box[0])

    def moved(self, box: Box) -> RecognisedFace:
        return replace(self, box=tuple(box))


# Rows read from the database at a time when the gallery loads: only one chunk of rows is
# ever held as Python objects (a server-side cursor on PostgreSQL), so loading N encodings
# needs about 2.5 times the gallery's own memory, not 5 to 6 times (bench/gallery_database.py).
LOAD_CHUNK = 5_000


def _read_encodings(connection, statement) -> tuple[np.ndarray, np.ndarray]:
    """(float32 matrix, user ids) from a query of (user_id, float64 encoding bytes)."""
    matrices, user_ids = [], []
    result = connection.execute(statement, execution_options={"yield_per": LOAD_CHUNK})
    for rows in result.partitions():
        buf = b"".join(row.encoding for row in rows)
        matrices.append(np.frombuffer(buf, dtype="<f8").astype(np.float32))
        user_ids.append(np.fromiter((row.user_id for row in rows), np.int64, len(rows)))
    if not matrices:
        return np.empty((0, ENCODING_SIZE), np.float32), np.empty(0, np.int64)
    matrix = np.concatenate(matrices).reshape(-1, ENCODING_SIZE)
    return matrix, np.concatenate(user_ids)


class Gallery:
    """Every sample's encoding (float32, one row each) with the id of its person.

    A face matches the person of its nearest sample when that distance is within the
    tolerance; otherwise it is unknown. Negative samples ("this face is not them") are kept
    the same way: a person is refused for a face that is closer to one of their negatives
    than to their nearest sample, and the face goes to the next person or stays unknown.
    """

    def __init__(
        self,
        encodings,
        user_ids,
        names: dict[int, str],
        version: int = 0,
        negatives=None,
        negative_user_ids=(),
        thresholds: dict | None = None,
    ):
        self.samples = EncodingMatrix(encodings)
        self.user_ids = np.asarray(user_ids, dtype=np.int64)
        if len(self.user_ids) != len(self.samples):
            raise ValueError("one user id per encoding is needed")
        self.names = dict(names)
        self.version = version
        # Each person's threshold (facerec.thresholds.Threshold), for those who have one.
        self.thresholds = dict(thresholds or {})
        self.negatives = EncodingMatrix(negatives if negatives is not None else [])
        self.negative_user_ids = np.asarray(negative_user_ids, dtype=np.int64)
        if len(self.negative_user_ids) != len(self.negatives):
            raise ValueError("one user id per negative encoding is needed")
        # Row indices of each person's negatives, looked up only for a person about to win.
        order = np.argsort(self.negative_user_ids, kind="stable")
        ids, starts = np.unique(self.negative_user_ids[order], return_index=True)
        ends = [*starts[1:], len(order)] if len(starts) else []
        self._negatives_of = {
            int(uid): order[start:end] for uid, start, end in zip(ids, starts, ends, strict=True)
        }
        # The nearest negative is measured here, from the negatives loaded with the samples,
        # not taken from the stored headroom: a negative added or removed a moment ago counts
        # at once (the unknowns thread works the headroom out again a moment later).
        for uid, limit in self.thresholds.items():
            self.thresholds[uid] = replace(limit, negative=self._nearest_negative(uid))

    def _nearest_negative(self, user_id: int) -> float | None:
        negatives = self.negative_rows(user_id)
        own = self.samples.rows[self.user_ids == user_id]
        if not len(negatives) or not len(own):
            return None
        gaps = as_rows(own, np.float64)[:, None, :] - as_rows(negatives, np.float64)[None, :, :]
        return round(float(np.linalg.norm(gaps, axis=2).min()), 4)

    def __len__(self):
        return len(self.samples)

    @property
    def matrix(self) -> np.ndarray:
        """Every sample's encoding, one float32 row each."""
        return self.samples.rows

    @classmethod
    def empty(cls, version: int = 0) -> Gallery:
        return cls(np.empty((0, ENCODING_SIZE)), [], {}, version)

    @classmethod
    def load(cls, connection) -> Gallery:
        """Build from the database (a Connection or Session)."""
        version = gallery_version(connection)
        matrix, user_ids = _read_encodings(
            connection, select(FaceSample.user_id, FaceSample.encoding)
        )
        negative_matrix, negative_ids = _read_encodings(
            connection, select(NegativeSample.user_id, NegativeSample.encoding)
        )
        names, thresholds = {}, {}
        people = connection.execute(
            select(
                User.id,
                User.name,
                User.tolerance,
                PersonHeadroom.user_id,
                PersonHeadroom.own_spread,
                PersonHeadroom.nearest_user_id,
                PersonHeadroom.nearest_distance,
            ).outerjoin(PersonHeadroom, PersonHeadroom.user_id == User.id)
        )
        for uid, name, override, measured, spread, nearest_id, nearest in people:
            names[uid] = name
            if override is not None or measured is not None:
                # A nearest person deleted since (SET NULL) holds nobody apart any more.
                nearest = nearest if nearest_id is not None else None
                thresholds[uid] = Threshold(override, spread, nearest)
        return cls(matrix, user_ids, names, version, negative_matrix, negative_ids, thresholds)

    def distances(self, encoding) -> np.ndarray:
        """Euclidean distance from ``encoding`` to every sample."""
        return self.samples.distances(encoding)

    def negative_rows(self, user_id: int) -> np.ndarray:
        """The encodings of the person's negatives (none: an empty matrix)."""
        rows = self._negatives_of.get(user_id)
        return self.negatives.rows[rows] if rows is not None else self.negatives.rows[:0]

    def tolerance_for(self, user_id: int, tolerance: float) -> float:
        """The person's threshold under ``tolerance`` (``facerec.thresholds``)."""
        limit = self.thresholds.get(user_id)
        return tolerance if limit is None else limit.effective(tolerance)

    def refuses(self, user_id: int, encoding, own_distance: float) -> bool:
        """Whether the face is closer to one of the person's negatives than ``own_distance``."""
        rows = self._negatives_of.get(user_id)
        if rows is None:
            return False
        return float(self.negatives.exact(encoding, rows).min()) < own_distance

    def match(self, encoding, tolerance: float = 0.6) -> Match:
        """The nearest person within their threshold who does not refuse the face, else
        unknown.

        Each person's threshold is ``tolerance`` or tighter (``tolerance_for``): a face beyond
        the nearest person's threshold is unknown, not given to someone farther away. A person
        refuses a face closer to one of their negatives than to their nearest sample; the next
        nearest person is tried. Without negatives this is one argmin.
        """
        if len(self.samples) == 0:
            return Match(None, None, None)
        distances = self.distances(encoding)
        nearest = None
        # At most one round per person with negatives, plus the final one.
        for _ in range(len(self._negatives_of) + 1):
            best = int(np.argmin(distances))
            if not np.isfinite(distances[best]):
                break
            # Recompute a winner exactly: the fast form loses a little precision.
            distance = float(self.samples.exact(encoding, best))
            nearest = distance if nearest is None else nearest
            user_id = int(self.user_ids[best])
            if distance > self.tolerance_for(user_id, tolerance):
                break
            if not self.refuses(user_id, encoding, distance):
                return Match(user_id, self.names.get(user_id), round(distance, 4))
            distances[self.user_ids == user_id] = np.inf
        return Match(None, None, None if nearest is None else round(nearest, 4))

    def recognise(self, face, tolerance: float = 0.6, crop: bytes | None = None):
        """``face`` (a ``faces.Face``) with the person it matches, as a RecognisedFace."""
        return RecognisedFace.of(
            face.box, self.match(face.encoding, tolerance), face.encoding, crop, face.quality
        )

    def nearest_person(self, encodings, exclude: set[int] = frozenset()) -> Match:
        """The person closest to any of ``encodings`` (no tolerance applied)."""
        best = Match(None, None, None)
        for encoding in encodings:
            if len(self.samples) == 0:
                break
            distances = self.distances(encoding)
            if exclude:
                distances[np.isin(self.user_ids, list(exclude))] = np.inf
            i = int(np.argmin(distances))
            closer = best.distance is None or distances[i] < best.distance
            if np.isfinite(distances[i]) and closer:
                uid = int(self.user_ids[i])
                best = Match(uid, self.names.get(uid), round(float(distances[i]), 4))
        return best


_app_lock = threading.Lock()


def current() -> Gallery:
    """The gallery of the app handling this request, reloaded when people or samples change.

    One cache per app, shared by recognition requests, sample checks and the wizard, so a
    request reads the encodings from the database only after they changed. The version is
    checked on every call (one tiny query): a change is seen by the very next request.
    """
    from flask import current_app

    from .extensions import db

    extensions = current_app.extensions
    cache = extensions.get("gallery")
    if cache is None:
        with _app_lock:
            cache = extensions.get("gallery")
            if cache is None:
                cache = extensions["gallery"] = GalleryCache(db.engine.connect, 0.0)
    return cache.get()


class GalleryCache:
    """Holds the current Gallery and reloads it when the database version moves on.

    ``connect`` returns a context manager yielding a Connection (e.g. ``engine.connect``).
    The version is checked at most every ``check_interval`` seconds. While the database
    cannot be reached (a PostgreSQL server restarting, the network between the servers
    down), the gallery loaded last stays in use and the database is tried again every
    ``retry_interval`` seconds: recognition goes on instead of failing frame after frame.
    """

    def __init__(self, connect, check_interval: float = 0.25, retry_interval: float = 2.0):
        self._connect = connect
        self._interval = check_interval
        self._retry = retry_interval
        self._gallery: Gallery | None = None
        self._next_check = 0.0
        self._unreachable = False
        self._lock = threading.Lock()

    def get(self) -> Gallery:
        with self._lock:
            now = time.monotonic()
            if self._gallery is not None and now < self._next_check:
                return self._gallery
            try:
                with self._connect() as conn:
                    version = gallery_version(conn)
                    if self._gallery is None or version != self._gallery.version:
                        self._gallery = Gallery.load(conn)
            except SQLAlchemyError as exc:
                if self._gallery is None:
                    raise
                if not self._unreachable:
                    log.warning(
                        "gallery: the database cannot be reached (%s); matching with the "
                        "gallery loaded last (version %d) until it can",
                        getattr(exc, "orig", None) or exc,
                        self._gallery.version,
                    )
                self._unreachable = True
                self._next_check = time.monotonic() + self._retry
                return self._gallery
            if self._unreachable:
                log.warning("gallery: the database can be reached again")
                self._unreachable = False
            self._next_check = now + self._interval
            return self._gallery
