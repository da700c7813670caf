"""The webhooks page: add, enable or disable, remove, send a test, see the last deliveries."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select

from ..events.webhooks import WebhookError, add_webhook, clean_events, clean_secret, clean_url
from ..extensions import db
from ..models import Webhook, WebhookDelivery
from . import bp
from .forms import WebhookForm

SHOWN_DELIVERIES = 10


def _hook_or_404(webhook_id: int) -> Webhook:
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        abort(404, description="There is no such webhook (it may have been removed).")
    return hook


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
def webhooks():
    """Every webhook with its last deliveries, and the form to add one."""
    return _render(WebhookForm())


@bp.post("/webhooks")
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
        form.url.data, secret=form.secret.data, events=clean_events(form.events.data)
    )
    db.session.commit()
    flash(f"Added the webhook {hook.url}. Send a test to check that it answers.", "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/<int:webhook_id>/toggle")
def toggle_webhook(webhook_id):
    """Enable or disable a webhook (a disabled one receives nothing, keeps its log)."""
    hook = _hook_or_404(webhook_id)
    hook.enabled = not hook.enabled
    db.session.commit()
    flash(f"{'Enabled' if hook.enabled else 'Disabled'} the webhook {hook.url}.", "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/<int:webhook_id>/delete")
def delete_webhook(webhook_id):
    """Remove a webhook and its delivery log."""
    hook = _hook_or_404(webhook_id)
    url = hook.url
    db.session.delete(hook)
    db.session.commit()
    flash(f"Removed the webhook {url}.", "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/<int:webhook_id>/test")
def test_webhook(webhook_id):
    """Send a webhook.test event now and say what the receiver answered."""
    hook = _hook_or_404(webhook_id)
    outcome = current_app.extensions["webhooks"].send_test(hook)
    if outcome.ok:
        flash(f"Test delivered: {hook.url} answered {outcome.status_code}.", "success")
    else:
        flash(f"Test failed: {hook.url}: {outcome.error}.", "error")
    return redirect(url_for("admin.webhooks"))
