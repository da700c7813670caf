"""Bulk enrollment from a folder of photos: what ``facerec users import DIR`` does.

Two layouts, which may be mixed: ``DIR/<name>/<photo>`` (a folder per person) and
``DIR/<name>.<ext>`` (one photo per person, named after them). The photos are checked and
encoded in worker processes (each reads its files itself and sends back only the encoding
and the thumbnail, so the parent stays light); every person is then written in its own
transaction, so an interrupted import leaves each person either fully imported or absent.
A sample remembers the SHA-256 of its file: importing the same folder again adds nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from . import faces, people
from .engine import Engine, EngineSettings, EngineUnavailable
from .extensions import db
from .models import FaceSample, User, name_key

log = logging.getLogger(__name__)

# Extensions of the formats the engine (Pillow) decodes; anything else is listed as ignored.
_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff")
IMAGE_SUFFIXES = frozenset((*_SUFFIXES, ".webp", ".ppm", ".pgm", ".pbm", ".pnm"))
SOURCE = "import"
ALREADY_IMPORTED = "already imported"
LOOK_ALIKE_ADVICE = (
    "The live view may confuse them. If it is the same person, put the photos in the "
    "folder of {other} instead; --strict leaves such people out."
)


@dataclass(frozen=True)
class Photo:
    """A file to import: where it is, how it is shown in the report, whose face it holds."""

    path: Path
    shown: str
    name: str

    @property
    def key(self) -> str:
        return name_key(self.name)


@dataclass(frozen=True)
class Skip:
    """A file that was not imported, with the reason an operator can act on."""

    shown: str
    reason: str
    detail: str = ""
    ignored: bool = False  # not even looked at (not an image file, link outside DIR...)

    def line(self) -> str:
        word = "ignored" if self.ignored else "skipped"
        detail = f" — {self.detail}" if self.detail else ""
        return printable(f"{word}  {self.shown}: {self.reason}{detail}")


@dataclass(frozen=True)
class Encoded:
    """What a worker sends back for one file: its hash and either a sample or a reason."""

    content_hash: str | None
    sample: faces.Sample | None = None
    reason: str = ""
    detail: str = ""


@dataclass
class Report:
    added: dict[str, int] = field(default_factory=dict)  # name -> samples
    extended: dict[str, int] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> error
    warnings: list[str] = field(default_factory=list)  # look-alikes imported anyway
    unchanged: dict[str, int] = field(default_factory=dict)  # name -> files imported before
    dry_run: bool = False
    strict: bool = False
    interrupted: bool = False
    # The fields every person the import creates gets besides the name (the consent record
    # of --consent); people already enrolled keep theirs.
    person: people.PersonFields = field(default_factory=people.PersonFields)

    @property
    def samples_added(self) -> int:
        return sum(self.added.values()) + sum(self.extended.values())

    def lines(self) -> Iterator[str]:
        """The report: skipped files (in path order), people written, then the summary."""
        for skip in sorted(self.skipped, key=lambda s: s.shown):
            yield skip.line()
        for warning in sorted(self.warnings):
            yield printable(f"warning  {warning}")
        for name, count in sorted(self.unchanged.items()):
            yield printable(f"unchanged  {name}: {plural(count, 'photo')} imported before")
        verb = "would add" if self.dry_run else "added"
        for name, count in sorted(self.added.items()):
            yield f"{verb}  {name}: {plural(count, 'sample')}"
        verb = "would extend" if self.dry_run else "extended"
        for name, count in sorted(self.extended.items()):
            yield f"{verb}  {name}: {plural(count, 'sample')} more"
        for name, error in sorted(self.failed.items()):
            yield f"failed  {name}: nothing was written for this person ({error})"
        summary = (
            f"people added: {len(self.added)}, people extended: {len(self.extended)}, "
            f"samples added: {self.samples_added}, files skipped: {len(self.skipped)}"
        )
        before = sum(self.unchanged.values())
        if before:
            summary += f", imported before: {before}"
        if self.failed:
            summary += f", people failed: {len(self.failed)}"
        if not self.added and not self.extended and not self.skipped and before:
            yield f"Nothing new: all {plural(before, 'photo')} were imported before. {summary}."
            return
        if self.interrupted:
            yield (
                f"Interrupted: {summary}. The people listed are fully imported; "
                "run the command again to import the rest."
            )
        elif self.dry_run:
            yield f"Dry run, nothing was written. It would have been: {summary}."
        else:
            yield f"Done: {summary}."


def printable(text: str) -> str:
    """``text`` with the bytes of a non-UTF-8 file name shown as ``\\xe9``: a terminal (and
    click.echo) cannot print the lone surrogates Python decodes them to."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 sample``, ``2 samples``; ``words`` for irregular plurals (person, people)."""
    return f"{count} {word if count == 1 else words or word + 's'}"


