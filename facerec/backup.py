"""`flask backup FILE` and `flask restore FILE`: the whole database, people, faces and history.

SQLite: SQLite's own online backup API copies the database page by page while the server
keeps serving (readers and the writer go on; the copy is one consistent moment), into a
temporary file renamed when complete, so a file named FILE is always a whole backup.
PostgreSQL: `pg_dump` and `pg_restore` do this better than any copy of ours (see the
documentation's recipe); these commands say so.

A backup holds biometric data (face encodings and crops): keep it like the database itself.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db, init_migrations

PG_RECIPE = (
    "This server's database is PostgreSQL: back it up with pg_dump and restore it with "
    "pg_restore (see the documentation, Serving > Backups), which copy a live database "
    "consistently."
)
# The tables every facerec database has.
REQUIRED_TABLES = {"users", "face_samples"}


class BackupError(click.ClickException):
    pass


def _sqlite_path() -> Path:
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise BackupError(PG_RECIPE)
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is nothing on disk to back up.")
    return Path(url.database)


def copy_database(source: Path, target: Path):
    """``source`` into ``target`` with SQLite's online backup API (consistent while written)."""
    with (
        closing(sqlite3.connect(source, timeout=30)) as src,
        closing(sqlite3.connect(target, timeout=30)) as dst,
    ):
        src.backup(dst, pages=256)  # in steps: the server's writer waits at most one step


def check_backup(path: Path):
    """Refuse a file that is not a whole facerec database, saying why."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            problems = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        message = f"{path} is not a facerec backup (not an SQLite database: {exc})."
        raise BackupError(message) from None
    if not tables >= REQUIRED_TABLES:
        raise BackupError(f"{path} is not a facerec backup (it has no people or samples).")
    if problems != "ok":
        raise BackupError(f"{path} is damaged: {problems}")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@with_appcontext
def backup_command(file: Path, force: bool):
    """Copy the whole database (people, faces, history, settings) into FILE, while serving."""
    source = _sqlite_path()
    if file.exists() and not force:
        raise BackupError(f"{file} exists; choose another name or add --force.")
    partial = file.with_name(f".{file.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        copy_database(source, partial)
        check_backup(partial)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    os.chmod(file, 0o600)  # biometric data: the owner's alone, like the database
    size = file.stat().st_size
    click.echo(f"Backed up {source} to {file} ({size / 1024 / 1024:.1f} MB).")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
@with_appcontext
def restore_command(file: Path, yes: bool):
    """Replace the whole database with the backup in FILE, then bring its schema up to date.

    Stop the server first (or restore into a new instance): a running server keeps what it
    has in memory (the people it recognises, the search index) until it restarts.
    """
    from flask_migrate import upgrade

    target = _sqlite_path()
    check_backup(file)
    if not yes:
        click.confirm(
            f"Replace everything in {target} with {file}? What is there now is lost.",
            abort=True,
        )
    db.session.remove()
    db.engine.dispose()  # no connection of ours may hold the old database open
    copy_database(file, target)
    with closing(sqlite3.connect(target)) as conn:
        migrated = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchone()
    if migrated:  # a backup of an older version: its schema brought up to this one's
        if "migrate" not in current_app.extensions:  # the command line's offline app
            init_migrations(current_app)
        upgrade(directory=str(Path(current_app.root_path).parent / "migrations"))
    db.engine.dispose()
    click.echo(f"Restored {file} into {target}. Start (or restart) the server now.")


def init_app(app):
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
