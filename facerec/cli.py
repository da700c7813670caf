"""Command-line interface: ``facerec users|cameras|webhooks|sightings ...``; ``accounts``,
``tokens`` and ``audit`` live in ``auth/cli.py``, ``notify`` in ``events/commands.py``.

``facerec`` is the console script the project's package metadata declares (setup.cfg); it is
the Flask command line bound to ``create_app``, so ``flask --app facerec ...`` is the same.

Each command imports what only it needs (the importer, the export, the face engine) when it
runs: every ``facerec`` process imports this module, and a command such as ``accounts list``
should not pay for numpy, OpenCV or marshmallow it never uses.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask.cli import AppGroup, FlaskGroup, ScriptInfo, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from . import config, consent
from .config import current_settings
from .extensions import db, init_migrations
from .models import FaceSample, User

if TYPE_CHECKING:
    from .people import PersonFields

users = AppGroup("users", help="Manage enrolled people.")
webhooks = AppGroup("webhooks", help="Manage the URLs that receive sighting events.")


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
@click.option(
    "--strict",
    is_flag=True,
    help="Leave out a new person who looks like someone already enrolled (default: warn).",
)
@click.option(
    "--consent",
    "consent_basis",
    metavar="BASIS",
    default="",
    help="The basis on which the new people's faces are held: "
    + ", ".join(consent.BASES)
    + " (required when FACEREC_REQUIRE_CONSENT=1).",
)
@click.option("--consent-note", default="", metavar="TEXT", help="The consent record's note.")
@click.option(
    "--consent-review",
    "consent_expires",
    default="",
    metavar="YYYY-MM-DD",
    help="From this date the new people are flagged for a consent review.",
)
def import_people(folder, jobs, dry_run, strict, consent_basis, consent_note, consent_expires):
    """Enroll people from a folder: DIR/<name>/<photos> or DIR/<name>.jpg."""
    from . import importer

    person = consent_record(consent_basis, consent_note, consent_expires)
    photos, skipped = importer.scan(folder)
    jobs = min(jobs or os.cpu_count() or 1, max(1, len(photos)))
    # Everything but the report goes to stderr, so stdout stays clean for a pipe.
    if photos:
        count = len({photo.key for photo in photos})
        click.echo(
            f"{importer.plural(len(photos), 'photo')} of "
            f"{importer.plural(count, 'person', 'people')} in {folder}; encoding with "
            f"{importer.plural(jobs, 'process', 'processes')}"
            + (" (dry run: nothing will be written)." if dry_run else "."),
            err=True,
        )
    else:
        click.echo(f"No photos to import in {folder}.", err=True)
    eta = TimeLeft(len(photos))
    with click.progressbar(
        length=len(photos),
        label="Encoding",
        show_pos=True,
        item_show_func=eta.text,
        file=sys.stderr,
    ) as bar:

        def progress(n):
            eta.done(n)
            bar.update(n, current_item=True)

        report = importer.run_import(
            folder,
            jobs=jobs,
            dry_run=dry_run,
            strict=strict,
            max_pixels=current_settings().max_pixels,
            progress=progress,
            photos=photos,
            skipped=skipped,
            person=person,
        )
    for line in report.lines():
        click.echo(line)
    if report.interrupted:
        raise SystemExit(130)
    if report.failed:
        raise SystemExit(1)


CONSENT_OPTIONS = {
    "consent_basis": "--consent",
    "consent_note": "--consent-note",
    "consent_expires": "--consent-review",
}


def consent_record(basis: str, note: str, expires: str) -> PersonFields:
    """The consent record the options give (for every person the command creates), checked
    before anything is read or written: a refusal names the option."""
    from . import people

    fields = people.PersonFields(consent_basis=basis, consent_note=note, consent_expires=expires)
    try:
        return fields.changed(name="x").clean().changed(name="")
    except people.PersonError as exc:
        problems = [f"{CONSENT_OPTIONS[k]}: {m}" for k, m in exc.errors.items() if k != "name"]
        raise click.UsageError(" ".join(problems) or str(exc)) from None


class TimeLeft:
    """The time an import has left, from the pace since its first file was done.

    Click's own estimate counts the workers' start-up (loading dlib's models, seconds) as if
    every file took that long, and showed a minute for a 14-second job.
    """

    def __init__(self, total: int):
        self.total = total
        self.count = 0
        self.first_at: float | None = None

    def done(self, n: int):
        self.count += n
        if self.first_at is None:
            self.first_at = time.monotonic()
            self.first_count = self.count

    def text(self, _item=None) -> str:
        if self.first_at is None or self.count - self.first_count < 2:
            return "estimating time left…"
        pace = (time.monotonic() - self.first_at) / (self.count - self.first_count)
        left = round(pace * (self.total - self.count))
        return f"about {left // 60}:{left % 60:02d} left"


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


@users.command("export")
@click.argument("name")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="The ZIP to write (default: facerec-person-ID.zip here). Never overwritten.",
)
def export_person(name, output):
    """Write everything held on the person NAME into one ZIP (a subject access request)."""
    from . import export, people

    user = people.find_by_name(name)
    if user is None:
        raise click.ClickException(f"No person named “{name}”.")
    path = Path(output or export.file_name(user))
    if path.exists():
        raise click.ClickException(f"{path} exists already: choose another file with --output.")
    data = export.export(user)
    # Written whole to a new file (mode x), then the audit entry: no half ZIP, no entry
    # for an export that did not happen.
    with path.open("xb") as handle:
        handle.write(data)
    db.session.commit()
    click.echo(f"Wrote everything held on {user.name} to {path} ({len(data):,} bytes).")


@users.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking for confirmation.")
def delete_person(name, yes):
    """Delete the person NAME and all their samples."""
    from . import forget, people

    user = people.find_by_name(name)
    if user is None:
        raise click.ClickException(f"No person named “{name}”.")
    erasure = forget.survey(user)
    what = ", ".join(erasure.lines())
    if not yes:
        click.confirm(f"Delete {user.name} and every copy of their face ({what})?", abort=True)
    # ORM deletes (not bulk statements) so the gallery version moves on.
    erased = forget.delete(user)
    db.session.commit()
    forget.after_commit(erased)
    click.echo(f"Deleted {user.name} ({', '.join(erased.lines())}).")


# -- cameras ---------------------------------------------------------------------------------

cameras = AppGroup("cameras", help="Manage the cameras the server watches.")


@cameras.command("add")
@click.argument("name")
@click.argument("source")
@click.option("--disabled", is_flag=True, help="Store the camera without starting it.")
@click.option("--detect-width", metavar="PIXELS", help="Detection width for this camera.")
@click.option("--tolerance", metavar="T", help="Match tolerance for this camera (0..1].")
@click.option(
    "--transport",
    type=click.Choice(["tcp", "udp"], case_sensitive=False),
    default="tcp",
    show_default=True,
    help="How an rtsp:// camera sends its video.",
)
@click.option(
    "--snapshot-rate",
    metavar="PER_SECOND",
    help="Pictures a second asked of a snapshot camera (default FACEREC_SNAPSHOT_RATE).",
)
@click.option(
    "--motion-gate/--no-motion-gate",
    default=None,
    help="Look for faces only where something moves (default FACEREC_MOTION_GATE).",
)
@click.option(
    "--motion-area",
    metavar="PERCENT",
    help="Share of the picture that must change to be movement (default FACEREC_MOTION_AREA).",
)
@click.option(
    "--recheck",
    metavar="SECONDS",
    help="Seconds between two looks at a settled face (default FACEREC_RECHECK_INTERVAL).",
)
@click.option(
    "--replace-main",
    is_flag=True,
    help="With no camera stored yet: replace FACEREC_CAMERA's camera instead of keeping it.",
)
@click.option(
    "--detect-source",
    metavar="URL",
    help="The camera's smaller sub-stream: faces are looked for in it, drawn on SOURCE.",
)
def add_camera_command(
    name,
    source,
    disabled,
    detect_width,
    tolerance,
    transport,
    snapshot_rate,
    motion_gate,
    motion_area,
    recheck,
    replace_main,
    detect_source,
):
    """Add the camera NAME watching SOURCE (a webcam number, a video file or a URL)."""
    from .camera import describe, store

    try:
        kept = None if replace_main else store.env_camera()
        row = store.save(
            None,
            name=name,
            source=source,
            enabled=not disabled,
            detect_width=detect_width,
            tolerance=tolerance,
            transport=transport,
            snapshot_rate=snapshot_rate,
            motion_gate=motion_gate,
            motion_area=motion_area,
            recheck_interval=recheck,
            keep_main=not replace_main,
            detect_source=detect_source,
        )
        db.session.commit()
    except store.CameraError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    state = "disabled" if disabled else "a running server picks it up within a second"
    detect = f", faces looked for in {describe(row.detect_source)}" if row.detect_source else ""
    click.echo(f"Added the camera “{row.name}”: {describe(row.source)}{detect} ({state}).")
    if kept and store.find(kept[0]) is not None:
        click.echo(f"Kept the camera “{kept[0]}” of FACEREC_CAMERA beside it.")
    default = store.default_camera()
    click.echo(f"The default stream shows “{default}”." if default else "No camera is enabled.")


@cameras.command("list")
def list_cameras_command():
    """List the cameras: name, state, source (credentials hidden)."""
    from .camera import describe, store

    rows = store.all_cameras()
    server = store.this_server()
    if server:  # several servers share the database: each lists (and runs) its own
        click.echo(f"Cameras of the server “{server}” (FACEREC_SERVER):")
    if not rows:
        env = current_settings().camera.strip()
        if env:
            name = server or "main"
            click.echo(f"No cameras stored; FACEREC_CAMERA defines “{name}”: {describe(env)}")
        else:
            click.echo("No cameras: add one with `.venv/bin/facerec cameras add NAME SOURCE`.")
        return
    width = max(4, *(len(row.name) for row in rows))
    click.echo(f"{'name':<{width}}  state     source")
    for row in rows:
        state = "enabled" if row.enabled else "disabled"
        click.echo(f"{row.name:<{width}}  {state:<8}  {describe(row.source)}")
        if row.detect_source:
            click.echo(f"{'':<{width}}  {'':<8}  detection: {describe(row.detect_source)}")


@cameras.command("remove")
@click.argument("name")
def remove_camera_command(name):
    """Remove the camera NAME (its sightings stay in the history)."""
    from .camera import store

    row = store.find(name)
    if row is None:
        raise click.ClickException(f"No camera named “{name}”.")
    db.session.delete(row)
    db.session.commit()
    click.echo(f"Removed the camera “{row.name}”.")


# -- webhooks: URLs that receive sighting events -------------------------------------------


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--secret",
    help="Sign every delivery (Standard Webhooks) with this secret; one starting with whsec_ "
    "is base64 after the prefix, as the Standard Webhooks libraries expect.",
)
@click.option(
    "--events",
    "event_names",
    metavar="LIST",
    help="Comma-separated events to send (default: all): "
    "sighting.started,sighting.updated,sighting.ended.",
)
@click.option(
    "--thumbnail",
    is_flag=True,
    help='Put the face in each event too, as a small base64 JPEG ("thumbnail").',
)
def add_webhook_command(url, secret, event_names, thumbnail):
    """Send sighting events to URL (http:// or https://) as signed JSON POSTs."""
    from .events.webhooks import WebhookError, add_webhook

    try:
        hook = add_webhook(url, secret=secret, events=event_names, thumbnail=thumbnail)
    except WebhookError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Webhook {hook.id} added: {hook.url} ({hook.events or 'every event'}).")
    click.echo("facerec will send people's names to this URL.", err=True)


@webhooks.command("list")
def list_webhooks_command():
    """List webhooks and how their last delivery went."""
    from .models import Webhook

    rows = db.session.execute(select(Webhook).order_by(Webhook.id)).scalars().all()
    if not rows:
        click.echo("No webhooks: add one with `.venv/bin/facerec webhooks add URL`.")
        return
    click.echo("id  state     signed  last delivery              events  url")
    for hook in rows:
        last = hook.deliveries[0] if hook.deliveries else None
        if last is None:
            outcome = "none yet"
        else:
            outcome = f"{last.created_at:%Y-%m-%d %H:%M} {last.status_code or last.error or ''}"
        state = "enabled" if hook.enabled else "disabled"
        signed = "yes" if hook.secret else "no"
        click.echo(
            f"{hook.id:<3} {state:<9} {signed:<7} {outcome[:26]:<26} "
            f"{hook.events or 'all'}  {hook.url}"
        )


@webhooks.command("remove")
@click.argument("webhook_id", metavar="ID", type=int)
def remove_webhook_command(webhook_id):
    """Remove webhook ID (see `.venv/bin/facerec webhooks list`) and its delivery log."""
    from .models import Webhook

    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise click.ClickException(f"No webhook with id {webhook_id}.")
    url = hook.url
    db.session.delete(hook)
    db.session.commit()
    click.echo(f"Removed webhook {webhook_id} ({url}).")


# -- sightings: the history ----------------------------------------------------------------

sightings_cli = AppGroup("sightings", help="Manage the history of sightings.")


@sightings_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Delete sightings older than this many days (default: FACEREC_RETENTION_DAYS for "
    "known people's, FACEREC_RETENTION_UNKNOWN_DAYS for unknown visitors').",
)
@click.option(
    "--unknown-days",
    type=click.IntRange(min=0),
    default=None,
    help="Unknown visitors' sightings older than this many days (default: --days if given).",
)
def prune_sightings_command(days, unknown_days):
    """Delete expired sightings now, per kind (they are also pruned in the background)."""
    from .sightings import prune

    settings = current_settings()
    known = settings.retention_days if days is None else days
    if unknown_days is None:
        unknown_days = settings.retention_unknown_days if days is None else days
    if known == 0 and unknown_days == 0:
        click.echo("Retention is 0 days: every sighting is kept; nothing deleted.")
        return
    removed = prune(known, unknown_days=unknown_days)

    def kept(n: int) -> str:
        return f"older than {n} days" if n else "none (kept for ever)"

    click.echo(
        f"Deleted {removed} sighting{'s' if removed != 1 else ''}: known people's "
        f"{kept(known)}, unknown visitors' {kept(unknown_days)}."
    )


# -- settings -------------------------------------------------------------------------------


@click.command("settings")
@with_appcontext
def show_settings():
    """Show every setting's value and where it came from (secrets hidden)."""
    settings = current_settings()
    width = max(len(spec.env) for spec in config.declared())
    for spec in config.declared():
        value = getattr(settings, spec.name)
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(f"{item:g}" for item in value)
        elif isinstance(value, float):
            text = f"{value:g}"
        elif value is None:
            text = ""
        else:
            text = str(value)
        if spec.secret and text:
            # A URL keeps its shape with the password hidden; a key is only said to be set.
            text = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text) if "://" in text else "(set)"
        origin = settings.origins.get(spec.env, config.DEFAULT)
        click.echo(f"{spec.env:<{width}}  {text or '(empty)'}  (from {origin})")


def init_app(app):
    from .auth.cli import GROUPS  # accounts, tokens, audit
    from .events.commands import notify

    for group in (users, *GROUPS, cameras, webhooks, notify, sightings_cli):
        app.cli.add_command(group)
    app.cli.add_command(show_settings)
    from . import backup  # backup FILE, restore FILE

    backup.init_app(app)


# The commands that only work on the database and files: their app is made without the
# pages, cameras, face engine, event delivery and metrics (``create_app(serving=False)``),
# which is most of what such a command cost to start. Any other command (``run``, ``shell``,
# ``routes``, ``notify``, whose test message goes through the app's notification sink) gets
# the whole app, as ``flask --app facerec`` and the server do.
OFFLINE_COMMANDS = frozenset(
    {"users", "accounts", "tokens", "audit", "cameras", "webhooks", "sightings", "settings",
     "backup", "restore", "db"}
)  # fmt: skip


class FacerecGroup(FlaskGroup):
    """Flask's command group, with the plugin commands named here instead of looked for, and
    the app made for the command run (see ``OFFLINE_COMMANDS``).

    Flask's own group reads the entry points of every installed distribution for
    ``flask.commands`` on every run, and imports each plugin's module: 0.1 s of CPU before
    ``accounts list`` did anything. The one plugin among facerec's requirements is
    Flask-Limiter's ``limiter`` (the rate limits in force); it stays, imported only when it is
    run or listed. A plugin installed later beside facerec is not picked up by ``facerec``
    (``flask --app facerec`` still finds it).
    """

    PLUGINS = {"limiter": "flask_limiter.commands:cli"}

    def __init__(self, **kwargs):
        # Listing the commands (--help) needs only their names: the offline app has them all.
        self.serving = False
        self.resolving = False
        super().__init__(create_app=self.make_app, **kwargs)

    def make_app(self):
        from . import create_app

        return create_app(serving=self.serving)

    def _load_plugin_commands(self):
        self._loaded_plugin_commands = True  # nothing to scan: see PLUGINS

    def resolve_command(self, ctx, args):
        self.resolving = True  # the command to run, not one of a list (see get_command)
        try:
            return super().resolve_command(ctx, args)
        finally:
            self.resolving = False

    def get_command(self, ctx, name):
        if name not in OFFLINE_COMMANDS:
            self.serving = True  # no effect once the app is made (listing the commands)
        if name in self.PLUGINS and name not in self.commands:
            module, attr = self.PLUGINS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        command = super().get_command(ctx, name)
        if command is None and name == "db":
            command = self.migrations(ctx)
        return command

    def migrations(self, ctx):
        """Flask-Migrate's ``db`` group for the offline app, which is made without it (Alembic
        is 0.1 s to import): set up when ``db ...`` runs; in a list, its name and summary."""
        if not self.resolving:
            return click.Group("db", help=MIGRATIONS_HELP)
        app = ctx.ensure_object(ScriptInfo).load_app()
        init_migrations(app)
        return app.cli.get_command(ctx, "db")

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.PLUGINS, "db"})


# Flask-Migrate's summary of its ``db`` group (tests/test_docs_commands.py compares the lists).
MIGRATIONS_HELP = "Perform database migrations."


def main():
    """The ``facerec`` command: every ``flask`` command of this app, with no ``--app`` needed."""
    cli = FacerecGroup(
        name="facerec",
        help="Manage a facerec server: people, accounts, tokens, cameras, webhooks, the "
        "database (db upgrade) and the history. Run it from the project folder as "
        ".venv/bin/facerec COMMAND, or as facerec COMMAND with the virtualenv activated.",
    )
    try:
        cli.main(prog_name="facerec")
    except (OperationalError, ProgrammingError) as exc:
        # A fresh clone's first command, before `make run` or `make db` made the tables.
        text = str(exc.orig)
        if "no such table" not in text and "does not exist" not in text:
            raise
        click.echo(
            "The database has no tables yet. Create them first, from the project folder: "
            "make db (or .venv/bin/facerec db upgrade).",
            err=True,
        )
        raise SystemExit(1) from None


__all__ = ["click", "init_app", "main"]
