"""Unknown visitors and face search with a real camera source: videos built from the photos."""

from __future__ import annotations

import time

import numpy as np
import pytest

from facerec import camera
from facerec.extensions import db
from facerec.models import Sighting

from .conftest import DATA, enroll, login_client, photo_samples
from .test_api import API, post_form, upload

# Real videos through the live pipeline: what they test is the pipeline, not the database.
pytestmark = pytest.mark.sqlite_only

FPS = 8.0  # slow, so that a busy test machine still recognises every shot several times
SIZE = (1280, 720)
KIT = [
    DATA / "people" / "kit_harington" / "john1.jpeg",
    DATA / "people" / "kit_harington" / "john2.jpeg",
    DATA / "people-test" / "johnsnow_test1.jpg",
]
ROSE = [DATA / "people" / "rose_leslie" / "img1.jpg", DATA / "people" / "rose_leslie" / "img2.jpg"]


def video(path, photos, seconds=3.0, gap=1.0):
    """Each photo for ``seconds`` (fitted into the frame), then ``gap`` of an empty grey wall."""
    import cv2

    width, height = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    wall = np.full((height, width, 3), 110, np.uint8)
    for photo in photos:
        image = cv2.imread(str(photo))
        scale = min(1.0, width / image.shape[1], height / image.shape[0])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = wall.copy()
        y, x = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
        frame[y : y + image.shape[0], x : x + image.shape[1]] = image
        for _ in range(round(seconds * FPS)):
            writer.write(frame)
        for _ in range(round(gap * FPS)):
            writer.write(wall)
    writer.release()
    return path


@pytest.fixture(scope="module")
def kit_video(tmp_path_factory):
    return video(tmp_path_factory.mktemp("kit") / "kit.avi", KIT + KIT, seconds=4.0)


@pytest.fixture(scope="module")
def kit_and_rose_video(tmp_path_factory):
    photos = [KIT[0], ROSE[0], KIT[1], ROSE[1]]
    return video(tmp_path_factory.mktemp("both") / "both.avi", photos, seconds=4.0)


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def ended_unknown(app) -> list[Sighting]:
    with app.app_context():
        rows = db.session.scalars(
            db.select(Sighting).where(
                Sighting.user_id.is_(None),
                Sighting.ended_at.is_not(None),
                Sighting.encoding.is_not(None),
            )
        ).all()
        db.session.expunge_all()
        return rows


@pytest.fixture
def client_for():
    return lambda app: login_client(app, app.test_client())


def count_results(cam) -> list[int]:
    """A live count of the recognition results the camera receives."""
    count = [0]
    tick = cam.recognition_rate.tick

    def counting(*args, **kwargs):
        count[0] += 1
        return tick(*args, **kwargs)

    cam.recognition_rate.tick = counting
    return count


def watch(app_factory, source, **config):
    app = app_factory(FACEREC_CAMERA=str(source), FACEREC_IDLE_TIMEOUT=0, **config)
    return app, camera.service(app)


def test_is_a_visitor_seen_several_times_one_group_named_live_once_enrolled(
    app_factory, client_for, kit_video
):
    app, cam = watch(app_factory, kit_video)
    enroll(app, "obama", DATA / "known" / "obama.jpg")
    client = client_for(app)
    cam.start()
    try:
        # Grouped as each sighting ends (the subscription), before anyone asks.
        assert wait_until(
            lambda: len([s for s in ended_unknown(app) if s.group_id]) >= 3, timeout=120
        ), "three unknown sightings of kit were not recorded and grouped"
        (group,) = client.get(f"{API}/unknowns").get_json()["groups"]
        assert group["sightings"] >= 3
        assert {s.group_id for s in ended_unknown(app)} == {group["id"]}

        # Enrol while he is in view. The live status names him within a few recognition
        # results: the worker sees the new gallery version within 0.2 s and the track's vote
        # starts again on it. 8 results are 1 s at the 8 results a second the design targets
        # (the target is 2 s); the test counts results because the machine running the suite
        # may recognise far slower than that, and prints the time.
        assert wait_until(lambda: cam.status()["faces"], timeout=30)
        results = count_results(cam)
        response = client.post(
            f"{API}/unknowns/{group['id']}/enroll", json={"name": "Kit Harington"}
        )
        enrolled, after = time.monotonic(), results[0]
        assert response.status_code == 201, response.get_json()
        person = response.get_json()
        assert person["samples"] and person["name"] == "Kit Harington"

        def named():
            return "Kit Harington" in [f.name for f in cam.status()["faces"]]

        assert wait_until(named, timeout=60), "the live status never named him"
        print(f"named {time.monotonic() - enrolled:.2f} s, {results[0] - after} results after")
        assert results[0] - after <= 8
    finally:
        cam.stop()


def test_are_two_unknown_people_two_groups(app_factory, client_for, kit_and_rose_video):
    app, cam = watch(app_factory, kit_and_rose_video)
    enroll(app, "obama", DATA / "known" / "obama.jpg")
    client = client_for(app)
    kit = photo_samples(KIT[0])[0].encoding
    rose = photo_samples(ROSE[0])[0].encoding

    def who(row):
        return (
            "kit"
            if np.linalg.norm(row.vector - kit) < np.linalg.norm(row.vector - rose)
            else "rose"
        )

    def seen_twice_each():
        rows = [who(row) for row in ended_unknown(app)]
        return rows.count("kit") >= 2 and rows.count("rose") >= 2

    cam.start()
    try:
        assert wait_until(seen_twice_each, timeout=240), "not two sightings of each were recorded"
    finally:
        cam.stop()
    # The last sightings end as the camera stops: grouped on the placer's thread soon after.
    assert wait_until(lambda: all(row.group_id for row in ended_unknown(app)), timeout=30)
    groups = client.get(f"{API}/unknowns").get_json()["groups"]

    assert len(groups) == 2
    members = {}
    for row in ended_unknown(app):
        members.setdefault(row.group_id, set()).add(who(row))
    assert sorted(map(sorted, members.values())) == [["kit"], ["rose"]]


def test_does_a_photo_find_the_clips_unknown_sightings_of_him_and_biden_none(
    app_factory, client_for, clip_10fps
):
    app, cam = watch(app_factory, clip_10fps)  # nobody enrolled; the clip's scenes at 10 fps
    client = client_for(app)
    lin = photo_samples(DATA / "known" / "lin-manuel-miranda.png")[0].encoding

    def of_lin():
        return [s for s in ended_unknown(app) if np.linalg.norm(s.vector - lin) <= 0.6]

    cam.start()
    try:
        assert wait_until(lambda: of_lin(), timeout=120), "no sighting of him was recorded"
    finally:
        cam.stop()
    expected = {s.id for s in of_lin()}

    found = post_form(
        client,
        f"{API}/sightings/search",
        {"image": upload(DATA / "known" / "lin-manuel-miranda.png")},
    )
    biden = post_form(
        client, f"{API}/sightings/search", {"image": upload(DATA / "known" / "biden.jpg")}
    )

    matches = found.get_json()["matches"]
    assert {m["sighting"]["id"] for m in matches} >= expected
    assert all(m["sighting"]["name"] is None and m["distance"] <= 0.6 for m in matches)
    assert biden.status_code == 200 and biden.get_json()["matches"] == []
