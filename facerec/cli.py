"""Command-line interface: ``flask users ...``, ``flask accounts ...``, ``flask tokens ...``."""

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import importer, people
from .extensions import db
from .models import FaceSample, User

users = AppGroup("users", help="Manage enrolled people.")
accounts = AppGroup("accounts", help="Manage sign-in accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")


# -- users: enrolled people ----------------------------------------------------------------


@users.command("import")
@click.argument(
    "folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that encode the photos (default: the number of cores).",
)
@click.option("--dry-run", is_flag=True, help="Report what would be imported; write nothing.")
def import_people(folder, jobs, dry_run):
    """Enroll people from a folder: DIR/<name>/<photos> or DIR/<name>.jpg."""
    photos, skipped = importer.scan(folder)
    jobs = min(jobs or os.cpu_count() or 1, max(1, len(photos)))
    if photos:
        count = len({photo.key for photo in photos})
        click.echo(
            f"{importer.plural(len(photos), 'photo')} of "
            f"{importer.plural(count, 'person', 'people')} in {folder}; encoding with "
            f"{importer.plural(jobs, 'process', 'processes')}"
            + (" (dry run: nothing will be written)." if dry_run else ".")
        )
    else:
        click.echo(f"No photos to import in {folder}.")
    with click.progressbar(
        length=len(photos),
        label="Encoding",
        show_pos=True,
        show_eta=True,
        file=sys.stderr,  # the report on stdout stays clean for a pipe
    ) as bar:
        report = importer.run_import(
            folder,
            jobs=jobs,
            dry_run=dry_run,
            max_pixels=current_app.config["FACEREC_MAX_PIXELS"],
            progress=bar.update,
            photos=photos,
            skipped=skipped,
        )
    for line in report.lines():
        click.echo(line)
    if report.failed:
        raise SystemExit(1)


@users.command("list")
def list_people():
    """List enrolled people: name, samples, created."""
    rows = db.session.execute(
        select(User.name, func.count(FaceSample.id), User.created_at)
        .outerjoin(FaceSample, FaceSample.user_id == User.id)
        .group_by(User.id)
        .order_by(User.name_key)
    ).all()
    if not rows:
        click.echo("No people enrolled.")
        return
    width = max(4, *(len(name) for name, _, _ in rows))
    click.echo(f"{'name':<{width}}  samples  created (UTC)")
    for name, count, created in rows:
        click.echo(f"{name:<{width}}  {count:>7}  {created:%Y-%m-%d %H:%M}")


@users.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking for confirmation.")
def delete_person(name, yes):
    """Delete the person NAME and all their samples."""
    user = people.find_by_name(name)
    if user is None:
        raise click.ClickException(f"No person named “{name}”.")
    count = len(user.samples)
    samples = importer.plural(count, "sample")
    if not yes:
        click.confirm(f"Delete {user.name} and their {samples}?", abort=True)
    # An ORM delete (not a bulk statement) so the gallery version moves on.
    db.session.delete(user)
    db.session.commit()
    click.echo(f"Deleted {user.name} ({samples}).")


def init_app(app):
    for group in (users, accounts, tokens):
        app.cli.add_command(group)


__all__ = ["click", "init_app"]
