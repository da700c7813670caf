"""Several facerec servers on one database: what one server changes, the others see.

Each test builds two apps on the same database (``app_factory`` gives every app of a test the
same one), as two servers would share a PostgreSQL database: each has its own gallery cache,
its own connection pool and its own face engine calls. The tests run on SQLite too (two
servers on one machine may share a file), except those about PostgreSQL itself.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from facerec import camera
from facerec.extensions import db
from facerec.models import Camera, FaceSample, GalleryState, User
from tests.conftest import CLIP, ROOT, enroll, login_client
from tests.servers import wait_for
from tests.test_api import post_form, upload

API = "/api/v1"


def names_seen(client, photo: Path) -> list[str | None]:
    response = post_form(client, f"{API}/recognize", {"image": upload(photo)})
    assert response.status_code == 200, response.get_json()
    return [face["name"] for face in response.get_json()["faces"]]


def seen_within(client, photo: Path, name: str | None, seconds: float = 2.0) -> bool:
    """Does ``client`` name (or stop naming) ``name`` in ``photo`` within ``seconds``?

    The first answer counts even if the face work alone takes longer on a busy machine.
    """
    deadline = time.monotonic() + seconds
    while True:
        seen = names_seen(client, photo)
        if (name in seen) if name else not any(seen):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.fixture
def servers(app_factory):
    """Two apps on one database, each with a signed-in API client."""
    a, b = app_factory(), app_factory()
    return login_client(a, a.test_client()), login_client(b, b.test_client())


def test_is_a_person_enrolled_on_one_server_named_by_the_other_and_forgotten_after_a_delete(
    servers, data_dir
):
    on_a, on_b = servers
    photo = data_dir / "unknown" / "obama-480p.jpg"
    # Both servers have recognised a photo already, so each holds a gallery in memory.
    assert names_seen(on_a, photo) == [None]
    assert names_seen(on_b, photo) == [None]

    created = post_form(
        on_a,
        f"{API}/users/with-photos",
        {"name": "Barack Obama", "images": upload(data_dir / "known/obama.jpg")},
    )
    assert created.status_code == 201, created.get_json()
    assert seen_within(on_b, photo, "Barack Obama")

    deleted = on_b.delete(f"{API}/users/{created.get_json()['id']}")
    assert deleted.status_code == 204
    assert seen_within(on_a, photo, None)


def test_does_a_sample_deleted_on_one_server_stop_matching_on_the_other(
    servers, app_factory, data_dir
):
    on_a, on_b = servers
    app = on_a.application
    # One person with two samples: a photo of Obama and, wrongly, one of Biden.
    enroll(app, "pat", data_dir / "known/obama.jpg", data_dir / "known/biden.jpg")
    biden = data_dir / "people/biden/biden2.jpg"
    assert names_seen(on_a, biden) == ["pat"]
    with app.app_context():
        wrong = db.session.scalars(select(FaceSample.id).order_by(FaceSample.id)).all()[1]

    response = on_b.post(f"/admin/samples/{wrong}/delete")
    assert response.status_code in (302, 303)
    assert seen_within(on_a, biden, None)
    assert names_seen(on_a, data_dir / "unknown/obama-480p.jpg") == ["pat"]


@pytest.mark.postgresql_only
def test_does_the_camera_of_one_server_name_a_person_enrolled_on_another_and_forget_them(
    app_factory, data_dir
):
    """The recognition worker (its own process and connection) follows the shared database."""
    with_camera = app_factory(FACEREC_CAMERA=str(CLIP))
    on_a = login_client(other := app_factory(), other.test_client())
    with with_camera.app_context():
        cam = camera.service()
    cam.start()

    def names():
        return {face.name for face in cam.status()["faces"]}

    # The worker is answering: faces in the clip, all unknown.
    assert wait_for(lambda: None in names(), timeout=60)
    created = post_form(
        on_a,
        f"{API}/users/with-photos",
        {"name": "Lin", "images": upload(data_dir / "known/lin-manuel-miranda.png")},
    )
    assert created.status_code == 201, created.get_json()
    assert wait_for(lambda: "Lin" in names(), timeout=30)

    assert on_a.delete(f"{API}/users/{created.get_json()['id']}").status_code == 204
    assert wait_for(lambda: "Lin" not in names() and None in names(), timeout=30)
    assert cam.feed.restarts == 0  # followed without restarting anything


def test_can_two_servers_make_the_first_gallery_change_at_the_same_moment(app_factory):
    """The gallery version row is created by the first change; a second server must wait."""
    first, second = app_factory(), app_factory()
    flushed, go_on, errors = threading.Event(), threading.Event(), []

    def server_a():
        with first.app_context():
            db.session.add(User(name="Ada", details=""))
            db.session.flush()  # creates the version row, in a transaction still open
            flushed.set()
            go_on.wait(10)
            db.session.commit()

    def server_b():
        flushed.wait(10)
        try:
            with second.app_context():
                db.session.add(User(name="Grace", details=""))
                db.session.commit()  # waits for server A's transaction, then counts on
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=server_a), threading.Thread(target=server_b)]
    for thread in threads:
        thread.start()
    flushed.wait(10)
    time.sleep(0.5)  # server B is now waiting on A's row lock (or SQLite's write lock)
    go_on.set()
    for thread in threads:
        thread.join(20)
    assert errors == []
    with first.app_context():
        # Both changes counted (a lost update leaves 1); the unknowns' look-again after a
        # change may store people's new thresholds, a change of its own, so not exactly 2.
        assert db.session.scalar(select(GalleryState.version)) >= 2
        assert sorted(db.session.scalars(select(User.name))) == ["Ada", "Grace"]


@pytest.mark.postgresql_only
def test_do_two_servers_upgrading_an_empty_database_at_once_both_start(empty_database_url):
    """Two `make run` at the same moment: one migrates, the other waits and finds it done."""
    env = {**os.environ, "DATABASE_URL": empty_database_url, "FLASK_APP": "facerec"}
    flask = str(Path(sys.executable).parent / "flask")
    runs = [
        subprocess.Popen(
            [flask, "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'users'"))
        assert tables.scalar() == 1
    engine.dispose()
    assert len(heads) == 1


def _people(url: str) -> list[tuple]:
    """Every person with their samples' file hashes, encodings and thumbnails' hashes."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(User.name, FaceSample.content_hash, FaceSample.encoding, FaceSample.thumbnail)
            .join(FaceSample.user)
            .order_by(User.name, FaceSample.content_hash)
        ).all()
    engine.dispose()
    return [(n, h, bytes(e), hashlib.sha256(t).hexdigest()) for n, h, e, t in rows]


