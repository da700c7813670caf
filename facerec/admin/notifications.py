"""The notifications page: targets (masked), their rules in plain words, the last messages;
add, send a test, enable or disable, remove. Administrators only (the "webhooks" permission:
a target makes the server connect where it says); every change goes on the audit trail by
itself (audit.rows)."""

from flask import current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from .. import camera
from ..auth.roles import requires
from ..events.rules import parse_names
from ..events.targets import TargetError, TargetFields, attaches, describe, masked, save_target
from ..extensions import db
from ..models import NotificationDelivery, NotificationPerson, NotificationTarget
from . import bp, delete_row, toggle_enabled
from .forms import NotificationForm

SHOWN_DELIVERIES = 10


def _target_or_404(target_id: int) -> NotificationTarget:
    return db.get_or_404(
        NotificationTarget,
        target_id,
        description="There is no such notification target (it may have been removed).",
    )


def _back(message: str, category: str = "success"):
    """Say what happened, on the notifications page."""
    flash(message, category)
    return redirect(url_for("admin.notifications"))


def _form() -> NotificationForm:
    form = NotificationForm()
    names = sorted({service.camera or "main" for service in camera.services()})
    form.cameras.choices = [SelectChoice(name) for name in names]
    if not form.is_submitted():
        form.cooldown.data = "10"
    return form


def _render(form, status=200):
    targets = db.session.scalars(
        select(NotificationTarget)
        .order_by(NotificationTarget.id)
        .options(selectinload(NotificationTarget.people).selectinload(NotificationPerson.user))
    ).all()
    rows = [
        {
            "target": target,
            "url": masked(target.url),
            "rule": describe(target),
            "face": target.attach and attaches(target.url),
            "deliveries": db.session.scalars(
                select(NotificationDelivery)
                .where(NotificationDelivery.target_id == target.id)
                .order_by(NotificationDelivery.id.desc())
                .limit(SHOWN_DELIVERIES)
            ).all(),
        }
        for target in targets
    ]
    return render_template("admin/notifications.html", form=form, rows=rows), status


@bp.get("/notifications")
@requires("webhooks")
def notifications():
    """Every notification target with its rule and last messages, and the form to add one."""
    return _render(_form())


@bp.post("/notifications")
@requires("webhooks")
def add_notification():
    """Add a notification target from the form."""
    form = _form()
    if not form.validate_on_submit():
        return _render(form, status=400)
    try:
        minutes = float((form.cooldown.data or "0").strip())
    except ValueError:
        form.cooldown.errors = [*form.cooldown.errors, "The cool-down is a number of minutes."]
        return _render(form, status=400)
    fields = TargetFields(
        url=form.url.data,
        who=form.who.data,
        people=parse_names(form.people.data),
        excluded=parse_names(form.excluded.data),
        cameras=list(form.cameras.data or []),
        days=",".join(form.days.data or []),
        hours=form.hours.data or "",
        cooldown=round(minutes * 60) if minutes >= 0 else -1,
        attach=form.attach.data,
    )
    try:
        target = save_target(fields, app=current_app)
        db.session.flush()
    except TargetError as exc:
        db.session.rollback()
        flash(f"The target was not added: {exc}", "error")
        return _render(form, status=400)
    rule = describe(target)
    db.session.commit()
    return _back(f"Added {masked(target.url)}: {rule}. Send a test to check that it arrives.")


@bp.post("/notifications/<int:target_id>/test")
@requires("webhooks")
def test_notification(target_id):
    """Send a test message now and say whether it went out."""
    target = _target_or_404(target_id)
    ok, error = current_app.extensions["notifications"].send_test(target)
    if ok:
        return _back(f"Test message sent to {masked(target.url)}.")
    return _back(f"Test message to {masked(target.url)} {error}.", "error")


@bp.post("/notifications/<int:target_id>/toggle")
@requires("webhooks")
def toggle_notification(target_id):
    """Enable or disable a target (a disabled one is sent nothing, keeps its log)."""
    target = _target_or_404(target_id)
    return _back(toggle_enabled(target, f"the notification target {masked(target.url)}"))


@bp.post("/notifications/<int:target_id>/delete")
@requires("webhooks")
def delete_notification(target_id):
    """Remove a target and its log."""
    target = _target_or_404(target_id)
    return _back(delete_row(target, f"Removed the notification target {masked(target.url)}."))
