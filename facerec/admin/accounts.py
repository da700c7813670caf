"""The accounts page: create accounts, give roles and camera limits, disable, sign out."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..auth.accounts import (
    AccountError,
    camera_names,
    create_account,
    set_disabled,
    set_role,
)
from ..auth.roles import ARTICLE, ROLE_TEXT, requires
from ..extensions import db
from ..models import Account
from . import bp
from .forms import AccountForm, RoleForm


def _account_or_404(account_id: int) -> Account:
    return db.get_or_404(Account, account_id, description="There is no such account.")


def _with_cameras(form):
    form.cameras.choices = [SelectChoice(name) for name in camera_names()]
    return form


def _render_list(form=None, status=200):
    rows = db.session.scalars(select(Account).order_by(Account.username)).all()
    form = form or _with_cameras(AccountForm(formdata=None))
    return render_template(
        "admin/accounts.html", accounts=rows, form=form, role_text=ROLE_TEXT
    ), status


@bp.get("/accounts")
@requires("accounts")
def accounts():
    """Every account: its role, cameras, state, last sign-in; a form to add one."""
    return _render_list()


@bp.post("/accounts")
@requires("accounts")
def create_account_page():
    """Create an account with a role (and, for operators and viewers, a camera limit)."""
    form = _with_cameras(AccountForm())
    if not form.validate_on_submit():
        return _render_list(form, 400)
    try:
        account = create_account(
            form.username.data, form.password.data, form.role.data, form.cameras.data
        )
    except AccountError as exc:
        form.username.errors = [*form.username.errors, str(exc)]
        return _render_list(form, 400)
    db.session.commit()  # on record by itself (audit/rows.py)
    flash(f"Created the account “{account.username}”, {ARTICLE[account.role]}.", "success")
    return redirect(url_for("admin.accounts"), 303)


def _render_account(account: Account, form=None, status=200):
    if form is None:
        form = _with_cameras(RoleForm(formdata=None, role=account.role))
        form.cameras.data = account.camera_list
    return render_template(
        "admin/account.html", account=account, form=form, role_text=ROLE_TEXT
    ), status


@bp.get("/accounts/<int:account_id>")
@requires("accounts")
def account(account_id):
    """One account: its role and cameras, disable, sign out everywhere."""
    return _render_account(_account_or_404(account_id))


@bp.post("/accounts/<int:account_id>")
@requires("accounts")
def update_account(account_id):
    """Save an account's role and camera limit; its sessions have them from the next request."""
    row = _account_or_404(account_id)
    form = _with_cameras(RoleForm())
    if not form.validate_on_submit():
        return _render_account(row, form, 400)
    try:
        set_role(row, form.role.data, form.cameras.data)
    except AccountError as exc:
        form.role.errors = [*form.role.errors, str(exc)]
        return _render_account(row, form, 400)
    db.session.commit()
    limit = ", ".join(row.camera_list) or "every camera"
    flash(f"“{row.username}” is now {ARTICLE[row.role]} ({limit}).", "success")
    return redirect(url_for("admin.account", account_id=row.id), 303)


@bp.post("/accounts/<int:account_id>/toggle")
@requires("accounts")
def toggle_account(account_id):
    """Disable an account (its sessions end, its tokens stop working) or enable it again."""
    row = _account_or_404(account_id)
    disable = row.disabled_at is None
    if disable and row.id == current_user.id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin.account", account_id=row.id), 303)
    try:
        set_disabled(row, disable)
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.account", account_id=row.id), 303)
    db.session.commit()
    if disable:
        flash(f"Disabled “{row.username}”: signed out, its API tokens refused.", "success")
    else:
        flash(f"Enabled “{row.username}”: it can sign in again.", "success")
    return redirect(url_for("admin.account", account_id=row.id), 303)


@bp.post("/accounts/<int:account_id>/sign-out")
@requires("accounts")
def sign_out_account(account_id):
    """End every session of the account (a lost phone, a shared computer)."""
    row = _account_or_404(account_id)
    row.end_sessions()
    db.session.commit()
    if row.id == current_user.id:
        flash("Every session of your account has ended; sign in again.", "success")
        return redirect(url_for("auth.login"), 303)
    flash(f"Every session of “{row.username}” has ended.", "success")
    return redirect(url_for("admin.account", account_id=row.id), 303)
