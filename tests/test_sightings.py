"""Sightings: written from track events off the capture thread, listed by the API, pruned."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest

from facerec import sightings
from facerec.camera.tracks import TrackEvent, TrackSummary
from facerec.extensions import db
from facerec.models import Sighting, User, utcnow

from .conftest import login_client


def jpeg(color=(40, 90, 160)) -> bytes:
    picture = np.full((120, 100, 3), color, np.uint8)
    return cv2.imencode(".jpg", picture)[1].tobytes()


def add_person(app, name="Ada") -> int:
    with app.app_context():
        user = User(name=name, details="")
        db.session.add(user)
        db.session.commit()
        return user.id


def add_sighting(app, *, user_id=None, name=None, camera="main", age=timedelta(0), **extra) -> int:
    with app.app_context():
        started = utcnow() - age
        row = Sighting(
            camera=camera,
            user_id=user_id,
            name=name,
            started_at=started,
            ended_at=started + timedelta(seconds=5),
            frames=150,
            distance=0.41 if user_id else 0.8,
            crop=jpeg(),
            **extra,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def summary(track_id=1, user_id=None, name=None, ended=None, frames=10, crop=None):
    return TrackSummary(
        track_id=track_id,
        user_id=user_id,
        name=name,
        distance=0.42 if user_id else 0.75,
        started=time.time() - 3,
        ended=ended,
        frames=frames,
        encoding=np.linspace(-0.2, 0.2, 128),
        crop=crop if crop is not None else jpeg(),
    )


# ---- the writer --------------------------------------------------------------------------


def test_does_a_track_become_one_row_started_then_ended_with_events_after_commit(app):
    ada = add_person(app)
    writer = sightings.recorder(app)
    heard = []

    def callback(event, sighting):
        # Called after the commit: another session already sees the row in that state.
        with app.app_context():
            row = db.session.get(Sighting, sighting["id"])
            heard.append((event, sighting, row.ended_at is not None, threading.current_thread()))

    sightings.subscribe(callback, app)
    writer.put("main", TrackEvent("started", summary(7)))
    writer.put("main", TrackEvent("updated", summary(7, ada, "Ada")))
    writer.put("main", TrackEvent("ended", summary(7, ada, "Ada", ended=time.time(), frames=42)))
    assert writer.flush()
    with app.app_context():
        rows = db.session.scalars(db.select(Sighting)).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.user_id, row.name, row.frames, row.camera) == (ada, "Ada", 42, "main")
        assert row.started_at < row.ended_at
        assert row.vector.shape == (128,)
        assert cv2.imdecode(np.frombuffer(row.crop, np.uint8), cv2.IMREAD_COLOR) is not None
    assert [event for event, *_ in heard] == [
        "sighting.started",
        "sighting.updated",
        "sighting.ended",
    ]
    assert heard[0][1]["ended_at"] is None and heard[0][1]["name"] is None
    assert heard[2][1]["ended_at"] is not None and heard[2][2] is True
    assert all(thread is not threading.main_thread() for *_, thread in heard)
    assert set(heard[2][1]) == {
        "id",
        "camera",
        "user_id",
        "name",
        "started_at",
        "ended_at",
        "frames",
        "distance",
        "labelled_by_hand",
        "crop_url",
        "group_id",
    }
    writer.close()


def test_does_a_track_still_in_view_keep_the_person_someone_gave_it_by_hand(app):
    from facerec.unknowns.service import relabel

    ada = add_person(app)
    writer = sightings.recorder(app)
    writer.put("main", TrackEvent("started", summary(3)))
    assert writer.flush()
    with app.app_context():
        row = db.session.scalars(db.select(Sighting)).one()
        relabel(row, db.session.get(User, ada))  # "This is Ada" while the face is in view
        db.session.commit()
    writer.put("main", TrackEvent("ended", summary(3, ended=time.time(), frames=30)))
    assert writer.flush()
    with app.app_context():
        row = db.session.scalars(db.select(Sighting)).one()
        assert (row.user_id, row.labelled_by_hand, row.frames) == (ada, True, 30)
    writer.close()


def test_does_a_full_queue_drop_and_count_instead_of_blocking_the_camera(app):
    writer = sightings.SightingWriter(app, maxsize=2)
    gate = threading.Event()
    writer.subscribers.append(lambda *_: gate.wait(10))  # hold the writer thread
    started = time.perf_counter()
    accepted = [writer.put("main", TrackEvent("started", summary(i))) for i in range(1, 7)]
    assert time.perf_counter() - started < 0.5
    assert not all(accepted)
    assert writer.dropped == accepted.count(False) >= 3
    gate.set()
    assert writer.flush()
    writer.close()


def test_does_a_failing_subscriber_not_stop_the_others(app):
    writer = sightings.recorder(app)
    heard = []
    sightings.subscribe(lambda *_: 1 / 0, app)
    sightings.subscribe(lambda event, _s: heard.append(event), app)
    writer.put("main", TrackEvent("started", summary(3)))
    assert writer.flush()
    assert heard == ["sighting.started"]
    writer.close()


def test_is_a_track_of_a_person_deleted_meanwhile_never_written_again(app, client):
    """Issue 25: the writer used to write the open track again as an unknown face, with its
    crop. A track whose person is deleted while in view is forgotten until it ends, under
    any name the tracker gives it afterwards; the next track is written as usual."""
    ada = add_person(app)
    writer = sightings.recorder(app)
    writer.put("main", TrackEvent("started", summary(5, ada, "Ada", crop=jpeg())))
    assert writer.flush()
    with app.app_context():
        assert db.session.scalars(db.select(Sighting.user_id)).all() == [ada]
    assert client.delete(f"/api/v1/users/{ada}").status_code == 204

    # In view still: named Ada until the gallery reloads, then unknown; then it ends.
    writer.put("main", TrackEvent("updated", summary(5, ada, "Ada", crop=jpeg())))
    writer.put("main", TrackEvent("updated", summary(5, None, None, crop=jpeg())))
    writer.put("main", TrackEvent("ended", summary(5, None, None, ended=time.time())))
    # A track started before the delete but written after it: refused by the key, forgotten.
    writer.put("main", TrackEvent("started", summary(6, ada, "Ada", crop=jpeg())))
    writer.put("main", TrackEvent("updated", summary(6, None, None, crop=jpeg())))
    writer.put("main", TrackEvent("started", summary(7)))  # someone else, later
    assert writer.flush()

    with app.app_context():
        rows = db.session.execute(db.select(Sighting.id, Sighting.user_id)).all()
    assert len(rows) == 1 and rows[0].user_id is None  # track 7 only
    assert client.get("/api/v1/sightings").get_json()["sightings"][0]["id"] == rows[0].id
    writer.close()


# ---- the API -----------------------------------------------------------------------------


def test_can_an_anonymous_visitor_not_read_sightings(app, anon_client):
    sid = add_sighting(app)
    for path in (
        "/api/v1/sightings",
        f"/api/v1/sightings/{sid}",
        f"/api/v1/sightings/{sid}/crop.jpg",
    ):
        assert anon_client.get(path).status_code == 401


def test_do_the_api_filters_agree_with_the_database(app, client):
    ada, grace = add_person(app, "Ada"), add_person(app, "Grace")
    add_sighting(app, user_id=ada, name="Ada", age=timedelta(days=3))
    add_sighting(app, user_id=ada, name="Ada", camera="door")
    add_sighting(app, user_id=grace, name="Grace")
    add_sighting(app)
    add_sighting(app, camera="door", age=timedelta(days=1))

    def names(query):
        response = client.get(f"/api/v1/sightings?{query}")
        assert response.status_code == 200, response.get_json()
        return [(s["name"], s["camera"]) for s in response.get_json()["sightings"]]

    # Newest first (the order rows were written in).
    assert names("") == [
        (None, "door"),
        (None, "main"),
        ("Grace", "main"),
        ("Ada", "door"),
        ("Ada", "main"),
    ]
    assert names(f"user_id={ada}") == [("Ada", "door"), ("Ada", "main")]
    assert names("unknown=1") == [(None, "door"), (None, "main")]
    assert names("camera=door") == [(None, "door"), ("Ada", "door")]
    since = (utcnow() - timedelta(hours=36)).replace(microsecond=0).isoformat() + "Z"
    assert len(names(f"since={since}")) == 4
    until = (utcnow() - timedelta(days=2)).replace(microsecond=0).isoformat() + "Z"
    assert names(f"until={until}") == [("Ada", "main")]
    assert names(f"user_id={ada}&unknown=1") == []  # filters combine


def test_does_paging_with_next_before_id_visit_every_sighting_once(app, client):
    ids = [add_sighting(app) for _ in range(7)]
    seen, before = [], None
    for _ in range(5):
        query = "limit=3" + (f"&before_id={before}" if before else "")
        body = client.get(f"/api/v1/sightings?{query}").get_json()
        seen += [s["id"] for s in body["sightings"]]
        before = body["next_before_id"]
        if before is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_can_one_sighting_and_its_crop_be_read(app, client):
    ada = add_person(app)
    sid = add_sighting(app, user_id=ada, name="Ada")
    body = client.get(f"/api/v1/sightings/{sid}").get_json()
    assert body["name"] == "Ada" and body["ended_at"].endswith("Z")
    assert body["crop_url"] == f"/api/v1/sightings/{sid}/crop.jpg"
    crop = client.get(body["crop_url"])
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(crop.data, np.uint8), cv2.IMREAD_COLOR) is not None
    assert client.get("/api/v1/sightings/999999").status_code == 404
    assert client.get("/api/v1/sightings/999999/crop.jpg").get_json()["error"]


@pytest.mark.parametrize(
    "query",
    [
        "user_id=abc",
        "limit=0",
        "limit=100000",
        "before_id=-1",
        "since=yesterday",
        "until=2026-13-01",
        "unknown=maybe",
        "camera=" + "x" * 65,
    ],
)
def test_are_bad_filters_refused_with_422_and_a_message(client, query):
    response = client.get(f"/api/v1/sightings?{query}")
    assert response.status_code == 422
    assert response.get_json()["error"]


def test_does_deleting_a_person_delete_their_sightings(app, client):
    ada = add_person(app)
    sid = add_sighting(app, user_id=ada, name="Ada")
    other = add_sighting(app)
    with app.app_context():
        db.session.delete(db.session.get(User, ada))
        db.session.commit()
    assert client.get(f"/api/v1/sightings/{sid}").status_code == 404
    assert client.get(f"/api/v1/sightings/{other}").status_code == 200


# ---- retention ---------------------------------------------------------------------------


def remaining(app) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(db.select(Sighting.id)))


def test_does_prune_delete_exactly_the_sightings_older_than_n_days(app, runner):
    old = add_sighting(app, age=timedelta(days=10, hours=1))
    edge = add_sighting(app, age=timedelta(days=9, hours=23))
    new = add_sighting(app)
    result = runner.invoke(args=["sightings", "prune", "--days", "10"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 sighting:" in result.output
    assert remaining(app) == {edge, new}
    assert old not in remaining(app)


def test_does_prune_without_days_use_the_retention_setting_and_0_keep_all(app_factory):
    app = app_factory(FACEREC_RETENTION_DAYS=0, FACEREC_RETENTION_UNKNOWN_DAYS=0)
    old = add_sighting(app, age=timedelta(days=400))
    result = app.test_cli_runner().invoke(args=["sightings", "prune"])
    assert result.exit_code == 0 and "nothing deleted" in result.output
    assert remaining(app) == {old}


def test_are_old_sightings_pruned_automatically_while_the_server_runs(app_factory):
    app = app_factory(FACEREC_RETENTION_DAYS=2, FACEREC_RETENTION_UNKNOWN_DAYS=2)
    old = add_sighting(app, age=timedelta(days=3))
    new = add_sighting(app, age=timedelta(days=1))
    client = login_client(app, app.test_client())
    client.get("/api/v1/sightings")  # the first request after start prunes (then hourly)
    deadline = time.monotonic() + 10
    while old in remaining(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remaining(app) == {new}


def test_does_retention_remove_exactly_the_expired_rows_of_each_kind(app_factory):
    """Strangers' faces go sooner (7 days) than known people's (30); 0 keeps a kind."""
    app = app_factory()  # the defaults: 30, 7, 365
    ada = add_person(app, "Ada")
    known_old = add_sighting(app, user_id=ada, name="Ada", age=timedelta(days=31))
    known_kept = add_sighting(app, user_id=ada, name="Ada", age=timedelta(days=20))
    stranger_old = add_sighting(app, age=timedelta(days=8))
    stranger_kept = add_sighting(app, age=timedelta(days=6))
    client = login_client(app, app.test_client())
    client.get("/api/v1/sightings")  # the first request after start prunes (then hourly)
    deadline = time.monotonic() + 10
    while known_old in remaining(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remaining(app) == {known_kept, stranger_kept}
    assert stranger_old not in remaining(app)

    history = client.get("/history").get_data(as_text=True)
    assert "Known people's sightings are kept 30 days" in history
    assert "unknown visitors' 7 days" in history
    assert "searches and the audit trail 365 days" in history


def test_does_prune_on_the_command_line_take_each_kind_apart(app, runner):
    ada = add_person(app, "Ada")
    known = add_sighting(app, user_id=ada, name="Ada", age=timedelta(days=10))
    stranger = add_sighting(app, age=timedelta(days=10))
    result = runner.invoke(args=["sightings", "prune", "--days", "30", "--unknown-days", "5"])
    assert result.exit_code == 0, result.output
    assert "known people's older than 30 days, unknown visitors' older than 5 days" in (
        result.output
    )
    assert remaining(app) == {known}
    assert stranger not in remaining(app)
