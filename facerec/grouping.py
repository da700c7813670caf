"""Grouping unknown faces into recurring visitors: an incremental nearest-group rule.

Each group is summarised by its centroid (the mean of its members' encodings). A new face joins
the group whose centroid is nearest, if that is within ``join`` (well inside the recognition
tolerance); otherwise it starts a group of its own. When a group's centroid moves within
``join`` of another group's, the two turn out to be one person and merge.

Why this and not DBSCAN/HDBSCAN over every unknown encoding: faces arrive one at a time, and
this rule places each in O(groups) without revisiting the others, keeps group ids stable (an
operator may be looking at a group while a sighting joins it) and needs no new dependency.
bench/unknowns.py measures it on 10,000 synthetic encodings around 200 centres (pairwise
precision and recall) and docs/guide/unknowns.md gives the comparison with scikit-learn's DBSCAN.
Pure numpy: nothing here touches the database (see ``facerec.unknowns``).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from .encodings import EncodingMatrix
from .models import ENCODING_SIZE

# As a fraction of the recognition tolerance: the same face at different times is usually
# 0.3-0.45 from the mean of its other faces; different people are 0.6 and more apart.
JOIN_FRACTION = 0.75


class Groups:
    """Groups of encodings keyed by any hashable id; ``add()`` places one encoding.

    Sums, counts and centroids live in arrays with spare rows, so placing a face costs two
    matrix-vector products over the groups and no copy.
    """

    def __init__(self, join: float):
        self.join = join
        self._ids: list[Hashable] = []
        self._sums = np.empty((64, ENCODING_SIZE))
        self._centroids = EncodingMatrix(dtype=np.float64)
        self._counts = np.empty(64)
        self._next = 0
        self._apart: set[Hashable] = set()

    def __len__(self):
        return len(self._ids)

    @property
    def ids(self) -> list[Hashable]:
        return list(self._ids)

    def centroids(self) -> np.ndarray:
        return self._centroids.rows

    def count(self, group_id: Hashable) -> int:
        return int(self._counts[self._ids.index(group_id)])

    def load(self, group_id: Hashable, encodings) -> None:
        """Add an existing group with its members (no joining or merging)."""
        encodings = np.asarray(encodings, dtype=np.float64).reshape(-1, ENCODING_SIZE)
        if not len(encodings):
            return
        n = len(self._ids)
        if n == len(self._counts):
            grow = max(64, n)
            self._sums = np.vstack([self._sums, np.empty((grow, ENCODING_SIZE))])
            self._counts = np.concatenate([self._counts, np.empty(grow)])
        self._ids.append(group_id)
        self._sums[n] = encodings.sum(axis=0)
        self._counts[n] = len(encodings)
        self._centroids.append(self._sums[n] / self._counts[n])

    def keep_apart(self, group_id: Hashable):
        """Never merge this group with another (someone decided who is in it); faces still
        join it."""
        self._apart.add(group_id)

    def _distances(self, encoding) -> np.ndarray:
        return self._centroids.distances(encoding)

    def _set_centroid(self, index: int):
        self._centroids.put(index, self._sums[index] / self._counts[index])

    def nearest(self, encoding) -> tuple[int | None, float]:
        """Index and distance of the group whose centroid is nearest to ``encoding``."""
        if not self._ids:
            return None, float("inf")
        distances = self._distances(np.asarray(encoding, dtype=np.float64))
        index = int(np.argmin(distances))
        return index, float(distances[index])

    def add(self, encoding, new_id=None, join: float | None = None) -> tuple[Hashable, list]:
        """Place ``encoding``; returns (its group id, ids of groups merged into that group).

        ``new_id`` is called for the id of a new group (default: 0, 1, 2...). ``join``: how
        close this face must be to join a group, when it is not the groups' own (a face seen
        by a camera with a tolerance of its own); groups still merge at the groups' own.
        """
        encoding = np.asarray(encoding, dtype=np.float64)
        index, distance = self.nearest(encoding)
        if index is None or distance > (self.join if join is None else join):
            group_id = new_id() if new_id else self._fresh_id()
            self.load(group_id, encoding[None, :])
            return group_id, []
        self._sums[index] += encoding
        self._counts[index] += 1
        self._set_centroid(index)
        return self._ids[index], self._merge_into(index)

    def _fresh_id(self) -> int:
        self._next += 1
        return self._next - 1

    def _merge_into(self, index: int) -> list[Hashable]:
        """Fold every group whose centroid is now within ``join`` of group ``index`` into it."""
        merged = []
        if self._ids[index] in self._apart:
            return merged
        while len(self._ids) > 1:
            distances = self._distances(self._centroids.rows[index])
            distances[index] = np.inf
            if self._apart:
                distances[[i for i, g in enumerate(self._ids) if g in self._apart]] = np.inf
            other = int(np.argmin(distances))
            if distances[other] > self.join:
                break
            merged.append(self._ids[other])
            self._sums[index] += self._sums[other]
            self._counts[index] += self._counts[other]
            self._set_centroid(index)
            # The last group takes the merged one's row.
            last = len(self._ids) - 1
            for array in (self._sums, self._counts):
                array[other] = array[last]
            self._centroids.remove_swapping(other)
            self._ids[other] = self._ids[last]
            self._ids.pop()
            if index == last:
                index = other
        return merged


def group(encodings, join: float) -> np.ndarray:
    """A group label for each encoding, placing them in the given order."""
    groups = Groups(join)
    labels = []
    survivor: dict = {}  # a group merged away -> the group it went into
    for encoding in np.asarray(encodings):
        label, merged = groups.add(encoding)
        labels.append(label)
        survivor.update(dict.fromkeys(merged, label))
    return np.array([_final(label, survivor) for label in labels])


def _final(label, survivor):
    while label in survivor:
        label = survivor[label]
    return label


def pairwise_scores(truth, labels) -> tuple[float, float]:
    """Pairwise precision and recall of ``labels`` against ``truth`` (pairs put together)."""
    truth, labels = np.asarray(truth), np.asarray(labels)
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(labels, return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)

    def pairs(counts):
        return float((counts * (counts - 1) // 2).sum())

    together = pairs(table)
    predicted = pairs(table.sum(axis=0))
    actual = pairs(table.sum(axis=1))
    return (together / predicted if predicted else 1.0, together / actual if actual else 1.0)
