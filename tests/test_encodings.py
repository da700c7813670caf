"""The matrix of encodings every face comparison uses (facerec.encodings)."""

import numpy as np
import pytest

from facerec.encodings import EncodingMatrix, distance, nearest


def random_faces(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, size=(count, 128))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_are_the_fast_distances_the_euclidean_ones(dtype):
    rows, query = random_faces(50), random_faces(1, seed=2)[0]
    matrix = EncodingMatrix(rows, dtype=dtype)
    expected = np.linalg.norm(rows - query, axis=1)
    assert np.allclose(matrix.distances(query), expected, atol=1e-4)
    assert np.allclose(matrix.exact(query), expected, atol=1e-12)
    assert matrix.exact(query, 7) == pytest.approx(expected[7], abs=1e-6)


def test_does_within_keep_every_row_inside_the_limit():
    rows = random_faces(200)
    query = rows[0] + 0.01
    exact = np.linalg.norm(rows - query, axis=1)
    limit = float(np.sort(exact)[20])
    picked = EncodingMatrix(rows).within(query, limit)
    assert picked[exact <= limit].all()  # nothing within the limit is missed
    assert picked.sum() <= 25  # and little beyond it


def test_do_distances_stay_right_as_rows_are_added_replaced_and_dropped():
    rows = random_faces(100)
    matrix = EncodingMatrix()
    for row in rows[:70]:  # one at a time, past the spare capacity
        matrix.append(row)
    assert matrix.append(rows[70:]) == 70
    matrix.put(3, rows[99])
    expected = rows.copy()
    expected[3] = rows[99]
    matrix.remove_swapping(10)  # the last row takes row 10's place
    expected[10] = expected[99]
    expected = expected[:99]
    keep = np.arange(99) % 3 != 0
    matrix.keep(keep)
    expected = expected[keep]
    query = random_faces(1, seed=5)[0]
    assert len(matrix) == len(expected) == 66
    assert np.allclose(matrix.rows, expected.astype(np.float32))
    assert np.allclose(matrix.distances(query), np.linalg.norm(expected - query, axis=1), atol=1e-4)


def test_are_distance_and_nearest_exact_and_nearest_of_nothing_infinite():
    a, b, c = random_faces(3)
    assert distance(a, b) == pytest.approx(float(np.linalg.norm(a - b)), abs=1e-12)
    assert nearest([b, c], a) == pytest.approx(min(distance(a, b), distance(a, c)), abs=1e-12)
    assert nearest([], a) == float("inf")
    assert len(EncodingMatrix()) == 0 and EncodingMatrix().distances(a).shape == (0,)
