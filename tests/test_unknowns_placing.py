"""Placing unknown sightings in groups: on the placer's own thread, after the events, from an
index kept in memory that notices every change made elsewhere."""

from __future__ import annotations

import queue
import threading
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import delete, event

from facerec import events, faces, sightings, unknowns
from facerec.camera.tracks import TrackEvent, TrackSummary
from facerec.extensions import db
from facerec.models import Sighting, UnknownGroup

from .conftest import photo_samples
from .receivers import Receiver
from .test_api import API
from .test_unknowns import KIT, ROSE, T0, add_sighting, face_crop, place, sighting
from .test_webhooks import add_hook


def wait_until(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def group_of(app, sighting_id) -> int | None:
    return sighting(app, sighting_id).group_id


def track(track_id: int, photo, ended: bool) -> TrackEvent:
    encoding, crop = face_crop(photo)
    now = time.time()
    summary = TrackSummary(
        track_id=track_id,
        user_id=None,
        name=None,
        distance=None,
        started=now - 5,
        ended=now if ended else None,
        frames=20,
        encoding=encoding,
        crop=crop,
    )
    return TrackEvent("ended" if ended else "started", summary)


def test_does_a_webhook_hear_of_an_ended_sighting_while_grouping_is_still_busy(app_factory):
    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")  # the receiver is on loopback
    receiver = Receiver()
    add_hook(app, receiver.url)
    placer = unknowns.placer(app)
    release, placing_threads = threading.Event(), []
    place_now = placer.place

    def slow_place(ids):
        placing_threads.append(threading.current_thread().name)
        release.wait(30)
        return place_now(ids)

    placer.place = slow_place
    writer = sightings.recorder(app)
    try:
        writer.put("main", track(1, KIT[0], ended=False))
        writer.put("main", track(1, KIT[0], ended=True))

        (ended,) = receiver.wait(event="sighting.ended", timeout=30)

        # Delivered while the placer still waits: the webhook did not wait for grouping.
        assert placing_threads == ["facerec-unknowns"] and not release.is_set()
        body = ended["body"].decode()
        assert '"group_id":null' in body
        release.set()
        sighting_id = int(body.split('"id":')[1].split(",")[0])
        assert wait_until(lambda: group_of(app, sighting_id) is not None)
    finally:
        release.set()
        events.close(app)
        receiver.close()


def test_does_reading_the_unknowns_write_nothing(app, client):
    place(app)  # the first request's catch-up is done: nothing left for a thread to place
    client.get("/")  # and the hourly retention run is too
    first = add_sighting(app, KIT[0])
    writes = []

    def record(_conn, _cursor, statement, *_args):
        if threading.current_thread() is threading.main_thread():
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb in {"INSERT", "UPDATE", "DELETE"}:
                writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(f"{API}/unknowns").get_json() == {"groups": []}
        assert "No unknown visitors." in client.get("/unknowns").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert writes == []
    assert group_of(app, first) is None  # left for the placer, which the test did not run


def test_is_the_group_index_read_once_and_again_only_after_a_change_elsewhere(app, client):
    placer = unknowns.placer(app)
    place(app)
    ids = []
    for minutes, photo in enumerate(KIT):
        ids.append(add_sighting(app, photo, minutes=minutes))
        with app.app_context():
            assert placer.place([ids[-1]]) == 1
    assert placer.index.loads == 1
    assert len({group_of(app, i) for i in ids}) == 1

    # Someone names one of the faces: it leaves the group, so the centroid moved.
    kit = client.post(f"{API}/users", json={"name": "Kit"}).get_json()["id"]
    label = client.post(f"{API}/sightings/{ids[0]}/label", json={"user_id": kit})
    assert label.status_code == 200
    rose = add_sighting(app, ROSE[0], minutes=10)
    with app.app_context():
        placer.place([rose])
    assert placer.index.loads == 2
    assert group_of(app, rose) not in (None, group_of(app, ids[1]))

    # Retention deletes in bulk: noticed as well.
    with app.app_context():
        db.session.execute(delete(Sighting).where(Sighting.id == ids[1]))
        db.session.commit()
        again = add_sighting(app, ROSE[1], minutes=11)
        placer.place([again])
    assert placer.index.loads == 3
    assert group_of(app, again) == group_of(app, rose)


def test_do_two_servers_on_one_database_put_one_visitor_in_one_group(app_factory):
    first, second = app_factory(), app_factory()
    ids = [add_sighting(first, photo, minutes=i) for i, photo in enumerate(KIT)]

    for app, sighting_id in zip((first, second, first), ids, strict=True):
        with app.app_context():
            assert unknowns.placer(app).place([sighting_id]) == 1

    assert len({group_of(first, i) for i in ids}) == 1
    # Each server rebuilt its index when the other had placed a face meanwhile.
    assert unknowns.placer(first).index.loads == 2
    assert unknowns.placer(second).index.loads == 1


def test_are_sightings_that_ended_while_no_server_ran_grouped_after_the_first_request(app, client):
    ids = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(KIT)]

    client.get("/")

    assert wait_until(lambda: all(group_of(app, i) for i in ids))
    assert len({group_of(app, i) for i in ids}) == 1


