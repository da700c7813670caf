"""The gallery: nearest-sample matching and reloading when people change."""

import numpy as np

from facerec.extensions import db
from facerec.gallery import Gallery, GalleryCache
from facerec.models import User

from .conftest import DATA, enroll, photo_samples


def test_is_a_face_matched_to_the_person_of_its_nearest_sample():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3, 128)) * 0.1
    names = {10: "a", 20: "b", 30: "c"}
    gallery = Gallery(np.vstack([base, base[0] + 0.001]), [10, 20, 30, 10], names)
    match = gallery.match(base[1] + 0.0001)
    assert (match.user_id, match.name) == (20, "b")
    assert match.distance < 0.01


def test_is_a_face_beyond_the_tolerance_unknown_with_its_distance():
    gallery = Gallery(np.zeros((1, 128)), [1], {1: "a"})
    far = np.full(128, 0.1)  # distance sqrt(128 * 0.01) = 1.13
    match = gallery.match(far, tolerance=0.6)
    assert match.user_id is None and match.name is None
    assert abs(match.distance - np.sqrt(1.28)) < 1e-4
    assert gallery.match(far, tolerance=1.2).user_id == 1


def test_does_an_empty_gallery_match_nobody():
    match = Gallery.empty().match(np.zeros(128))
    assert (match.user_id, match.name, match.distance) == (None, None, None)


def test_does_the_expanded_distance_agree_with_numpy_on_many_rows():
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(5000, 128)) * 0.1
    query = rng.normal(size=128) * 0.1
    gallery = Gallery(matrix, np.arange(5000), {})
    expected = np.linalg.norm(matrix - query, axis=1)
    assert np.allclose(gallery.distances(query), expected, atol=1e-4)
    assert gallery.match(query, tolerance=10).user_id == int(np.argmin(expected))


def test_does_the_cache_pick_up_a_new_person_and_a_deletion_without_a_restart(app):
    cache = GalleryCache(lambda: db.engine.connect(), check_interval=0)
    (face,) = photo_samples(DATA / "unknown" / "obama-480p.jpg")
    with app.app_context():
        assert cache.get().match(face.encoding).name is None
        uid = enroll(app, "Barack Obama", DATA / "known" / "obama.jpg")
        assert cache.get().match(face.encoding).name == "Barack Obama"
        user = db.session.get(User, uid)
        user.name = "President Obama"
        db.session.commit()
        assert cache.get().match(face.encoding).name == "President Obama"
        db.session.delete(db.session.get(User, uid))
        db.session.commit()
        assert cache.get().match(face.encoding).name is None
        assert len(cache.get()) == 0
