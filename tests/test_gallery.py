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


def test_does_a_gallery_larger_than_one_read_load_every_encoding_with_its_person(app, monkeypatch):
    """The encodings are read a chunk at a time (a server-side cursor on PostgreSQL)."""
    from facerec import gallery as gallery_module
    from facerec.models import FaceSample, NegativeSample

    rng = np.random.default_rng(7)
    vectors = rng.normal(0, 0.1, size=(11, 128))
    with app.app_context():
        people = [User(name=f"p{i}", details="") for i in range(3)]
        for i, vector in enumerate(vectors):
            sample = FaceSample(thumbnail=b"", source="test")
            sample.vector = vector
            people[i % 3].samples.append(sample)
        db.session.add_all(people)
        db.session.flush()
        negative = NegativeSample(user_id=people[0].id)
        negative.vector = vectors[1]
        db.session.add(negative)
        db.session.commit()
        expected_ids = [people[i % 3].id for i in range(11)]
        monkeypatch.setattr(gallery_module, "LOAD_CHUNK", 4)
        with db.engine.connect() as conn:
            loaded = Gallery.load(conn)
    assert len(loaded) == 11
    # Every encoding with its own person (in whatever order the database returns them).
    owner = {vectors[i].astype(np.float32).tobytes(): expected_ids[i] for i in range(11)}
    pairs = zip(loaded.matrix, loaded.user_ids, strict=True)
    assert {row.tobytes(): int(uid) for row, uid in pairs} == owner
    assert loaded.negative_user_ids.tolist() == [expected_ids[0]]
    assert loaded.match(vectors[5]).name == "p2"


def test_does_the_cache_keep_matching_while_the_database_cannot_be_reached(app, data_dir):
    """A PostgreSQL server restarting must not stop recognition on the other servers."""
    from sqlalchemy.exc import OperationalError

    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    with app.app_context():
        engine = db.engine
    down = False

    def connect():
        if down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        return engine.connect()

    cache = GalleryCache(connect, check_interval=0, retry_interval=0)
    obama = photo_samples(data_dir / "unknown" / "obama-480p.jpg")[0].encoding
    assert cache.get().match(obama).name == "obama"
    down = True
    assert cache.get().match(obama).name == "obama"  # the last gallery, not an error
    enroll(app, "biden", data_dir / "known" / "biden.jpg")
    assert len(cache.get()) == 1
    down = False
    assert len(cache.get()) == 2  # reloaded once the database answers again
