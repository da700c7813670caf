"""One process runs a camera at a time (a lease in the database), and the sightings a dead
process left open are closed when the camera is taken over."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from facerec import camera
from facerec.camera.lease import TTL
from facerec.extensions import db
from facerec.models import CameraLease, Sighting, utcnow

from .conftest import CLIP
from .servers import Gunicorn, add_api_token, wait_for


def states(*apps) -> list[tuple[str, str | None]]:
    return [(app.extensions["cameras"].first().state, app.extensions["cameras"].first().error)
            for app in apps]  # fmt: skip


@pytest.mark.both_databases
def test_does_one_of_two_servers_on_one_database_run_the_camera(app_factory):
    first = app_factory(FACEREC_CAMERA=str(CLIP))
    second = app_factory(FACEREC_CAMERA=str(CLIP))  # another server, the same camera
    one, other = first.extensions["cameras"].first(), second.extensions["cameras"].first()
    one.start()
    assert wait_for(lambda: one.state == "running", timeout=30), states(first, second)
    other.start()
    assert wait_for(lambda: other.state == "unavailable", timeout=30), states(first, second)
    assert other.error.startswith("another process runs this camera")
    time.sleep(2)
    assert one.state == "running" and other.state == "unavailable"  # still one, not both

    one.stop()  # the lease is given back at once: the other server takes over
    assert wait_for(lambda: other.state == "running", timeout=30), states(first, second)


@pytest.mark.both_databases
def test_are_sightings_left_open_by_a_dead_process_closed_at_the_next_start(app_factory):
    app = app_factory(FACEREC_CAMERA=str(CLIP))
    last_alive = time.time() - 120  # the dead process renewed its lease two minutes ago
    with app.app_context():
        db.session.add(
            CameraLease(camera="main", owner="gone:4242:dead", expires_at=last_alive + TTL)
        )
        db.session.add(
            Sighting(camera="main", started_at=utcnow() - timedelta(minutes=5), frames=40)
        )
        db.session.add(Sighting(camera="lab", started_at=utcnow(), frames=3))  # another camera
        db.session.commit()
    cam = app.extensions["cameras"].first()
    cam.start()
    assert wait_for(lambda: cam.state == "running", timeout=30)
    with app.app_context():
        rows = {row.camera: row for row in db.session.execute(select(Sighting)).scalars()}
        ended = rows["main"].ended_at
        assert ended is not None, "still in view for ever"
        expected = datetime.fromtimestamp(last_alive, UTC).replace(tzinfo=None)
        assert abs((ended - expected).total_seconds()) < 2
        assert rows["lab"].ended_at is None  # not this camera's: left to its own server


@pytest.mark.both_databases
def test_are_sightings_no_process_runs_closed_when_the_server_starts(app_factory):
    """Closed by the server's start (registry.watch, as wsgi.py calls it), autostart or not:
    a camera whose process died, one no process holds at all (removed, or from before the
    leases); not one another server runs now."""
    app = app_factory()
    now = time.time()
    started = utcnow() - timedelta(minutes=10)
    with app.app_context():
        db.session.add_all(
            [
                CameraLease(camera="door", owner="gone:1:dead", expires_at=now - 120 + TTL),
                CameraLease(camera="hall", owner="other:2:alive", expires_at=now + TTL),
            ]
            + [
                Sighting(camera=name, started_at=started, frames=9)
                for name in ("door", "yard", "hall")
            ]
        )
        db.session.commit()
    camera.registry(app).watch()
    with app.app_context():
        rows = {row.camera: row for row in db.session.execute(select(Sighting)).scalars()}
        door_alive = datetime.fromtimestamp(now - 120, UTC).replace(tzinfo=None)
        assert abs((rows["door"].ended_at - door_alive).total_seconds()) < 2
        assert rows["yard"].ended_at == started  # no sign of life after it started
        assert rows["hall"].ended_at is None  # its camera runs on another server


def start_camera(server, token):
    request = urllib.request.Request(
        server.url + "/api/v1/stream/start",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    urllib.request.urlopen(request, timeout=30).close()


def camera_state(server, token) -> str:
    request = urllib.request.Request(
        server.url + "/api/v1/stream/status", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        status = json.loads(response.read())
    return status["state"]


@pytest.mark.sqlite_only
def test_do_two_gunicorn_servers_on_one_database_run_one_camera_once(tmp_path):
    """Two real servers, one SQLite database, the same FACEREC_CAMERA: one runs it; kill -9
    of that one's master and the other takes the camera over once the lease expired."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    first = Gunicorn(tmp_path / "a", FACEREC_CAMERA=str(CLIP))
    second = None
    try:
        token = add_api_token(first.database_url)
        second = Gunicorn(tmp_path / "b", FACEREC_CAMERA=str(CLIP), DATABASE_URL=first.database_url)
        start_camera(first, token)
        assert wait_for(lambda: camera_state(first, token) == "running", timeout=60)
        start_camera(second, token)
        assert wait_for(lambda: camera_state(second, token) == "unavailable", timeout=60)
        time.sleep(3)
        assert camera_state(first, token) == "running"
        assert camera_state(second, token) == "unavailable"

        os.kill(first.process.pid, signal.SIGKILL)  # its worker goes with it (gunicorn_conf)
        assert wait_for(lambda: camera_state(second, token) == "running", timeout=TTL + 30)
    finally:
        first.stop()
        if second is not None:
            second.stop()