def test_does_a_full_queue_drop_and_a_sweep_still_place_every_sighting(app):
    placer = unknowns.placer(app)
    place(app)
    placer.queue = queue.Queue(1)
    ids = [add_sighting(app, photo, minutes=i) for i, photo in enumerate(KIT + ROSE)]
    stuck, place_now = threading.Event(), placer.place
    placer.place = lambda some: stuck.wait(30) and place_now(some)
    try:
        for sighting_id in ids:
            placer.on_sighting("sighting.ended", {"id": sighting_id, "user_id": None})
    finally:
        stuck.set()

    assert placer.dropped >= len(ids) - 2
    assert wait_until(lambda: all(group_of(app, i) for i in ids))
    with app.app_context():
        assert db.session.query(UnknownGroup).count() == 2


def test_does_closing_end_the_placer_thread_when_the_stop_queues_behind_a_wake_up(app):
    # A gallery change wakes the thread; a close right after it queues its stop behind that
    # wake-up, and the thread takes both in one batch. It must end then, not 30 s later
    # (every server stop, and every test's teardown, waited 5 s for it and gave up).
    placer = unknowns.placer(app)
    placer.queue.put_nowait(None)
    placer.queue.put_nowait("stop")
    placer.worker.start()
    thread = placer.worker.thread

    thread.join(10)
    assert not thread.is_alive()
    assert placer.looked == 0 and placer.queue.empty()


@pytest.mark.parametrize("frames", [(10, 10), (10, 30)])
def test_does_enrolling_a_group_keep_one_sample_of_a_crop_seen_twice(app, client, frames):
    """The same crop in two sightings (the same photo sent twice) is one sample, whatever the
    encodings say: people.check_sample's same-photo rule, as everywhere else."""
    first = add_sighting(app, KIT[0], frames=frames[0])
    second = add_sighting(app, KIT[1], minutes=5, frames=frames[1])
    with app.app_context():
        db.session.get(Sighting, second).crop = db.session.get(Sighting, first).crop
        db.session.commit()
    place(app)
    (group,) = client.get(f"{API}/unknowns").get_json()["groups"]

    response = client.post(f"{API}/unknowns/{group['id']}/enroll", json={"name": "Kit"})

    assert response.status_code == 201
    assert len(response.get_json()["samples"]) == 1


# ---- the quality gate -----------------------------------------------------------------------


def camera_face(photo, scale: float = 1.0, blur: float = 0.0):
    """The photo's largest face as a camera would see it: scaled down and/or blurred on
    purpose, then detected, encoded and measured as the recognition worker does."""
    rgb = faces.load_image(photo)
    if scale != 1.0:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if blur:
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
    (face, *_) = faces.analyze(np.ascontiguousarray(rgb), upsample=2)
    return face, faces.crop(rgb, face.box)


def add_camera_sighting(app, face, crop, minutes=0) -> int:
    with app.app_context():
        row = Sighting(
            camera="main",
            started_at=T0 + timedelta(minutes=minutes),
            ended_at=T0 + timedelta(minutes=minutes, seconds=8),
            frames=12,
            crop=crop,
        )
        row.vector = face.encoding
        row.quality = face.quality
        db.session.add(row)
        db.session.commit()
        return row.id


