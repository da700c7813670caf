"""Sign-in accounts and API tokens: the rules every path (setup page, CLI, admin) shares."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Account, ApiToken, utcnow

USERNAME_MAX = 64
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
TOKEN_NAME_MAX = 100
TOKEN_PREFIX = "frec_"
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]+$")


class AccountError(ValueError):
    """A username, password or token name breaks a rule; the message says which."""


def clean_username(raw: str | None) -> str:
    username = (raw or "").strip()
    if not username:
        raise AccountError("A username is required.")
    if len(username) > USERNAME_MAX:
        raise AccountError(f"The username is too long (at most {USERNAME_MAX} characters).")
    if not _USERNAME.match(username):
        raise AccountError("A username may hold letters, digits and . _ @ - only.")
    return username


def check_password_rules(password: str | None) -> str:
    password = password or ""
    if not password.strip():
        raise AccountError("A password is required.")
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"The password is too short (at least {PASSWORD_MIN} characters).")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"The password is too long (at most {PASSWORD_MAX} characters).")
    return password


def any_account() -> bool:
    return db.session.execute(select(Account.id).limit(1)).first() is not None


def find_account(username: str) -> Account | None:
    """The account with this username, whatever its case."""
    stmt = select(Account).where(func.lower(Account.username) == (username or "").strip().lower())
    return db.session.execute(stmt).scalars().first()


def create_account(username: str, password: str) -> Account:
    """Add an account to the session (the caller commits)."""
    username = clean_username(username)
    password = check_password_rules(password)
    if find_account(username) is not None:
        raise AccountError(f"An account named “{username}” already exists.")
    account = Account(username=username)
    account.set_password(password)
    db.session.add(account)
    return account


def set_password(account: Account, password: str):
    account.set_password(check_password_rules(password))


# ---- API tokens ---------------------------------------------------------------------------


def create_token(name: str, account: Account | None = None) -> tuple[ApiToken, str]:
    """A new token row (added to the session) and the token itself, which is never stored."""
    name = " ".join((name or "").split())
    if not name:
        raise AccountError("A token name is required.")
    if len(name) > TOKEN_NAME_MAX:
        raise AccountError(f"The token name is too long (at most {TOKEN_NAME_MAX} characters).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=ApiToken.hash(token), prefix=token[:8], account=account)
    db.session.add(row)
    return row, token


def revoke_token(row: ApiToken) -> bool:
    """Mark a token revoked; False if it already was."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def active_token(token: str) -> ApiToken | None:
    if not token:
        return None
    stmt = select(ApiToken).where(
        ApiToken.token_hash == ApiToken.hash(token), ApiToken.revoked_at.is_(None)
    )
    return db.session.execute(stmt).scalar_one_or_none()


@dataclass
class TokenClient:
    """The principal of a request authenticated by a token that belongs to no account.

    It may use the JSON API like a signed-in operator; it has no account id.
    """

    token_id: int
    name: str

    is_authenticated = True
    is_active = True
    is_anonymous = False
    id = None

    @property
    def username(self) -> str:
        return f"token {self.name}"

    def get_id(self):
        return None
