"""The API tokens page: create (shown once), list, revoke."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ..auth.accounts import AccountError, create_token, revoke_token
from ..auth.roles import requires
from ..extensions import db
from ..models import Account, ApiToken
from . import bp
from .forms import TokenForm


def _render(form, new_token=None, status=200):
    rows = (
        db.session.execute(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
        )
        .scalars()
        .all()
    )
    return render_template("admin/tokens.html", form=form, tokens=rows, new_token=new_token), status


@bp.get("/tokens")
@requires("tokens")
def tokens():
    """Every API token with its state."""
    return _render(TokenForm())


@bp.post("/tokens")
@requires("tokens")
def create_api_token():
    """Create a token for the signed-in account and show it once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(form, status=400)
    principal = current_user._get_current_object()
    account = principal if isinstance(principal, Account) else None
    try:
        row, token = create_token(form.name.data, account)
    except AccountError as exc:
        form.name.errors = [*form.name.errors, str(exc)]
        return _render(form, status=400)
    db.session.commit()
    # Rendered into this response only: never flashed (the session cookie is readable).
    response = _render(TokenForm(formdata=None), new_token={"name": row.name, "token": token})
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