def test_do_tiny_and_blurred_faces_stay_in_the_history_but_never_seed_a_group(app, client):
    tiny, tiny_crop = camera_face(KIT[1], scale=0.18)
    blurred, blurred_crop = camera_face(ROSE[0], blur=6)
    sharp, sharp_crop = camera_face(KIT[0])
    assert tiny.quality.height < faces.MIN_GROUP_FACE_HEIGHT
    assert blurred.quality.sharpness < faces.MIN_SHARPNESS
    small = add_camera_sighting(app, tiny, tiny_crop)
    smear = add_camera_sighting(app, blurred, blurred_crop, minutes=1)
    good = add_camera_sighting(app, sharp, sharp_crop, minutes=2)

    place(app)

    assert group_of(app, small) is None and group_of(app, smear) is None
    (group,) = client.get(f"{API}/unknowns").get_json()["groups"]
    assert group["sightings"] == 1 and group_of(app, good) == group["id"]
    # The history says why.
    history = client.get("/history?unknown=1").get_data(as_text=True)
    assert f"Not grouped: too small: {tiny.quality.height} px" in history
    assert "Not grouped: blurred: sharpness" in history


def test_does_a_group_of_faces_too_small_for_a_sample_offer_no_enrolment_and_say_why(app, client):
    # Kit seen three times at about 60 px: enough to group, too small for a sample.
    ids = []
    for minutes, photo in enumerate(KIT):
        face, crop = camera_face(photo, scale=60 / photo_samples(photo)[0].quality.height)
        assert faces.MIN_GROUP_FACE_HEIGHT <= face.quality.height < faces.MIN_FACE_HEIGHT
        ids.append(add_camera_sighting(app, face, crop, minutes=minutes))
    place(app)
    (group,) = client.get(f"{API}/unknowns").get_json()["groups"]
    largest = max(sighting(app, i).face_height for i in ids)

    page = client.get("/unknowns").get_data(as_text=True)
    refused = client.post(f"{API}/unknowns/{group['id']}/enroll", json={"name": "Kit"})

    assert f"the largest is {largest} px high; at least 80 px is needed" in page
    assert f'action="/unknowns/{group["id"]}/enroll"' not in page
    assert refused.status_code == 422
    message = refused.get_json()["error"]
    assert "Too small:" in message and "Move closer" not in message


def add_camera(app, name: str, tolerance: float | None):
    """A camera row with its own tolerance (never started: its sightings are made up)."""
    from facerec import camera
    from facerec.models import Camera

    from .conftest import CLIP

    with app.app_context():
        db.session.add(Camera(name=name, source=str(CLIP), tolerance=tolerance))
        db.session.commit()
    camera.registry(app).refresh(force=True)  # the registry looks at the table once a second


def test_is_an_unknown_face_judged_with_the_tolerance_of_the_camera_that_saw_it(app):
    """Kit is enrolled; the same face of his (0.37 from his sample) seen by a camera with the
    server's tolerance (0.6) is his, by a camera with its own 0.3 a stranger: grouped."""
    from .conftest import enroll

    add_camera(app, "strict", 0.3)
    enroll(app, "Kit", KIT[0])
    place(app)
    seen_here = add_sighting(app, KIT[2], camera="main")
    seen_strict = add_sighting(app, KIT[2], camera="strict")
    place(app)

    assert group_of(app, seen_here) is None  # the server's tolerance names him: not a visitor
    assert group_of(app, seen_strict) is not None  # that camera would not name him


def test_do_unknown_faces_join_a_group_within_their_own_cameras_join_distance(app):
    """Two faces of Kit 0.37 apart, nobody enrolled: within the server's join distance (0.75 x
    0.6 = 0.45) they are one visitor (as the other tests here show); seen by a camera with its
    own tolerance of 0.4 (join 0.3), two."""
    add_camera(app, "strict", 0.4)
    place(app)
    first = add_sighting(app, KIT[0], camera="strict")
    second = add_sighting(app, KIT[2], 1, camera="strict")
    place(app)

    assert group_of(app, first) is not None and group_of(app, second) is not None
    assert group_of(app, first) != group_of(app, second)
