"""Every sighting's encoding as one numpy matrix, searched for the faces nearest to a face.

Like the gallery: float32 rows with their squared norms, so one search is one matrix-vector
product. Beside each row: the sighting id, its start time (seconds) and camera, so the
date and camera filters are numpy masks, not database queries.

Kept up to date without rereading everything: each search first reads the sightings added
since (ids above the last one loaded) and the ones still in view (their best face may have
changed). Rows whose sighting was deleted (a person deleted, retention pruning) are dropped
when a search meets them, and ``forget()`` drops them at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select

from ..encodings import EncodingMatrix, as_rows
from ..models import Sighting

EPOCH = datetime(1970, 1, 1)
# Seconds between two full recounts of the stored sightings (to notice deletions).
RECOUNT = 30.0


def seconds(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


@dataclass(frozen=True)
class Hit:
    sighting_id: int
    distance: float


class SightingIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self.encodings = EncodingMatrix()
        self.ids = np.empty(0, dtype=np.int64)
        self.started = np.empty(0, dtype=np.float64)
        self.cameras = np.empty(0, dtype=np.int32)
        self._camera_codes: dict[str, int] = {}
        self._row_of: dict[int, int] = {}
        self._last_id = 0
        self._open: set[int] = set()  # sightings still in view when loaded
        self._counted = 0.0

    def __len__(self):
        return len(self.ids)

    @property
    def matrix(self) -> np.ndarray:
        """Every sighting's encoding, one float32 row each."""
        return self.encodings.rows

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.started, self.cameras)
        return self.encodings.nbytes + int(sum(a.nbytes for a in arrays))

    # ---- building ----------------------------------------------------------------------------

    def add(self, ids, encodings, started, cameras):
        """Append rows (or replace the rows of ids already present)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        encodings = as_rows(encodings)
        started = np.asarray(started, dtype=np.float64)
        codes = np.array([self._code(c) for c in cameras], dtype=np.int32)
        present = np.array([int(i) in self._row_of for i in ids], dtype=bool)
        for i in np.nonzero(present)[0]:
            row = self._row_of[int(ids[i])]
            self.encodings.put(row, encodings[i])
            self.started[row], self.cameras[row] = started[i], codes[i]
        new = ~present
        if new.any():
            base = self.encodings.append(encodings[new])
            self.ids = np.concatenate([self.ids, ids[new]])
            self.started = np.concatenate([self.started, started[new]])
            self.cameras = np.concatenate([self.cameras, codes[new]])
            for offset, sighting_id in enumerate(ids[new]):
                self._row_of[int(sighting_id)] = base + offset
        self._last_id = max(self._last_id, int(ids.max()))

    def forget(self, sighting_ids):
        """Drop the rows of deleted sightings."""
        with self._lock:
            self._forget(sighting_ids)

    def _forget(self, sighting_ids):
        gone = {int(i) for i in sighting_ids} & set(self._row_of)
        if not gone:
            return
        keep = ~np.isin(self.ids, list(gone))
        self.encodings.keep(keep)
        self.ids, self.started, self.cameras = (
            self.ids[keep],
            self.started[keep],
            self.cameras[keep],
        )
        self._row_of = {int(i): row for row, i in enumerate(self.ids)}
        self._open -= gone

    def _code(self, camera: str) -> int:
        return self._camera_codes.setdefault(camera, len(self._camera_codes))

    def refresh(self, session):
        """Read the sightings added since the last refresh and the ones that were in view.

        Deleted sightings go too: retention prunes the oldest (every row below the smallest id
        left), and a full recount every ``RECOUNT`` seconds catches any other deletion (a
        person deleted with their sightings).
        """
        with self._lock:
            self._drop_deleted(session)
            columns = (Sighting.id, Sighting.encoding, Sighting.started_at, Sighting.camera,
                       Sighting.ended_at)  # fmt: skip
            rows = list(session.execute(select(*columns).where(Sighting.id > self._last_id)))
            if self._open:
                still = select(*columns).where(Sighting.id.in_(sorted(self._open)))
                rows += list(session.execute(still.where(Sighting.id <= self._last_id)))
                self._open.clear()
            if rows:
                self._last_id = max(self._last_id, max(r.id for r in rows))
            # In view: the best face (and so the encoding) may still change.
            self._open.update(r.id for r in rows if r.ended_at is None)
            rows = [r for r in rows if r.encoding is not None]
            if not rows:
                return
            self.add(
                [r.id for r in rows],
                np.frombuffer(b"".join(r.encoding for r in rows), dtype="<f8"),
                [seconds(r.started_at) for r in rows],
                [r.camera for r in rows],
            )

    def _drop_deleted(self, session):
        if not len(self.ids):
            return
        oldest = session.scalar(select(func.min(Sighting.id)))
        if oldest is None:
            self._forget(self.ids.tolist())
            return
        if self.ids.min() < oldest:
            self._forget(self.ids[self.ids < oldest].tolist())
        now = time.monotonic()
        if now - self._counted < RECOUNT:
            return
        self._counted = now
        stored = session.scalar(
            select(func.count(Sighting.id)).where(
                Sighting.encoding.is_not(None), Sighting.id <= self._last_id
            )
        )
        if stored != len(self.ids):
            present = set(session.scalars(select(Sighting.id).where(Sighting.id <= self._last_id)))
            self._forget([i for i in self.ids.tolist() if i not in present])

    # ---- searching ---------------------------------------------------------------------------

    def search(
        self,
        encoding,
        tolerance: float,
        since: datetime | None = None,
        until: datetime | None = None,
        camera: str | None = None,
    ) -> list[Hit]:
        """Every row within ``tolerance`` of ``encoding`` that passes the filters, nearest first."""
        with self._lock:
            return self._search(encoding, tolerance, since, until, camera)

    def _search(self, encoding, tolerance, since, until, camera) -> list[Hit]:
        if not len(self.ids):
            return []
        mask = self.encodings.within(encoding, tolerance)  # confirmed exactly below
        if since is not None:
            mask &= self.started >= seconds(since)
        if until is not None:
            mask &= self.started <= seconds(until)
        if camera is not None:
            code = self._camera_codes.get(camera)
            if code is None:
                return []
            mask &= self.cameras == code
        rows = np.nonzero(mask)[0]
        exact = self.encodings.exact(encoding, rows)
        order = np.argsort(exact, kind="stable")
        return [
            Hit(int(self.ids[rows[i]]), float(exact[i])) for i in order if exact[i] <= tolerance
        ]
