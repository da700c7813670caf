"""``facerec notify add|list|test|remove``: notification targets from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import NOTIFY_WHO, NotificationTarget
from .rules import parse_names
from .targets import TargetError, TargetFields, describe, masked, save_target

notify = AppGroup("notify", help="Send a message with the face to a phone, chat or mailbox.")


@notify.command("add")
@click.argument("url")
@click.option(
    "--who",
    type=click.Choice(NOTIFY_WHO),
    default="anyone",
    show_default=True,
    help="anyone, known people, unknown visitors only, or the people of --people.",
)
@click.option("--people", metavar="A,B", help="With --who people: the people to send for.")
@click.option("--except", "excluded", metavar="A,B", help="People never to send a message for.")
@click.option("--cameras", metavar="A,B", help="Only these cameras (default: every camera).")
@click.option("--hours", metavar="HH:MM-HH:MM", help="Only between these hours (server time).")
@click.option("--days", metavar="DAYS", help="Only on these days: mon-fri, sat,sun ...")
@click.option(
    "--cooldown",
    default="600",
    show_default=True,
    metavar="SECONDS",
    help="At most one message per person and camera in this many seconds.",
)
@click.option("--no-face", is_flag=True, help="Do not attach the face.")
def add_command(url, who, people, excluded, cameras, hours, days, cooldown, no_face):
    """Send messages to URL, an Apprise URL (ntfys://..., mailtos://..., tgram://...)."""
    fields = TargetFields(
        url=url,
        who=who,
        people=parse_names(people),
        excluded=parse_names(excluded),
        cameras=parse_names(cameras),
        days=days or "",
        hours=hours or "",
        cooldown=cooldown,
        attach=not no_face,
    )
    try:
        target = save_target(fields, app=current_app)
        db.session.flush()
    except TargetError as exc:
        raise click.ClickException(str(exc)) from None
    line = f"Notification target {target.id} added: {masked(target.url)}"
    rule = describe(target)
    db.session.commit()
    click.echo(f"{line}\n  {rule}.")
    click.echo(f"Check it with: .venv/bin/facerec notify test {target.id}", err=True)


@notify.command("list")
def list_command():
    """List the targets, their rules in plain words and how their last message went."""
    rows = db.session.scalars(select(NotificationTarget).order_by(NotificationTarget.id)).all()
    if not rows:
        click.echo("No notification targets: add one with `.venv/bin/facerec notify add URL`.")
        return
    for target in rows:
        last = target.deliveries[0] if target.deliveries else None
        if last is None:
            outcome = "nothing sent yet"
        elif last.ok:
            outcome = f"last message sent {last.created_at:%Y-%m-%d %H:%M} UTC"
        else:
            outcome = f"last message failed {last.created_at:%Y-%m-%d %H:%M} UTC: {last.error}"
        state = "enabled" if target.enabled else "disabled"
        face = "with the face" if target.attach else "without the face"
        click.echo(f"{target.id}  {state}  {masked(target.url)}")
        click.echo(f"   {describe(target)}; {face}.")
        click.echo(f"   {outcome}")


def _target(target_id: int) -> NotificationTarget:
    target = db.session.get(NotificationTarget, target_id)
    if target is None:
        raise click.ClickException(f"No notification target with id {target_id}.")
    return target


@notify.command("test")
@click.argument("target_id", metavar="ID", type=int)
def test_command(target_id):
    """Send a test message to target ID now and say whether it went out."""
    target = _target(target_id)
    ok, error = current_app.extensions["notifications"].send_test(target)
    if not ok:
        raise click.ClickException(f"Test message to {masked(target.url)} {error}.")
    click.echo(f"Test message sent to {masked(target.url)}.")


@notify.command("remove")
@click.argument("target_id", metavar="ID", type=int)
def remove_command(target_id):
    """Remove target ID (see `.venv/bin/facerec notify list`) and its log."""
    target = _target(target_id)
    shown = masked(target.url)
    db.session.delete(target)
    db.session.commit()
    click.echo(f"Removed notification target {target_id} ({shown}).")
