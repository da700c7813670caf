"""Shared fixtures: an app on a temporary database, clients, the CLI runner, test photos."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from facerec import create_app, faces, shutdown
from facerec.config import TestConfig
from facerec.extensions import db
from facerec.models import Account, FaceSample, User

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACEREC_TEST_DATA") or ROOT.parent / "shared" / "faces").resolve()
CLIP = DATA / "short_hamilton_clip.mp4"
TEST_PASSWORD = "correct horse battery staple"

if not (DATA / "known" / "obama.jpg").is_file():
    raise RuntimeError(f"test photos not found in {DATA}: set FACEREC_TEST_DATA")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def change_settings(app, **changes):
    """Change settings of a running ``app`` (attribute names: ``snapshots=1``), for what is
    read per request; what an app builds at start (cameras, pools) keeps the first value."""
    app.extensions["settings"] = app.extensions["settings"].replace(**changes)


def make_app(tmp_path, database_url: str | None = None, **overrides):
    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = database_url or f"sqlite:///{tmp_path / 'facerec-test.db'}"
    config.update(overrides)
    # An instance folder of its own (the setup code lives there), not the project's.
    app = create_app(config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        db.create_all()
    return app


# The suite on both databases. Every test that builds an app (through ``app_factory``, so
# also ``app``, ``client``, ``runner``...) runs twice, as test[sqlite] and test[postgresql],
# each on a fresh database: a file for SQLite, a database copied from a template on one
# throwaway PostgreSQL server for the session. ``--db=sqlite`` (or FACEREC_TEST_DB=sqlite)
# runs the SQLite half alone, ``--db=postgresql`` the PostgreSQL half.
# Run on SQLite alone, to keep the PostgreSQL half under two minutes (see docs/development.md,
# "The suite runs on SQLite and on PostgreSQL"): tests whose subject is not what the database
# stores or how it is queried, that is browser tests, tests of the camera pipeline on the
# clip (``clip_app``), and tests marked ``sqlite_only`` (one by one, or a whole module with
# ``pytestmark``).
# ``both_databases`` puts a test back on both, also inside a module marked ``sqlite_only``.
# Tests marked ``postgresql_only`` run on PostgreSQL alone. A test that needs a database
# without the schema (migrations) asks for ``empty_database_url`` instead of ``database_url``.
DATABASES = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=("both", *DATABASES),
        default=os.environ.get("FACEREC_TEST_DB") or "both",
        help="the databases the database tests run on (default: both)",
    )


def _wanted_databases(config) -> tuple[str, ...]:
    choice = config.getoption("--db")
    return DATABASES if choice == "both" else (choice,)


def pytest_generate_tests(metafunc):
    marked = metafunc.definition.get_closest_marker
    backends = DATABASES
    if marked("postgresql_only"):
        backends = ("postgresql",)
    elif marked("both_databases"):
        pass  # also inside a module marked sqlite_only
    elif marked("sqlite_only") or marked("browser"):
        backends = ("sqlite",)
    elif "clip_app" in metafunc.fixturenames:
        backends = ("sqlite",)  # the camera pipeline's time is spent on video, not queries
    for fixture in ("database_url", "empty_database_url"):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, backends, indirect=True)


def pytest_collection_modifyitems(config, items):
    """``--db`` keeps the tests of the chosen database(s); tests without one count as SQLite.

    Tests marked ``first`` run before every other one: a long wait (three minutes of a
    server watching with no viewer, tests/test_unwatched.py) then passes on one worker while
    the others run the rest of the suite.
    """
    items.sort(key=lambda item: item.get_closest_marker("first") is None)
    wanted = _wanted_databases(config)
    if wanted == DATABASES:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url", "sqlite") if callspec else "sqlite"
        (keep if backend in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """One throwaway PostgreSQL server for the session, and a template with the schema."""
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    try:
        server.create_database(PG_TEMPLATE)
        engine = create_engine(server.url(PG_TEMPLATE))
        db.metadata.create_all(engine)
        engine.dispose()
        yield server
    finally:
        server.stop()


PG_TEMPLATE = "facerec_template"
_pg_databases = itertools.count(1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file with the schema, made once: each test's database is a copy of it (the
    schema's DDL, 240 statements, took longer than most tests themselves)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "facerec-template.db"
    engine = create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    return path


def _fresh_database(request, tmp_path, prefix: str, template: str | None):
    if request.param == "sqlite":
        path = tmp_path / f"{prefix}.db"
        if template is not None:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"{prefix}_{next(_pg_databases)}"
    server.create_database(name, template=template)
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def database_url(request, tmp_path):
    """A fresh database for one test: ``sqlite:///...`` or ``postgresql+psycopg://...``."""
    yield from _fresh_database(request, tmp_path, "facerec_test", template=PG_TEMPLATE)


