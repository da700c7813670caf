"""Negative samples benchmark: one match against 100k samples with 1,000 negatives.

Prints JSON: median and p95 milliseconds of ``Gallery.match()`` for faces near an enrolled
sample (the usual case), near a negative (the person is refused and the next one tried), and
the same gallery without negatives for comparison, with the target (< 5 ms at 100k).
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facerec.gallery import Gallery

SAMPLES = 100_000
PEOPLE = 20_000
NEGATIVES = 1_000
TARGET_MS = 5.0


def timed(gallery, queries, tolerance) -> dict:
    for q in queries[:3]:
        gallery.match(q, tolerance)  # warm caches
    times = []
    for q in queries:
        start = time.perf_counter()
        gallery.match(q, tolerance)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "match_ms_p50": round(statistics.median(times), 3),
        "match_ms_p95": round(times[int(len(times) * 0.95) - 1], 3),
    }


def main():
    rng = np.random.default_rng(0)
    # Synthetic people: centres ~0.9 apart, samples ~0.3 from their centre (like dlib's).
    centres = rng.normal(0, 0.056, size=(PEOPLE, 128))
    owners = rng.integers(0, PEOPLE, size=SAMPLES)
    samples = centres[owners] + rng.normal(0, 0.025, size=(SAMPLES, 128))
    # Strangers, each wrongly given the name of their nearest person: a negative of them.
    plain = Gallery(samples, owners, {})
    strangers = rng.normal(0, 0.056, size=(NEGATIVES, 128))
    negatives = strangers + rng.normal(0, 0.025, size=(NEGATIVES, 128))
    neg_owners = np.array([plain.match(n, tolerance=10).user_id for n in negatives])
    gallery = Gallery(samples, owners, {}, negatives=negatives, negative_user_ids=neg_owners)
    near_samples = samples[rng.integers(0, SAMPLES, 60)] + rng.normal(0, 0.02, (60, 128))
    near_negatives = strangers[:60] + rng.normal(0, 0.025, (60, 128))
    tolerance = 10.0  # so loose that every stranger's nearest person is tried and refused
    # Another face of each stranger: is it still given the name of the person it is not?
    named = sum(
        gallery.match(q, tolerance).user_id == owner
        for q, owner in zip(near_negatives, neg_owners, strict=False)
    )
    result = {
        "benchmark": "negatives",
        "samples": SAMPLES,
        "negatives": NEGATIVES,
        "without_negatives": timed(plain, near_samples, 0.6),
        "with_negatives_face_near_a_sample": timed(gallery, near_samples, 0.6),
        "with_negatives_face_near_a_negative": timed(gallery, near_negatives, tolerance),
        "strangers_still_given_the_wrong_name": f"{named} of {len(near_negatives)}",
        "target_ms": TARGET_MS,
    }
    result["ratio_with_to_without"] = round(
        result["with_negatives_face_near_a_sample"]["match_ms_p50"]
        / result["without_negatives"]["match_ms_p50"],
        2,
    )
    worst = max(
        result[k]["match_ms_p50"]
        for k in ("with_negatives_face_near_a_sample", "with_negatives_face_near_a_negative")
    )
    result["meets_target"] = worst < TARGET_MS
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
