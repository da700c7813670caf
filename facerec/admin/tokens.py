"""The API tokens page: create (shown once, with scopes, cameras, expiry), list, revoke."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..auth.accounts import AccountError, camera_names, create_token, revoke_token
from ..auth.roles import requires
from ..extensions import db
from ..models import Account, ApiToken, utcnow
from . import bp
from .forms import TokenForm


def _with_choices(form: TokenForm) -> TokenForm:
    accounts = db.session.scalars(
        select(Account).where(Account.disabled_at.is_(None)).order_by(Account.username)
    ).all()
    form.account.choices = [SelectChoice(a.id, f"{a.username} ({a.role})") for a in accounts]
    form.cameras.choices = [SelectChoice(name) for name in camera_names()]
    return form


def _render(form, new_token=None, status=200):
    rows = (
        db.session.execute(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
        )
        .scalars()
        .all()
    )
    return render_template(
        "admin/tokens.html", form=form, tokens=rows, new_token=new_token, now=utcnow()
    ), status


def _blank_form() -> TokenForm:
    form = _with_choices(TokenForm(formdata=None))
    form.account.data = current_user.id
    return form


@bp.get("/tokens")
@requires("tokens")
def tokens():
    """Every API token with its scopes, cameras, expiry and state."""
    return _render(_blank_form())


@bp.post("/tokens")
@requires("tokens")
def create_api_token():
    """Create a token for an account (the signed-in one by default) and show it once."""
    form = _with_choices(TokenForm())
    if not form.account.raw_data:
        form.account.data = current_user.id  # a form without the field: the signed-in admin
    if not form.validate_on_submit():
        return _render(form, status=400)
    account = db.session.get(Account, form.account.data)
    try:
        row, token = create_token(
            form.name.data,
            account,
            scopes=form.scopes.data or None,
            cameras=form.cameras.data,
            expires_days=form.expires_days.data,
        )
    except AccountError as exc:
        form.name.errors = [*form.name.errors, str(exc)]
        return _render(form, status=400)
    db.session.commit()  # on record by itself (audit/rows.py), without the token
    # Rendered into this response only: never flashed (the session cookie is readable).
    response = _render(_blank_form(), new_token={"name": row.name, "token": token})
    return response[0], response[1], {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
@requires("tokens")
def revoke_api_token(token_id):
    """Revoke a token: requests carrying it get 401 from now on."""
    row = db.get_or_404(ApiToken, token_id, description="There is no such token.")
    if revoke_token(row):
        db.session.commit()
        flash(f"Revoked the token “{row.name}” ({row.prefix}…).", "success")
    else:
        flash(f"The token “{row.name}” was already revoked.", "info")
    return redirect(url_for("admin.tokens"))
