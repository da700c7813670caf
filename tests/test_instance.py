"""The instance guarded: private files, /setup only with the setup code, readiness that
fails when the database file is gone or cannot be written."""

from __future__ import annotations

import logging
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from facerec import create_app, instance, shutdown
from facerec.extensions import db

from .conftest import CLIP, TEST_PASSWORD


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def instance_app(tmp_path, monkeypatch):
    """``make(config)``: an app on its own instance folder, its database created the way
    `flask db upgrade` creates it (the default SQLite file in that folder unless told)."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    folder = tmp_path / "instance"
    made = []

    def make(**config):
        # A camera whose file exists: only the database decides readiness here.
        config = {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "FACEREC_CAMERA": str(CLIP),
            **config,
        }
        app = create_app(config, instance_path=str(folder))
        made.append(app)
        with app.app_context():
            upgrade(directory="migrations")
        return app

    yield make, folder
    for app in made:
        shutdown(app)


def sign_up(app, code: str):
    return app.test_client().post(
        "/setup",
        data={
            "code": code,
            "username": "owner",
            "password": TEST_PASSWORD,
            "confirm": TEST_PASSWORD,
        },
    )


def readiness(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def database_check(body: dict) -> dict:
    return body["checks"]["database"][0]


def test_are_the_instance_folder_database_and_config_private(instance_app):
    make, folder = instance_app
    app = make()
    sign_up(app, instance.setup_code(app))  # a write: the -wal and -shm files appear
    assert mode(folder) == 0o700
    assert mode(folder / "config.py") == 0o600
    for name in ("facerec.db", "facerec.db-wal", "facerec.db-shm"):
        assert mode(folder / name) == 0o600, name


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_does_setup_need_the_code_the_server_printed(instance_app):
    make, folder = instance_app
    app = make()
    printed = Lines()  # on the logger itself: the migration reconfigured the root's handlers
    logging.getLogger("facerec.instance").addHandler(printed)
    try:
        instance.announce_setup(app)  # what wsgi.py does when the server starts
    finally:
        logging.getLogger("facerec.instance").removeHandler(printed)
    code = instance.setup_code(app)
    assert any(code in line and "/setup" in line for line in printed.lines), printed.lines
    assert (folder / "setup-code").read_text().strip() == code
    assert mode(folder / "setup-code") == 0o600
    refused = sign_up(app, "1234-5678-9abc-def0")
    assert refused.status_code == 400
    assert "This is not the setup code" in refused.get_data(as_text=True)
    assert sign_up(app, "").status_code == 400
    done = sign_up(app, code.upper())  # as typed from the log, in any case
    assert done.status_code == 302
    assert not (folder / "setup-code").exists()  # it opens nothing any more
    assert sign_up(app, code).status_code == 404


def test_does_readiness_fail_and_setup_stay_closed_when_the_instance_folder_is_removed(
    instance_app,
):
    make, folder = instance_app
    app = make()
    assert sign_up(app, instance.setup_code(app)).status_code == 302
    status, body = readiness(app)
    assert status == 200 and database_check(body)["status"] == "pass"

    shutil.rmtree(folder)  # while the server runs: its writes would go into a deleted file
    status, body = readiness(app)
    assert status == 503 and body["status"] == "fail"
    assert database_check(body)["output"] == "the database file is gone"
    assert app.test_client().get("/healthz").status_code == 503

    # The next start: `flask db upgrade` makes an empty database in a new instance folder.
    again = make()
    assert again.test_client().get("/login").location == "/setup"
    for guess in ("", "0000-0000-0000-0000"):
        assert sign_up(again, guess).status_code == 400
    with again.app_context():
        assert db.session.execute(text("SELECT count(*) FROM accounts")).scalar() == 0


def test_does_readiness_fail_when_the_database_file_is_replaced(instance_app):
    make, folder = instance_app
    app = make()
    assert readiness(app)[0] == 200
    database = folder / "facerec.db"
    copy = folder / "copy.db"
    shutil.copy(database, copy)
    copy.replace(database)  # same path, another file
    status, body = readiness(app)
    assert status == 503
    assert database_check(body)["output"] == "the database file was replaced by another"


@pytest.mark.both_databases
def test_does_readiness_fail_when_the_database_cannot_be_written(app_factory, database_url):
    app = app_factory(FACEREC_CAMERA=str(CLIP))
    assert readiness(app)[0] == 200
    if database_url.startswith("sqlite"):
        files = [Path(database_url.removeprefix("sqlite:///"))]
        files += [Path(f"{files[0]}{suffix}") for suffix in ("-wal", "-shm")]
        files = [path for path in files if path.exists()]
        # Immutable, as the hardening pass made it: reads work, no write can.
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)
        undo = ["chattr", "-i", *map(str, files)]
    else:
        name = database_url.rsplit("/", 1)[1]
        with app.app_context():
            db.session.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
            db.session.commit()
        undo = None
    try:
        app.extensions["write_check"]._checked = -1e9  # no answer reused from before
        status, body = readiness(app)
        assert status == 503
        assert database_check(body)["output"] == "the database cannot be written"
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            with app.app_context():
                db.session.execute(
                    text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
                )
                db.session.commit()
