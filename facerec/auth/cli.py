"""``facerec accounts|tokens|audit ...``: sign-in accounts and roles, API tokens, the audit."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import audit
from ..config import current_settings
from ..extensions import db
from ..models import Account, ApiToken, utcnow
from .accounts import (
    AccountError,
    clean_username,
    create_account,
    create_token,
    find_account,
    revoke_token,
    set_password,
    set_role,
)
from .roles import ROLES, SCOPES

accounts = AppGroup("accounts", help="Manage sign-in accounts and their roles.")
tokens = AppGroup("tokens", help="Manage API tokens.")
audit_cli = AppGroup("audit", help="The audit trail: who changed what, and when.")

CAMERAS_HELP = "Limit the account to these cameras (comma-separated names); default: every camera."


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


def _account_or_fail(username: str) -> Account:
    account = find_account(username)
    if account is None:
        raise click.ClickException(f"No account named “{username}”.")
    return account


def _limit_text(account: Account) -> str:
    return ", ".join(account.camera_list) or "every camera"


# -- accounts: who may sign in, and what they may do ----------------------------------------


@accounts.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLES, case_sensitive=False),
    default=None,
    help="admin, operator or viewer (default: admin for the first account, else viewer).",
)
@click.option("--cameras", metavar="A,B", default=None, help=CAMERAS_HELP)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
def create_account_command(username, role, cameras, password_stdin):
    """Create a sign-in account USERNAME (the password is prompted for, twice)."""
    try:
        username = clean_username(username)
        if find_account(username) is not None:
            raise AccountError(f"An account named “{username}” already exists.")
        account = create_account(username, _new_password(password_stdin), role, cameras)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()  # on record by itself (audit/rows.py), as every account change
    click.echo(
        f"Created the account “{account.username}” ({account.role}, {_limit_text(account)})."
    )


@accounts.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES, case_sensitive=False))
@click.option("--cameras", metavar="A,B", default=None, help=CAMERAS_HELP)
def set_role_command(username, role, cameras):
    """Give the account USERNAME the role ROLE (and a camera limit, or none)."""
    account = _account_or_fail(username)
    before = {"role": account.role, "cameras": account.camera_list}
    try:
        set_role(account, role, cameras)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    after = {"role": account.role, "cameras": account.camera_list}
    if after == before:
        click.echo(f"“{account.username}” already is {account.role} ({_limit_text(account)}).")
        return
    db.session.commit()
    click.echo(f"“{account.username}” is now {account.role} ({_limit_text(account)}).")


@accounts.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
def set_password_command(username, password_stdin):
    """Give the account USERNAME a new password."""
    account = _account_or_fail(username)
    try:
        set_password(account, _new_password(password_stdin))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Changed the password of “{account.username}”.")


@accounts.command("list")
def list_accounts_command():
    """List sign-in accounts with their roles."""
    rows = db.session.execute(select(Account).order_by(Account.username)).scalars().all()
    if not rows:
        click.echo("No accounts yet: create one with `.venv/bin/facerec accounts create USERNAME`.")
        return
    width = max(8, *(len(a.username) for a in rows))
    click.echo(
        f"{'username':<{width}}  role      state     created (UTC)     last sign-in (UTC)  cameras"
    )
    for a in rows:
        last = f"{a.last_login_at:%Y-%m-%d %H:%M}" if a.last_login_at else "never"
        state = "disabled" if a.disabled_at else "active"
        click.echo(
            f"{a.username:<{width}}  {a.role:<8}  {state:<8}  {a.created_at:%Y-%m-%d %H:%M}  "
            f"{last:<18}  {_limit_text(a)}"
        )


# -- tokens: bearer tokens for the JSON API and the streams ---------------------------------


@tokens.command("create")
@click.argument("name")
@click.option("--account", "username", metavar="USERNAME", help="The account the token acts for.")
@click.option(
    "--scopes",
    metavar="S1,S2",
    default=None,
    help=f"What the token may do: {', '.join(SCOPES)} (default: all its account's role has).",
)
@click.option("--cameras", metavar="A,B", default=None, help="Limit the token to these cameras.")
@click.option(
    "--expires-days",
    type=click.IntRange(min=1),
    default=None,
    help="The token stops working this many days from now (default: never).",
)
def create_token_command(name, username, scopes, cameras, expires_days):
    """Create an API token called NAME and print it (once: only its hash is stored)."""
    account = _account_or_fail(username) if username else None
    try:
        row, token = create_token(
            name, account, scopes=scopes, cameras=cameras, expires_days=expires_days
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Token {row.id} “{row.name}”; copy it now, it is not shown again:", err=True)
    click.echo(token)


@tokens.command("list")
def list_tokens_command():
    """List API tokens (their first characters only)."""
    rows = db.session.execute(select(ApiToken).order_by(ApiToken.id)).scalars().all()
    if not rows:
        click.echo("No API tokens.")
        return
    now = utcnow()
    click.echo("id  prefix     state    last used (UTC)   account  scopes               name")
    for t in rows:
        state = "revoked" if t.revoked_at else "expired" if t.expired(now) else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never           "
        owner = t.account.username if t.account else "-"
        scopes = ",".join(t.scope_list) if t.scope_list is not None else "(its role)"
        click.echo(f"{t.id:<3} {t.prefix:<10} {state:<8} {used}  {owner:<7}  {scopes:<20} {t.name}")


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def revoke_token_command(token_id):
    """Revoke the API token ID (see `.venv/bin/facerec tokens list`)."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise click.ClickException(f"No API token with id {token_id}.")
    if not revoke_token(row):
        click.echo(f"Token {row.id} “{row.name}” was already revoked.")
        return
    db.session.commit()
    click.echo(f"Revoked token {row.id} “{row.name}” ({row.prefix}…).")


# -- audit -----------------------------------------------------------------------------------


@audit_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Delete entries older than this many days (default: FACEREC_AUDIT_RETENTION_DAYS).",
)
def prune_audit_command(days):
    """Delete audit entries older than the retention (they are also pruned as the server runs)."""
    if days is None:
        days = current_settings().audit_retention_days
    if days == 0:
        click.echo("Audit retention is 0 days: every entry is kept; nothing deleted.")
        return
    removed = audit.prune(days)
    click.echo(
        f"Deleted {removed} audit entr{'ies' if removed != 1 else 'y'} older than {days} days."
    )


GROUPS = (accounts, tokens, audit_cli)
