"""Face encodings as rows of a matrix, and the one way a distance between faces is computed.

Every place that compares faces (the gallery, the search index, unknown grouping, the sample
checks) asks this module. ``EncodingMatrix`` keeps each row's squared norm beside it, so the
distances from a query to every row cost one matrix-vector product
(``|r - q|^2 = |r|^2 - 2 r.q + |q|^2``); that form loses a little precision in float32, so a
result that decides something (a match, a threshold) is recomputed exactly with ``exact()``.
"""

from __future__ import annotations

import numpy as np

from .models import ENCODING_SIZE


def as_rows(encodings, dtype=np.float32) -> np.ndarray:
    """``encodings`` (one, or any sequence of them) as a contiguous ``(n, 128)`` matrix."""
    return np.ascontiguousarray(encodings, dtype=dtype).reshape(-1, ENCODING_SIZE)


def distance(a, b) -> float:
    """The euclidean distance between two encodings, in float64."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def nearest(rows, encoding) -> float:
    """The smallest exact distance from ``encoding`` to any of ``rows`` (inf for none)."""
    if not len(rows):
        return float("inf")
    rows = as_rows(rows, np.float64)
    return float(np.min(np.linalg.norm(rows - np.asarray(encoding, np.float64), axis=1)))


class EncodingMatrix:
    """Rows of encodings with their squared norms; rows can be added, replaced and dropped.

    Spare capacity is kept at the end, so adding one row at a time (a grouping that grows
    face by face) does not copy the whole matrix each time.
    """

    def __init__(self, rows=(), dtype=np.float32):
        self.dtype = np.dtype(dtype)
        matrix = as_rows(rows if len(rows) else np.empty((0, ENCODING_SIZE)), self.dtype)
        self._rows = matrix
        self._sq = np.einsum("ij,ij->i", matrix, matrix)
        self._count = len(matrix)

    def __len__(self) -> int:
        return self._count

    @property
    def rows(self) -> np.ndarray:
        """The rows in use (a view: do not write to it, use ``put``)."""
        return self._rows[: self._count]

    @property
    def nbytes(self) -> int:
        return int(self._rows.nbytes + self._sq.nbytes)

    # ---- distances ----------------------------------------------------------------------------

    def distances(self, encoding) -> np.ndarray:
        """The distance from ``encoding`` to every row (fast form: see ``exact``)."""
        return np.sqrt(np.maximum(self.squared(encoding), 0.0))

    def squared(self, encoding) -> np.ndarray:
        """Squared distances to every row, unclipped (a tiny negative means zero)."""
        query = np.asarray(encoding, dtype=self.dtype)
        n = self._count
        return self._sq[:n] - 2.0 * (self._rows[:n] @ query) + float(query @ query)

    def exact(self, encoding, rows=slice(None)) -> np.ndarray:
        """Exact float64 distances from ``encoding`` to the rows selected by ``rows``."""
        picked = self.rows[rows].astype(np.float64)
        return np.linalg.norm(picked - np.asarray(encoding, np.float64), axis=-1)

    def within(self, encoding, limit: float) -> np.ndarray:
        """A mask of the rows that may be within ``limit`` (with a little slack for the fast
        form's rounding: confirm with ``exact``)."""
        return self.squared(encoding) <= (limit + 1e-3) ** 2

    # ---- changing the rows --------------------------------------------------------------------

    def append(self, rows) -> int:
        """Add rows at the end; returns the index of the first one."""
        rows = as_rows(rows, self.dtype)
        first, needed = self._count, self._count + len(rows)
        if needed > len(self._rows):
            spare = max(needed, 2 * len(self._rows), 64)
            grown = np.empty((spare, ENCODING_SIZE), self.dtype)
            grown[:first] = self._rows[:first]
            sq = np.empty(spare, self.dtype)
            sq[:first] = self._sq[:first]
            self._rows, self._sq = grown, sq
        self._rows[first:needed] = rows
        self._sq[first:needed] = np.einsum("ij,ij->i", rows, rows)
        self._count = needed
        return first

    def put(self, index: int, encoding):
        """Replace row ``index``."""
        row = np.asarray(encoding, dtype=self.dtype)
        self._rows[index] = row
        self._sq[index] = row @ row

    def keep(self, mask):
        """Drop every row where ``mask`` is False (the others keep their order)."""
        self._rows = np.ascontiguousarray(self.rows[mask])
        self._sq = np.ascontiguousarray(self._sq[: self._count][mask])
        self._count = len(self._rows)

    def remove_swapping(self, index: int):
        """Drop row ``index`` by moving the last row into its place (O(1))."""
        last = self._count - 1
        if index != last:
            self._rows[index] = self._rows[last]
            self._sq[index] = self._sq[last]
        self._count = last