# -- scanning -------------------------------------------------------------------------------


def scan(root: Path) -> tuple[list[Photo], list[Skip]]:
    """The photos under ``root`` in either layout, and the entries that are ignored.

    Symbolic links are followed only when their target is inside ``root``.
    """
    root = Path(root).resolve()
    photos: list[Photo] = []
    skipped: list[Skip] = []

    def inside(entry: Path, shown: str) -> bool:
        if entry.is_symlink() and not entry.resolve().is_relative_to(root):
            skipped.append(Skip(shown, "symbolic link leading outside the folder", ignored=True))
            return False
        return True

    for entry in _entries(root, skipped, ""):
        shown = entry.name
        if not inside(entry, shown):
            continue
        if entry.is_dir():
            for child in _entries(entry, skipped, shown + "/"):
                child_shown = f"{shown}/{child.name}"
                if not inside(child, child_shown):
                    continue
                if child.is_dir():
                    skipped.append(
                        Skip(child_shown + "/", "folder inside a person's folder", ignored=True)
                    )
                else:
                    _add_file(child, child_shown, entry.name, photos, skipped)
        else:
            _add_file(entry, shown, entry.stem, photos, skipped)
    return _check_names(photos, skipped), skipped


def _entries(folder: Path, skipped: list[Skip], shown: str) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        skipped.append(Skip(shown or ".", "cannot read the folder", exc.strerror or str(exc)))
        return []


def _add_file(path: Path, shown: str, name: str, photos: list[Photo], skipped: list[Skip]):
    if not path.is_file():
        skipped.append(Skip(shown, "not a regular file", ignored=True))
    elif path.suffix.lower() not in IMAGE_SUFFIXES:
        kind = f"{path.suffix.lower()} file" if path.suffix else "no image extension"
        skipped.append(Skip(shown, "not an image", kind, ignored=True))
    else:
        photos.append(Photo(path.resolve(), shown, name))


def _check_names(photos: list[Photo], skipped: list[Skip]) -> list[Photo]:
    """Drop the photos whose person name breaks the naming rules (checked before encoding)."""
    valid = []
    for photo in photos:
        try:
            # The name alone (the consent record is checked once, by the command).
            name = people.clean_name(photo.name)
        except people.PersonError as exc:
            skipped.append(Skip(photo.shown, "unusable person name", str(exc)))
            continue
        valid.append(Photo(photo.path, photo.shown, name))
    return valid


# -- encoding, in worker processes ----------------------------------------------------------

_known: dict[str, str] = {}  # content hash -> name of the person holding it (per worker)


def _init_worker(known: dict[str, str]):
    global _known
    _known = known


