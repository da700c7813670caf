"""The ``flask users`` commands: import from a folder, list, delete."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from facerec.extensions import db
from facerec.gallery import Gallery, GalleryCache
from facerec.models import FaceSample, User, gallery_version
from tests.conftest import enroll, photo_samples

# On SQLite alone (see conftest.py) but for the tests marked both_databases: an import's
# time goes to files and faces (tests/test_shared_database.py imports on PostgreSQL too).
pytestmark = pytest.mark.sqlite_only


def people_in(app) -> dict[str, int]:
    """Enrolled people and their number of samples."""
    with app.app_context():
        rows = db.session.execute(
            select(User.name, func.count(FaceSample.id))
            .outerjoin(FaceSample, FaceSample.user_id == User.id)
            .group_by(User.id)
        ).all()
        return dict(rows)


def import_dir(runner, folder, *options):
    """The command's stdout (the report) alone: the header and progress go to stderr."""
    return runner.invoke(args=["users", "import", str(folder), *options])


def recognised(app, photo) -> list[str | None]:
    with app.app_context():
        gallery = Gallery.load(db.session)
    return sorted(
        (gallery.match(face.encoding).name for face in photo_samples(photo)),
        key=lambda name: name or "",
    )


def test_does_importing_the_people_folder_enroll_them_once_and_recognise_them(
    app, runner, data_dir, tmp_path
):
    with app.app_context():
        cache = GalleryCache(db.engine.connect, check_interval=0)
        assert len(cache.get()) == 0

    result = import_dir(runner, data_dir / "people", "--jobs", "2")
    assert result.exit_code == 0, result.output
    # Only the report is on stdout; the header and the progress bar are on stderr.
    assert "9 photos of 5 people in" in result.stderr and "photos of" not in result.stdout
    assert result.stdout.splitlines()[0] == "added  alex_lacamoire: 1 sample"
    assert (
        "people added: 5, people extended: 0, samples added: 9, files skipped: 0" in result.output
    )
    assert people_in(app) == {
        "alex_lacamoire": 1,
        "biden": 2,
        "kit_harington": 2,
        "obama": 2,
        "rose_leslie": 2,
    }
    with app.app_context():
        hashes = db.session.execute(select(FaceSample.content_hash, FaceSample.source)).all()
    expected = hashlib.sha256((data_dir / "people/obama/obama2.jpg").read_bytes()).hexdigest()
    assert (expected, "import") in hashes
    # What a running server holds: its gallery cache sees the new people without a restart.
    assert len(cache.get()) == 9

    again = import_dir(runner, data_dir / "people", "--jobs", "2")
    assert again.exit_code == 0, again.output
    # A rerun reads as "nothing to do", not as nine failures.
    assert not [line for line in again.output.splitlines() if line.startswith("skipped")]
    assert "unchanged  biden: 2 photos imported before" in again.output.splitlines()
    assert again.output.splitlines()[-1] == (
        "Nothing new: all 9 photos were imported before. people added: 0, people extended: 0, "
        "samples added: 0, files skipped: 0, imported before: 9."
    )
    assert sum(people_in(app).values()) == 9

    test = data_dir / "people-test"
    assert recognised(app, test / "alex_lacamoire1.jpg") == ["alex_lacamoire"]
    assert recognised(app, test / "johnsnow_test1.jpg") == ["kit_harington"]
    assert recognised(app, test / "kit_with_rose.jpg") == ["kit_harington", "rose_leslie"]
    assert recognised(app, test / "obama_and_biden.jpg") == [None, "biden", "obama"]

    # The same folder with one new photo of Obama (named in another case): one sample more.
    # (obama-480p.jpg would not do: it is the picture of obama.jpg again, a near-duplicate.)
    copy = tmp_path / "people"
    shutil.copytree(data_dir / "people", copy)
    shutil.copy(data_dir / "unknown" / "obama3.jpg", copy / "obama" / "new.jpg")
    shutil.copy(data_dir / "unknown" / "obama3.jpg", copy / "obama" / "new2.jpg")
    (copy / "obama").rename(copy / "Obama")
    third = import_dir(runner, copy, "--jobs", "1")
    assert third.exit_code == 0, third.output
    assert (
        "people added: 0, people extended: 1, samples added: 1, files skipped: 1, "
        "imported before: 9" in third.output
    )
    assert "skipped  Obama/new2.jpg: already imported — same file as Obama/new.jpg" in third.output
    assert "extended  obama: 1 sample more" in third.output
    assert people_in(app)["obama"] == 3


