"""Unknown grouping benchmark: 10,000 synthetic unknown encodings around 200 centres.

Prints JSON: the seconds ``grouping.group()`` takes and its pairwise precision and recall
against the centres (targets: < 2 s, >= 0.95 both), with the number of groups found.

The synthetic faces imitate dlib's encodings: components around +-0.09, so centres (people)
are ~0.9 apart and one person's faces ~0.4 apart (0.3 from their mean), as on the shared
photos. ``--long`` runs 50,000 encodings around 1,000 centres as well.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facerec.grouping import JOIN_FRACTION, group, pairwise_scores

TOLERANCE = 0.6
TARGET_S = 2.0
TARGET_SCORE = 0.95


def synthetic(n: int, centres: int, rng):
    people = rng.normal(0, 0.056, size=(centres, 128))
    truth = rng.integers(0, centres, size=n)
    return people[truth] + rng.normal(0, 0.025, size=(n, 128)), truth


def measure(n: int, centres: int, rng) -> dict:
    encodings, truth = synthetic(n, centres, rng)
    within = np.linalg.norm(encodings[truth == truth[0]][1:] - encodings[0], axis=1)
    between = np.linalg.norm(encodings[truth != truth[0]] - encodings[0], axis=1)
    start = time.perf_counter()
    labels = group(encodings, JOIN_FRACTION * TOLERANCE)
    seconds = time.perf_counter() - start
    precision, recall = pairwise_scores(truth, labels)
    return {
        "encodings": n,
        "centres": centres,
        "same_person_distance_median": round(float(np.median(within)), 3),
        "different_people_distance_min": round(float(between.min()), 3),
        "join_distance": JOIN_FRACTION * TOLERANCE,
        "seconds": round(seconds, 3),
        "groups": len(set(labels.tolist())),
        "pairwise_precision": round(precision, 4),
        "pairwise_recall": round(recall, 4),
        "meets_target": bool(
            seconds < TARGET_S and precision >= TARGET_SCORE and recall >= TARGET_SCORE
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", action="store_true", help="also 50,000 around 1,000 centres")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    runs = [(10_000, 200)] + ([(50_000, 1_000)] if args.long else [])
    results = [measure(n, c, rng) for n, c in runs]
    print(json.dumps({"benchmark": "unknown grouping", "target_s": TARGET_S,
                      "target_pairwise": TARGET_SCORE, "results": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
