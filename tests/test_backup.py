"""`flask backup FILE` while the clip plays and sightings are written; `flask restore FILE` into a
new instance; the PostgreSQL recipe of the documentation (pg_dump, pg_restore), run as written."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from facerec.extensions import db
from facerec.models import FaceSample, Sighting, User
from tests.conftest import ROOT, login_client
from tests.servers import wait_for
from tests.test_api import post_form, upload


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def recognised(app, photo: Path) -> list[str | None]:
    client = login_client(app, app.test_client())
    response = post_form(client, "/api/v1/recognize", {"image": upload(photo)})
    assert response.status_code == 200, response.get_json()
    return [face["name"] for face in response.get_json()["faces"]]


@pytest.mark.sqlite_only  # the SQLite half; PostgreSQL's recipe is the test below
def test_does_a_backup_taken_while_serving_restore_the_same_people_and_history(
    clip_app, enroll_known, app_factory, tmp_path, data_dir
):
    people = enroll_known(clip_app)
    cam = clip_app.extensions["cameras"].first()
    cam.start()
    try:
        assert wait_for(lambda: count(clip_app, Sighting) >= 2, timeout=90)
        before = count(clip_app, Sighting)
        backup = tmp_path / "facerec-backup.db"
        result = clip_app.test_cli_runner().invoke(args=["backup", str(backup)])
        after = count(clip_app, Sighting)
    finally:
        cam.stop()
    assert result.exit_code == 0, result.output
    assert f"to {backup}" in result.output
    assert backup.stat().st_mode & 0o777 == 0o600  # biometric data: the owner's alone
    with closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        saved = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    assert before <= saved <= after  # one moment between the two counts

    again = clip_app.test_cli_runner().invoke(args=["backup", str(backup)])
    assert again.exit_code != 0 and "exists" in again.output

    restored = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'restored.db'}")
    result = restored.test_cli_runner().invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    with restored.app_context():
        names = sorted(u.name for u in db.session.scalars(db.select(User)))
    assert names == sorted(people)
    assert count(restored, FaceSample) == count(clip_app, FaceSample)
    assert count(restored, Sighting) == saved
    photo = data_dir / "unknown" / "obama3.jpg"
    assert recognised(restored, photo) == recognised(clip_app, photo) == ["obama"]


@pytest.mark.sqlite_only
def test_is_a_file_that_is_not_a_backup_refused_and_nothing_replaced(app, runner, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    before = count(app, User)
    result = runner.invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code != 0
    assert "is not a facerec backup" in result.output
    missing = runner.invoke(args=["restore", str(tmp_path / "nowhere.db"), "--yes"])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    assert count(app, User) == before


def _recipe() -> tuple[str, str]:
    """The pg_dump and pg_restore lines of the documentation's recipe."""
    text = (ROOT / "docs" / "serving" / "backups.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text.split("## PostgreSQL", 1)[1], re.S).group(1)
    dump = next(line for line in block.splitlines() if line.startswith("pg_dump "))
    restore = next(line for line in block.splitlines() if line.startswith("pg_restore "))
    return dump, restore


@pytest.mark.postgresql_only
def test_does_the_documented_pg_dump_recipe_restore_the_same_people(
    app, postgres_server, tmp_path, data_dir
):
    from tests.conftest import enroll

    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.db")])
    assert result.exit_code != 0 and "pg_dump" in result.output  # says what to use instead

    source = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")
    postgres_server.create_database("restored_copy")
    target = postgres_server.url("restored_copy").replace("postgresql+psycopg", "postgresql")
    dump, restore = _recipe()
    path = f"{postgres_server.bindir}:/usr/bin:/bin"
    for command, url in ((dump, source), (restore, target)):
        done = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env={"PATH": path, "PGURL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
    from tests.conftest import make_app

    copy = make_app(tmp_path / "copy", postgres_server.url("restored_copy"))
    try:
        photo = data_dir / "unknown" / "obama3.jpg"
        assert recognised(copy, photo) == ["obama"]
    finally:
        from facerec import shutdown

        shutdown(copy)