@pytest.fixture
def empty_database_url(request, tmp_path):
    """Like ``database_url``, but without the schema (for migrations)."""
    yield from _fresh_database(request, tmp_path, "facerec_empty", template=None)


@pytest.fixture
def app_factory(tmp_path, database_url):
    """Build apps with config overrides; each is shut down (camera, worker) after the test.

    Every app of one test shares one database (as several servers share one in production).
    """
    made = []

    def factory(**overrides):
        app = make_app(tmp_path, database_url, **overrides)
        made.append(app)
        return app

    yield factory
    for app in made:
        shutdown(app)


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def clip_app(app_factory):
    """An app whose camera is the test clip."""
    return app_factory(FACEREC_CAMERA=str(CLIP))


_password_hashes: dict[str, str] = {}


def create_account(app, username="tester", password=TEST_PASSWORD, role="admin", cameras="") -> int:
    """An account (an admin unless ``role`` says otherwise; ``cameras`` "a,b" limits it)."""
    with app.app_context():
        account = Account(username=username, role=role, cameras=cameras)
        # A real hash of the password, made once per session: scrypt takes a tenth of a
        # second by design, and most tests sign in.
        if password not in _password_hashes:
            account.set_password(password)
            _password_hashes[password] = account.password_hash
        account.password_hash = _password_hashes[password]
        db.session.add(account)
        db.session.commit()
        return account.id


def login_client(app, client, username="tester"):
    """Sign ``client`` in as ``username`` (created if needed) through the session cookie."""
    with app.app_context():
        account = db.session.execute(
            db.select(Account).filter_by(username=username)
        ).scalar_one_or_none()
        # What a sign-in puts in the cookie: the id and the account's session generation.
        session_id = account.get_id() if account else None
    if session_id is None:
        session_id = str(create_account(app, username))
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


@pytest.fixture
def client(app):
    """A test client signed in as an admin."""
    return login_client(app, app.test_client())


@pytest.fixture
def anon_client(app):
    """A test client that has not signed in."""
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_encodings: dict[Path, list] = {}


def photo_samples(path: Path) -> list[faces.Face]:
    """Faces of a test photo, computed once per test session (in this process: tests may)."""
    path = Path(path)
    if path not in _encodings:
        _encodings[path] = faces.faces_in_image(path)
    return _encodings[path]


def enroll(app, name: str, *photos: Path) -> int:
    """Store a person with the single largest face of each photo as a sample; returns the id."""
    with app.app_context():
        user = User(name=name, details="")
        for photo in photos:
            face = photo_samples(photo)[0]
            rgb = faces.load_image(photo)
            sample = FaceSample(thumbnail=faces.thumbnail(rgb, face.box), source="test")
            sample.vector = face.encoding
            user.samples.append(sample)
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def enroll_known(data_dir):
    """Enroll the four people of known/ (named after their files) into an app."""

    def _enroll(app):
        return {
            photo.stem: enroll(app, photo.stem, photo)
            for photo in sorted((data_dir / "known").iterdir())
        }

    return _enroll