def encode_file(path: str, max_pixels: int = faces.DEFAULT_MAX_PIXELS) -> Encoded:
    """Read, hash and encode one photo (runs in a worker). Never raises for a bad file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Encoded(None, reason="cannot read the file", detail=exc.strerror or str(exc))
    digest = faces.photo_hash(data)
    if digest in _known:
        return Encoded(digest, reason=ALREADY_IMPORTED, detail=_known[digest])
    try:
        sample = faces.sample_from_image(data, max_pixels=max_pixels)
    except faces.ImageError as exc:
        return Encoded(digest, reason="not an image", detail=str(exc))
    except faces.FaceRejected as exc:
        return Encoded(digest, reason=exc.reason, detail=str(exc))
    except Exception as exc:  # one bad file never aborts the import
        log.exception("encoding %s failed", path)
        detail = f"{type(exc).__name__}: {exc}"
        return Encoded(digest, reason="the face engine failed", detail=detail)
    return Encoded(digest, sample=sample)


# A file may take this long to encode (a huge photo on a busy machine) before its worker
# counts as hung; the import goes on with the next files.
FILE_TIMEOUT = 600.0
# Files handed to the engine at a time, per worker: the next one is there when one is done.
AHEAD = 3


def encode_all(
    photos: list[Photo], jobs: int, known: dict[str, str], max_pixels: int
) -> Iterator[tuple[Photo, Encoded]]:
    """Each photo with its result, in the order the workers finish them.

    The face engine's workers are this import's own; each file is a job. A few files
    per worker are handed over at a time, so the next one is ready when a worker finishes. A
    worker that dies on a file (dlib can crash on one) is replaced and the file tried once
    more; a file that kills it twice is reported, and the import goes on.
    """
    # A file already imported is known by its bytes' hash, here: a rerun in which every file
    # is known starts no worker process at all (each costs a Python start-up).
    todo = []
    for photo in photos:
        try:
            digest = faces.photo_hash(photo.path.read_bytes())
        except OSError:
            digest = None  # the worker says why it cannot read it
        if digest in known:
            yield photo, Encoded(digest, reason=ALREADY_IMPORTED, detail=known[digest])
        else:
            todo.append(photo)
    photos = todo
    if not photos:
        return
    workers = max(1, min(jobs, len(photos)))
    settings = EngineSettings(
        frame_workers=1, job_workers=workers, queue=AHEAD * workers, job_timeout=FILE_TIMEOUT
    )
    # dlib's models load on the first file that needs them, so a rerun in which every file
    # is already imported does not pay for them.
    engine = Engine(settings, initializer=(_init_worker, (known,)), preload=False)
    todo = list(reversed(photos))
    pending: dict = {}
    try:
        while todo or pending:
            while todo and len(pending) < AHEAD * workers:
                photo = todo.pop()
                pending[engine.submit(encode_file, str(photo.path), max_pixels)] = photo
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                photo = pending.pop(future)
                try:
                    result = future.result()
                except EngineUnavailable as exc:
                    log.warning("the face engine failed on %s: %s", photo.shown, exc)
                    result = Encoded(None, reason="the face engine crashed on this file")
                yield photo, result
    finally:
        engine.close()


# -- writing --------------------------------------------------------------------------------


def known_hashes() -> dict[str, str]:
    """Content hash -> person name, for every stored sample that has one."""
    rows = db.session.execute(
        select(FaceSample.content_hash, User.name)
        .join(User, FaceSample.user_id == User.id)
        .where(FaceSample.content_hash.is_not(None))
    )
    return {content_hash: name for content_hash, name in rows}


def _write_person(name: str, found: list[tuple[Photo, Encoded]], report: Report):
    """Add or extend one person with its new samples in one transaction.

    Each photo must pass ``people.check_sample`` (not the same face twice, not someone
    else's face); a new person who looks like someone enrolled is reported with the
    wizard's words, and left out with ``--strict``.
    """
    found.sort(key=lambda item: item[0].shown)
    try:
        user = people.find_by_name(name)
        accepted: list[tuple[Photo, faces.Sample]] = []
        for photo, encoded in found:
            try:
                people.check_sample(user, encoded.sample, [s for _, s in accepted], name=name)
            except people.SampleRejected as exc:
                report.skipped.append(Skip(photo.shown, exc.reason, str(exc)))
                continue
            accepted.append((photo, encoded.sample))
        if not accepted:
            return
        if user is None and (match := people.look_alike([s.encoding for _, s in accepted])):
            warning = people.look_alike_warning(name, match)
            if report.strict:
                reason = "looks like someone enrolled (--strict)"
                report.skipped.extend(Skip(p.shown, reason, warning) for p, _ in accepted)
                return
            report.warnings.append(f"{warning} {LOOK_ALIKE_ADVICE.format(other=match.name)}")
        rows = [people.sample_row(sample, SOURCE) for _, sample in accepted]
        if report.dry_run:
            pass
        elif user is None:
            people.create_person(report.person.changed(name=name), samples=rows)
        else:
            people.append_samples(user, rows)
        if not report.dry_run:
            db.session.commit()
    except (SQLAlchemyError, people.PersonError) as exc:
        db.session.rollback()
        report.failed[name] = str(exc).splitlines()[0]
        report.skipped.extend(Skip(p.shown, "not written", f"{name} failed") for p, _ in found)
        return
    if user is None:
        report.added[name] = len(accepted)
    else:
        report.extended[user.name] = len(accepted)


def run_import(
    root: Path,
    jobs: int | None = None,
    dry_run: bool = False,
    strict: bool = False,
    max_pixels: int = faces.DEFAULT_MAX_PIXELS,
    progress: Callable[[int], None] | None = None,
    photos: list[Photo] | None = None,
    skipped: list[Skip] | None = None,
    person: people.PersonFields | None = None,
) -> Report:
    """Import every photo under ``root``; ``progress(1)`` is called as each file is done.

    ``photos``/``skipped`` may be given when the caller already scanned ``root``; ``person``
    holds the fields (the consent record) each new person gets besides the name.
    """
    if photos is None:
        photos, skipped = scan(root)
    report = Report(dry_run=dry_run, strict=strict, skipped=list(skipped or []))
    if person is not None:
        report.person = person
    jobs = jobs or os.cpu_count() or 1
    known = known_hashes()
    db.session.rollback()  # end the read transaction: a long encoding must not hold it

    remaining: dict[str, int] = {}
    names: dict[str, str] = {}  # key -> the name of the first photo, in path order
    for photo in photos:
        remaining[photo.key] = remaining.get(photo.key, 0) + 1
        names.setdefault(photo.key, photo.name)

    try:
        _collect(encode_all(photos, jobs, known, max_pixels), report, names, remaining, progress)
    except KeyboardInterrupt:
        db.session.rollback()
        report.interrupted = True
    return report


def _collect(results, report, names, remaining, progress):
    """Sort each worker result into the report, writing each person once all theirs are in."""
    found: dict[str, list[tuple[Photo, Encoded]]] = {key: [] for key in remaining}
    first_of: dict[str, str] = {}  # content hash -> file shown, for duplicates within the run
    for photo, result in results:
        if result.reason == ALREADY_IMPORTED:  # by an earlier run: nothing to do
            report.unchanged[result.detail] = report.unchanged.get(result.detail, 0) + 1
        elif result.sample is None:
            report.skipped.append(Skip(photo.shown, result.reason, result.detail))
        elif result.content_hash in first_of:
            report.skipped.append(
                Skip(photo.shown, ALREADY_IMPORTED, f"same file as {first_of[result.content_hash]}")
            )
        else:
            first_of[result.content_hash] = photo.shown
            found[photo.key].append((photo, result))
        remaining[photo.key] -= 1
        if remaining[photo.key] == 0 and found[photo.key]:
            # Every file of this person is done: write them now, so an interruption later
            # keeps the people already finished.
            _write_person(names[photo.key], found.pop(photo.key), report)
        if progress is not None:
            progress(1)
