"""Gallery benchmark: one match against 1k, 100k and 1M encodings.

Prints JSON: the median and p95 milliseconds of ``Gallery.match()`` per gallery size, and
the targets (< 5 ms at 100k, < 50 ms at 1M).
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facerec.gallery import Gallery

SIZES = (1_000, 100_000, 1_000_000)
TARGETS_MS = {100_000: 5.0, 1_000_000: 50.0}


def measure(size: int, rng) -> dict:
    # Real encodings are ~unit-norm vectors with components around +-0.1.
    encodings = rng.normal(0, 0.09, size=(size, 128)).astype(np.float32)
    gallery = Gallery(encodings, np.arange(size) % max(1, size // 3), {})
    queries = rng.normal(0, 0.09, size=(40, 128))
    for q in queries[:3]:
        gallery.match(q)  # warm caches
    times = []
    for q in queries:
        start = time.perf_counter()
        gallery.match(q)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    result = {
        "encodings": size,
        "match_ms_p50": round(statistics.median(times), 3),
        "match_ms_p95": round(times[int(len(times) * 0.95) - 1], 3),
        "matrix_mb": round(gallery.matrix.nbytes / 1e6, 1),
    }
    if size in TARGETS_MS:
        result["target_ms"] = TARGETS_MS[size]
        result["meets_target"] = result["match_ms_p50"] < TARGETS_MS[size]
    return result


def main():
    rng = np.random.default_rng(0)
    print(
        json.dumps({"benchmark": "gallery", "results": [measure(n, rng) for n in SIZES]}, indent=2)
    )


if __name__ == "__main__":
    main()