def test_does_importing_one_photo_per_person_name_them_after_the_files(app, runner, data_dir):
    result = import_dir(runner, data_dir / "known", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert people_in(app) == {
        "alex-lacamoire": 1,
        "biden": 1,
        "lin-manuel-miranda": 1,
        "obama": 1,
    }
    assert "people added: 4" in result.output


def test_are_bad_files_reported_with_their_reason_while_good_ones_are_imported(
    app, runner, data_dir, tmp_path
):
    folder = tmp_path / "staff"
    folder.mkdir()
    (folder / "notes.txt").write_text("who is who")
    (folder / "empty.jpg").write_bytes(b"")
    shutil.copy(data_dir / "unknown" / "two_people.jpg", folder)
    shutil.copy(data_dir / "known" / "obama.jpg", folder / "Barack Obama.jpg")
    shutil.copy(data_dir / "people" / "rose_leslie" / "img2.jpg", folder / "rose_leslie.jpg")

    dry = import_dir(runner, folder, "--dry-run", "--jobs", "2")
    assert dry.exit_code == 0, dry.output
    assert "would add  Barack Obama: 1 sample" in dry.output
    assert "Dry run, nothing was written" in dry.output
    assert people_in(app) == {}

    result = import_dir(runner, folder, "--jobs", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "ignored  notes.txt: not an image — .txt file" in lines
    assert "skipped  empty.jpg: not an image — the file is empty" in lines
    assert any(line.startswith("skipped  two_people.jpg: several faces — 2 f") for line in lines)
    assert (
        "people added: 2, people extended: 0, samples added: 2, files skipped: 3" in result.output
    )
    assert people_in(app) == {"Barack Obama": 1, "rose_leslie": 1}


def test_is_a_file_name_that_is_not_utf8_skipped_while_the_others_are_imported(
    app, runner, data_dir, tmp_path
):
    # "René.jpg" written by a Latin-1 system: the byte 0xE9 is not UTF-8.
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(data_dir / "known" / "obama.jpg", os.fsdecode(bytes(folder) + b"/Ren\xe9.jpg"))
    shutil.copy(data_dir / "known" / "biden.jpg", folder / "biden.jpg")
    result = import_dir(runner, folder, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert (
        "skipped  Ren\\xe9.jpg: unusable person name — The name is not valid Unicode text."
        in result.output.splitlines()
    )
    assert people_in(app) == {"biden": 1}


def test_are_symbolic_links_leading_outside_the_folder_left_alone(app, runner, data_dir, tmp_path):
    folder = tmp_path / "photos"
    (folder / "inside").mkdir(parents=True)
    (folder / "obama.jpg").symlink_to(data_dir / "known" / "obama.jpg")
    (folder / "people").symlink_to(data_dir / "people", target_is_directory=True)
    (folder / "inside" / "escape.jpg").symlink_to(data_dir / "known" / "biden.jpg")
    result = import_dir(runner, folder, "--jobs", "1")
    assert result.exit_code == 0, result.output
    for shown in ("obama.jpg", "people", "inside/escape.jpg"):
        assert f"ignored  {shown}: symbolic link leading outside the folder" in result.output
    assert "No photos to import" in result.output
    assert people_in(app) == {}


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_is_a_missing_folder_an_error_with_exit_code_2(app, runner, tmp_path, kind):
    target = tmp_path / "nowhere"
    if kind == "a file":
        target.write_text("not a folder")
    result = import_dir(runner, target)
    assert result.exit_code == 2
    assert "Invalid value for 'DIR'" in result.output
    assert ("does not exist" if kind == "missing" else "is a file") in result.output


@pytest.mark.both_databases
def test_is_a_person_whose_write_fails_left_out_entirely(app, runner, data_dir, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(data_dir / "people" / "biden", folder / "biden")
    shutil.copy(data_dir / "known" / "obama.jpg", folder)
    poisoned = hashlib.sha256((folder / "biden" / "biden2.jpg").read_bytes()).hexdigest()

    def disk_full(_mapper, _connection, target):
        if target.content_hash == poisoned:
            raise OperationalError("INSERT INTO face_samples", {}, OSError("disk full"))

    event.listen(FaceSample, "before_insert", disk_full)
    try:
        result = import_dir(runner, folder, "--jobs", "2")
    finally:
        event.remove(FaceSample, "before_insert", disk_full)
    assert result.exit_code == 1
    assert "failed  biden: nothing was written for this person" in result.output
    # biden's row was already flushed when the failure came: it was rolled back with it.
    assert people_in(app) == {"obama": 1}


@pytest.mark.both_databases
def test_does_users_list_show_name_samples_and_creation_date(app, runner, data_dir):
    assert runner.invoke(args=["users", "list"]).output == "No people enrolled.\n"
    enroll(app, "obama", data_dir / "known" / "obama.jpg", data_dir / "unknown" / "obama2.jpg")
    enroll(app, "Biden", data_dir / "known" / "biden.jpg")
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    header, biden, obama = result.output.splitlines()
    assert header.split() == ["name", "samples", "created", "(UTC)"]
    assert biden.split()[:2] == ["Biden", "1"]
    assert obama.split()[:2] == ["obama", "2"]
    assert len(obama.split()[2]) == len("2026-01-01")


def test_does_users_delete_ask_before_deleting(app, runner, data_dir):
    enroll(app, "Obama", data_dir / "known" / "obama.jpg")
    with app.app_context():
        version = gallery_version(db.session)

    kept = runner.invoke(args=["users", "delete", "obama"], input="n\n")
    assert kept.exit_code == 1
    assert "Delete Obama and every copy of their face (1 face sample)?" in kept.output
    assert people_in(app) == {"Obama": 1}

    deleted = runner.invoke(args=["users", "delete", "OBAMA"], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted Obama (1 face sample)." in deleted.output
    assert people_in(app) == {}
    with app.app_context():
        assert db.session.scalar(select(func.count(FaceSample.id))) == 0
        assert gallery_version(db.session) > version


@pytest.mark.both_databases
def test_does_users_delete_yes_skip_the_question_and_refuse_unknown_names(app, runner, data_dir):
    enroll(app, "biden", data_dir / "known" / "biden.jpg")
    result = runner.invoke(args=["users", "delete", "biden", "--yes"])
    assert result.exit_code == 0
    assert "?" not in result.output
    assert people_in(app) == {}
    missing = runner.invoke(args=["users", "delete", "nobody", "--yes"])
    assert missing.exit_code == 1
    assert "No person named “nobody”." in missing.output


def test_does_import_warn_about_a_look_alike_in_the_wizards_words_and_strict_skip_it(
    app, runner, data_dir, tmp_path
):
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    folder = tmp_path / "staff"
    (folder / "Barry").mkdir(parents=True)
    shutil.copy(data_dir / "unknown" / "obama2.jpg", folder / "Barry")
    shutil.copy(data_dir / "unknown" / "obama3.jpg", folder / "Barry")

    strict = import_dir(runner, folder, "--strict", "--jobs", "1")
    assert strict.exit_code == 0, strict.output
    assert (
        "skipped  Barry/obama2.jpg: looks like someone enrolled (--strict) — "
        "Barry looks like Barack Obama: distance 0." in strict.output
    )
    assert "people added: 0" in strict.output
    assert people_in(app) == {"Barack Obama": 1}

    dry = import_dir(runner, folder, "--dry-run", "--jobs", "1")
    lines = dry.output.splitlines()
    (warning,) = [line for line in lines if line.startswith("warning  ")]
    # The wizard's review says "<name> looks like <other> (distance d of t, lower is closer)."
    assert warning.startswith("warning  Barry looks like Barack Obama: distance 0.")
    assert " (match below 0.60). The live view may confuse them." in warning
    assert "would add  Barry: 2 samples" in lines


def test_does_the_time_left_ignore_the_workers_start_up(monkeypatch):
    from facerec import cli

    clock = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    eta = cli.TimeLeft(14)
    assert eta.text() == "estimating time left…"
    clock[0] += 10  # dlib's models loading in the workers: not a per-file cost
    eta.done(1)
    for _ in range(3):
        clock[0] += 1
        eta.done(1)
    # 1 s a file since the first was done, 10 files to go.
    assert eta.text() == "about 0:10 left"
