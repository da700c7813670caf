"""Face search benchmark: one search over 100k and 1M synthetic sighting encodings.

Prints JSON: median and p95 milliseconds of ``SightingIndex.search()`` (the whole matrix is
scanned; a tolerance of 0.6 around a query that is a noisy copy of one stored face), the
bare matrix-vector product over the same matrix in the same run (the floor: the machine is
shared, so compare the two), the number of matches, and the memory the matrix (and its
per-row columns) takes, with the targets (< 10 ms at 100k, < 100 ms at 1M).
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facerec.search.index import SightingIndex

SIZES = (100_000, 1_000_000)
TARGETS_MS = {100_000: 10.0, 1_000_000: 100.0}
QUERIES = 30


def measure(size: int, rng) -> dict:
    # Sightings of size // 20 people (dlib-like spread: people ~0.9 apart, faces ~0.4).
    people = rng.normal(0, 0.056, size=(size // 20, 128)).astype(np.float32)
    owners = rng.integers(0, len(people), size=size)
    encodings = people[owners]
    encodings += rng.normal(0, 0.025, size=(size, 128)).astype(np.float32)
    index = SightingIndex()
    index.add(np.arange(1, size + 1), encodings, np.arange(size, dtype=np.float64),
              ["main", "garden"] * (size // 2))  # fmt: skip
    del encodings
    picks = rng.integers(0, size, QUERIES)
    queries = index.matrix[picks] + rng.normal(0, 0.02, size=(QUERIES, 128)).astype(np.float32)
    index.search(queries[0], 0.6)  # warm caches
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = index.search(query, 0.6)
        times.append((time.perf_counter() - start) * 1000)
        found.append(len(hits))
    times.sort()
    p50 = statistics.median(times)
    # The floor on this machine at this moment: the bare matrix-vector product.
    floor = []
    for query in queries:
        start = time.perf_counter()
        index.matrix @ query
        floor.append((time.perf_counter() - start) * 1000)
    return {
        "encodings": size,
        "search_ms_p50": round(p50, 2),
        "search_ms_p95": round(times[int(len(times) * 0.95) - 1], 2),
        "matrix_vector_product_ms_p50": round(statistics.median(floor), 2),
        "matches_median": int(statistics.median(found)),
        "matrix_mb": round(index.matrix.nbytes / 1e6, 1),
        "index_mb": round(index.nbytes / 1e6, 1),
        "target_ms": TARGETS_MS[size],
        "meets_target": p50 < TARGETS_MS[size],
    }


def main():
    rng = np.random.default_rng(0)
    results = [measure(n, rng) for n in SIZES]
    print(json.dumps({"benchmark": "face search", "results": results}, indent=2))


if __name__ == "__main__":
    main()
