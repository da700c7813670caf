"""The process pool for one-off face jobs (facerec.face_jobs)."""

import time

import pytest

from facerec import face_jobs


def test_does_a_hung_worker_not_block_the_next_request():
    with pytest.raises(TimeoutError):
        face_jobs.run(time.sleep, 60, workers=1, timeout=3)
    # With one worker, the next call would time out behind the sleeper if it held the slot.
    assert face_jobs.run(abs, -3, workers=1, timeout=20) == 3


def test_are_errors_raised_in_a_worker_raised_unchanged_to_the_caller():
    from facerec import faces

    with pytest.raises(faces.ImageError, match="empty"):
        face_jobs.run(faces.load_image, b"", workers=1)