@pytest.mark.postgresql_only
def test_does_an_import_with_two_jobs_store_on_postgresql_what_it_stores_on_sqlite(
    app_factory, database_url, tmp_path, data_dir
):
    sqlite_url = f"sqlite:///{tmp_path / 'compare.db'}"
    results = {}
    for url in (database_url, sqlite_url):
        app = app_factory(SQLALCHEMY_DATABASE_URI=url)
        runner = app.test_cli_runner()
        first = runner.invoke(args=["users", "import", str(data_dir / "known"), "--jobs", "2"])
        again = runner.invoke(args=["users", "import", str(data_dir / "known"), "--jobs", "2"])
        assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
        assert "samples added: 0" in again.output
        results[url.split(":")[0]] = (first.stdout, _people(url))
    assert results["postgresql+psycopg"] == results["sqlite"]
    assert len(results["sqlite"][1]) == 4


def test_does_each_server_run_and_manage_only_its_own_cameras(app_factory):
    """People are shared; cameras belong to the server named by FACEREC_SERVER."""
    entrance = app_factory(FACEREC_SERVER="entrance")
    yard = app_factory(FACEREC_SERVER="yard")
    added = entrance.test_cli_runner().invoke(args=["cameras", "add", "door", str(CLIP)])
    assert added.exit_code == 0, added.output
    runner = yard.test_cli_runner()
    assert runner.invoke(args=["cameras", "add", "gate", "0", "--disabled"]).exit_code == 0

    for app, mine in ((entrance, ["door"]), (yard, ["gate"])):
        with app.app_context():
            registry = camera.registry()
            registry.refresh(force=True)
            assert [spec.name for spec in registry.specs()] == mine
        cameras = login_client(app, app.test_client()).get(f"{API}/cameras").get_json()
        assert [c["name"] for c in cameras["cameras"]] == mine
    with entrance.app_context():
        assert [s.camera for s in camera.services()] == ["door"]  # opened by this server only
        door = db.session.scalar(select(Camera.id).where(Camera.name == "door"))

    listed = runner.invoke(args=["cameras", "list"]).output
    assert "gate" in listed and "door" not in listed
    # Names stay unique over every server: the shared history names cameras.
    taken = runner.invoke(args=["cameras", "add", "door", "1"])
    assert taken.exit_code == 1 and "on the server “entrance”" in taken.output
    # The yard's operators cannot change or delete the entrance's camera.
    on_yard = login_client(yard, yard.test_client())
    assert on_yard.get(f"/admin/cameras/{door}").status_code == 404
    assert on_yard.post(f"/admin/cameras/{door}/delete").status_code == 404
    assert runner.invoke(args=["cameras", "remove", "door"]).exit_code == 1
    with entrance.app_context():
        assert db.session.get(Camera, door) is not None