class LiveServer:
    """The app served by a threaded werkzeug server on a free loopback port."""

    def __init__(self, app):
        import threading

        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    """``serve(app)`` starts a real HTTP server for the app; stopped after the test."""
    servers = []

    def _serve(app):
        server = LiveServer(app)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (it cannot download a browser of its own here)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("FACEREC_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


ARTIFACTS = ROOT / "tests" / "artifacts"


def screenshot(page, name: str):
    """Save a screenshot under tests/artifacts/ (git-ignored) for people to look at: the whole
    page, or its first screen for a very long one (the API reference on a phone), which
    Chromium could not picture whole in time on a busy machine."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=height <= 4000)


def write_photo_video(path: Path, photo: Path, size=(640, 360), fps=15.0, seconds=3.0) -> Path:
    """A short video of ``photo`` drifting a little from side to side (every frame differs)."""
    import cv2
    import numpy as np

    width, height = size
    image = cv2.imread(str(photo))
    scale = max(width / image.shape[1], height / image.shape[0])
    image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    image = image[top : top + height, left : left + width]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write an mp4v video here"
    count = round(fps * seconds)
    for i in range(count):
        shift = round(12 * np.sin(2 * np.pi * i / count))
        frame = np.zeros_like(image)
        if shift >= 0:
            frame[:, shift:] = image[:, : width - shift]
        else:
            frame[:, :shift] = image[:, -shift:]
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def photo_video(tmp_path_factory, data_dir) -> Path:
    """A 640x360, 15 fps video of biden and obama (unknown/two_people.jpg), built once.

    Ten seconds before it loops (a loop is a scene cut, which ends every track): long enough
    for a track to become a sighting even on a machine so busy that results come once every
    few seconds.
    """
    folder = tmp_path_factory.mktemp("video")
    photo = data_dir / "unknown" / "two_people.jpg"
    return write_photo_video(folder / "two_people.mp4", photo, seconds=10.0)


def write_clip_copy(path: Path, every: int) -> Path:
    """The clip with one frame in ``every`` kept, at its frame rate divided by ``every``: the
    same scenes and faces, looping every 9.2 s as the clip does, for a camera that decodes
    and motion-gates ``every`` times fewer frames a second (tests that watch a camera for
    minutes, whose subject is not the clip's frame rate)."""
    import cv2

    capture = cv2.VideoCapture(str(CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps / every, size)
    assert writer.isOpened(), "OpenCV cannot write an mp4v video here"
    for index in itertools.count():
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            writer.write(frame)
    capture.release()
    writer.release()
    return path


@pytest.fixture(scope="session")
def clip_10fps(tmp_path_factory) -> Path:
    """The clip at 9.99 fps (every third frame), built once per worker."""
    return write_clip_copy(tmp_path_factory.mktemp("clip") / "clip-10fps.mp4", every=3)


# The clip as an RTSP camera's streams: a main stream, a detection sub-stream, and the clip's
# own size (what the file source gives, for comparisons).
RTSP_STREAMS = {"main": (1280, 720), "sub": (320, 180), "clip": (640, 360)}


@pytest.fixture(scope="session")
def rtsp_cache(tmp_path_factory) -> Path:
    """Where the RTSP server keeps the clip encoded at each size (encoded once per session)."""
    return tmp_path_factory.mktemp("rtsp")


@pytest.fixture
def rtsp_server(rtsp_cache):
    """GStreamer's RTSP server (Debian's) serving the clip on a free port: ``url("main")``
    1280x720, ``url("sub")`` 320x180, ``url("clip")`` 640x360, all H.264, looped."""
    from tests.rtspserver import RtspServer

    server = RtspServer(CLIP, rtsp_cache, RTSP_STREAMS).start()
    yield server
    server.kill()


# The 10 fps clip's streams: the detection sub-stream's size and the clip's own.
RTSP_10FPS_STREAMS = {name: RTSP_STREAMS[name] for name in ("sub", "clip")}


@pytest.fixture
def rtsp_server_10fps(rtsp_cache, clip_10fps):
    """The RTSP server serving ``clip_10fps`` (the clip's scenes at 10 fps) as ``url("sub")``
    320x180 and ``url("clip")`` 640x360: for tests of streams that drop, freeze and come
    back, whose subject is not the frame rate (a third of the frames to decode)."""
    from tests.rtspserver import RtspServer

    server = RtspServer(clip_10fps, rtsp_cache, RTSP_10FPS_STREAMS).start()
    yield server
    server.kill()


def add_camera(app, name: str, source: str, **options):
    """Store a camera the way the admin page and the CLI do; the app sees it at once."""
    from facerec.camera import store

    with app.app_context():
        store.save(None, name=name, source=str(source), **options)
        db.session.commit()
    app.extensions["cameras"].refresh(force=True)
    return app.extensions["cameras"].get(name)


@pytest.fixture
def broker(tmp_path):
    """A real MQTT broker (mosquitto) on a free port, stopped after the test."""
    from tests.broker import Broker

    server = Broker(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mqtt_app(app_factory, broker, enroll_known):
    """An app connected to the test broker (1 s presence timeout), known/ enrolled as
    ``app.people`` (name -> id)."""
    from facerec import events
    from tests.broker import wait_connected

    app = app_factory(FACEREC_MQTT_URL=broker.url, FACEREC_PRESENCE_TIMEOUT=1.0)
    app.people = enroll_known(app)
    wait_connected(app)
    yield app
    events.close(app)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free port, for notifications; stopped after the test."""
    from tests.receivers import SmtpServer

    server = SmtpServer()
    yield server
    server.stop()
