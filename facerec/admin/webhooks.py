"""The webhooks page: add, enable or disable, remove, send a test, see the last deliveries."""

from flask import current_app, flash, redirect, render_template, url_for
from sqlalchemy import select

from ..auth.roles import requires
from ..events.webhooks import (
    WebhookError,
    add_webhook,
    clean_events,
    clean_secret,
    clean_url,
)
from ..extensions import db
from ..models import Webhook, WebhookDelivery
from . import bp, delete_row, toggle_enabled
from .forms import WebhookForm

SHOWN_DELIVERIES = 10


def _hook_or_404(webhook_id: int) -> Webhook:
    return db.get_or_404(
        Webhook, webhook_id, description="There is no such webhook (it may have been removed)."
    )


def _back(message: str, category: str = "success"):
    """Say what happened, on the webhooks page."""
    flash(message, category)
    return redirect(url_for("admin.webhooks"))


def _render(form, status=200):
    hooks = db.session.execute(select(Webhook).order_by(Webhook.id)).scalars().all()
    deliveries = {
        hook.id: db.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(SHOWN_DELIVERIES)
        )
        .scalars()
        .all()
        for hook in hooks
    }
    return (
        render_template("admin/webhooks.html", form=form, hooks=hooks, deliveries=deliveries),
        status,
    )


@bp.get("/webhooks")
@requires("webhooks")
def webhooks():
    """Every webhook with its last deliveries, and the form to add one."""
    return _render(WebhookForm())


@bp.post("/webhooks")
@requires("webhooks")
def add_webhook_page():
    """Add a webhook from the form."""
    form = WebhookForm()
    if not form.validate_on_submit():
        return _render(form, status=400)
    try:
        clean_url(form.url.data)
    except WebhookError as exc:
        form.url.errors = [*form.url.errors, str(exc)]
    try:
        clean_secret(form.secret.data)
    except WebhookError as exc:
        form.secret.errors = [*form.secret.errors, str(exc)]
    if form.url.errors or form.secret.errors:
        return _render(form, status=400)
    hook = add_webhook(
        form.url.data,
        secret=form.secret.data,
        events=clean_events(form.events.data),
        thumbnail=form.thumbnail.data,
    )
    db.session.commit()
    return _back(f"Added the webhook {hook.url}. Send a test to check that it answers.")


@bp.post("/webhooks/<int:webhook_id>/toggle")
@requires("webhooks")
def toggle_webhook(webhook_id):
    """Enable or disable a webhook (a disabled one receives nothing, keeps its log)."""
    hook = _hook_or_404(webhook_id)
    return _back(toggle_enabled(hook, f"the webhook {hook.url}"))


@bp.post("/webhooks/<int:webhook_id>/delete")
@requires("webhooks")
def delete_webhook(webhook_id):
    """Remove a webhook and its delivery log."""
    hook = _hook_or_404(webhook_id)
    return _back(delete_row(hook, f"Removed the webhook {hook.url}."))


@bp.post("/webhooks/<int:webhook_id>/test")
@requires("webhooks")
def test_webhook(webhook_id):
    """Send a webhook.test event now and say what the receiver answered."""
    hook = _hook_or_404(webhook_id)
    outcome = current_app.extensions["webhooks"].send_test(hook)
    return _back(test_result(hook.url, outcome), "success" if outcome.ok else "error")


def test_result(url: str, outcome) -> str:
    """What a test delivery found: reachable or not, and the HTTP status; never the peer's
    own error text (it would tell one kind of service from another)."""
    if outcome.ok:
        return f"Test delivered: {url} is reachable and answered {outcome.status_code}."
    if outcome.status_code is not None:
        return f"Test failed: {url} is reachable but answered {outcome.status_code}."
    if outcome.error and outcome.error.startswith("refused:"):
        return f"Test not sent: {outcome.error.removeprefix('refused:').strip()}"
    return f"Test failed: {url} is not reachable."
