"""Bulk enrollment (facerec.importer): scanning a folder, the report, the people rules."""

from __future__ import annotations

import os
import shutil

import pytest

from facerec import importer
from facerec.extensions import db
from facerec.models import User
from tests.conftest import enroll


def shown(items) -> list[str]:
    return sorted(item.shown for item in items)


def test_does_scan_understand_both_layouts_and_ignore_what_is_not_a_photo(tmp_path, data_dir):
    shutil.copy(data_dir / "known" / "obama.jpg", tmp_path / "Barack Obama.jpg")
    (tmp_path / "Ada").mkdir()
    shutil.copy(data_dir / "known" / "biden.jpg", tmp_path / "Ada" / "one.JPG")
    (tmp_path / "Ada" / "notes.txt").write_text("x")
    (tmp_path / "Ada" / "deeper").mkdir()

    photos, skipped = importer.scan(tmp_path)

    assert [(p.shown, p.name) for p in photos] == [
        ("Ada/one.JPG", "Ada"),
        ("Barack Obama.jpg", "Barack Obama"),
    ]
    assert {s.shown: s.reason for s in skipped} == {
        "Ada/deeper/": "folder inside a person's folder",
        "Ada/notes.txt": "not an image",
    }
    assert all(s.ignored for s in skipped)


def test_is_a_link_leading_outside_the_folder_ignored(tmp_path, data_dir):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(data_dir / "known" / "obama.jpg", root / "Obama.jpg")
    photos, skipped = importer.scan(root)
    assert photos == []
    assert [s.line() for s in skipped] == [
        "ignored  Obama.jpg: symbolic link leading outside the folder"
    ]


def test_is_an_unusable_person_name_skipped_before_any_encoding(tmp_path, data_dir):
    (tmp_path / ("x" * 120)).mkdir()
    shutil.copy(data_dir / "known" / "obama.jpg", tmp_path / ("x" * 120) / "a.jpg")
    photos, skipped = importer.scan(tmp_path)
    assert photos == []
    assert skipped[0].reason == "unusable person name" and "too long" in skipped[0].detail


def test_does_the_report_say_what_a_dry_run_would_do():
    report = importer.Report(dry_run=True, added={"Ada": 2}, extended={"Bo": 1})
    report.skipped.append(importer.Skip("c.jpg", "no face", "No face was found."))
    assert list(report.lines()) == [
        "skipped  c.jpg: no face — No face was found.",
        "would add  Ada: 2 samples",
        "would extend  Bo: 1 sample more",
        "Dry run, nothing was written. It would have been: people added: 1, "
        "people extended: 1, samples added: 3, files skipped: 1.",
    ]


@pytest.fixture
def barry(tmp_path, data_dir):
    """A folder Barry/ holding two photos of Barack Obama, who is already enrolled."""
    folder = tmp_path / "import"
    (folder / "Barry").mkdir(parents=True)
    shutil.copy(data_dir / "unknown" / "obama2.jpg", folder / "Barry" / "a.jpg")
    shutil.copy(data_dir / "unknown" / "obama3.jpg", folder / "Barry" / "b.jpg")
    return folder


@pytest.mark.sqlite_only  # the look-alike rules of people.py: on both in test_people
def test_is_a_new_person_who_looks_like_someone_enrolled_warned_about(app, barry, data_dir):
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    with app.app_context():
        report = importer.run_import(barry, jobs=1)
        assert db.session.query(User).count() == 2
    (warning,) = report.warnings
    assert warning.startswith("Barry looks like Barack Obama: distance 0.")
    assert " (match below 0.60). The live view may confuse them." in warning
    assert report.added == {"Barry": 2}


@pytest.mark.sqlite_only  # the look-alike rules of people.py: on both in test_people
def test_does_strict_leave_a_look_alike_out(app, barry, data_dir):
    enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    with app.app_context():
        report = importer.run_import(barry, jobs=1, strict=True)
        assert [u.name for u in db.session.query(User)] == ["Barack Obama"]
    assert report.added == {} and report.warnings == []
    assert shown(report.skipped) == ["Barry/a.jpg", "Barry/b.jpg"]
    assert {s.reason for s in report.skipped} == {"looks like someone enrolled (--strict)"}


@pytest.mark.sqlite_only  # the look-alike rules of people.py: on both in test_people
def test_is_a_near_duplicate_photo_of_a_person_left_out(app, tmp_path, data_dir):
    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    folder = tmp_path / "import" / "obama"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "unknown" / "obama-480p.jpg", folder / "again.jpg")
    shutil.copy(data_dir / "unknown" / "obama3.jpg", folder / "new.jpg")
    with app.app_context():
        report = importer.run_import(folder.parent, jobs=1)
    assert report.extended == {"obama": 1}
    (skip,) = report.skipped
    assert skip.shown == "obama/again.jpg" and skip.reason == "near-duplicate"


@pytest.mark.sqlite_only  # what the importer hands the face engine, not what is stored
def test_does_a_rerun_of_files_all_imported_before_start_no_face_engine(
    app, tmp_path, data_dir, monkeypatch
):
    folder = tmp_path / "import" / "obama"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "known" / "obama.jpg", folder / "a.jpg")
    with app.app_context():
        first = importer.run_import(folder.parent, jobs=1)

        # Worker processes cost a Python start-up each: a rerun must not start any.
        def no_engine(*args, **kwargs):
            raise AssertionError("a rerun of files all imported before started the face engine")

        monkeypatch.setattr(importer, "Engine", no_engine)
        again = importer.run_import(folder.parent, jobs=1)
    assert first.added == {"obama": 1}
    assert again.unchanged == {"obama": 1} and again.samples_added == 0
