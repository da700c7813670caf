"""Sign-in accounts and API tokens: the rules every path (setup page, CLI, admin) shares."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Account, ApiToken, utcnow
from .roles import ADMIN, ARTICLE, ROLE_SCOPES, SCOPES, VIEWER, clean_role, clean_scopes

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


def create_account(username: str, password: str, role: str | None = None, cameras=None) -> Account:
    """Add an account to the session (the caller commits).

    ``role`` defaults to admin for the first account (someone must be able to manage the
    rest) and to viewer for the others; ``cameras`` (names, or "a,b") limits what an
    operator or a viewer sees.
    """
    username = clean_username(username)
    password = check_password_rules(password)
    if find_account(username) is not None:
        raise AccountError(f"An account named “{username}” already exists.")
    if role is None:
        role = ADMIN if not any_account() else VIEWER
    account = Account(username=username)
    set_role(account, role, cameras)
    account.set_password(password)
    db.session.add(account)
    return account


def set_role(account: Account, role: str, cameras=None):
    """Give ``account`` a role and a camera limit (None or "" for every camera).

    Its sessions go on with the new role from their next request. The last admin cannot
    stop being one (nobody could manage accounts any more).
    """
    try:
        role = clean_role(role)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    names = clean_cameras(cameras)
    if role == ADMIN and names:
        raise AccountError(
            "An admin sees every camera: camera limits are for operators and viewers."
        )
    if account.id is not None and account.role == ADMIN and role != ADMIN and _last_admin(account):
        raise AccountError(
            f"“{account.username}” is the last admin: make another account an admin first."
        )
    account.role = role
    account.cameras = ",".join(names)


def _last_admin(account: Account) -> bool:
    """Is ``account`` the only active admin?"""
    others = select(func.count(Account.id)).where(
        Account.role == ADMIN, Account.disabled_at.is_(None), Account.id != account.id
    )
    return db.session.scalar(others) == 0


def set_disabled(account: Account, disabled: bool) -> bool:
    """Disable (sign-in, sessions and tokens refused) or enable an account; False if it
    already was. The last active admin cannot be disabled."""
    if disabled == (account.disabled_at is not None):
        return False
    if disabled:
        if account.role == ADMIN and _last_admin(account):
            raise AccountError(
                f"“{account.username}” is the last admin: make another account an admin first."
            )
        account.disabled_at = utcnow()
        account.end_sessions()
    else:
        account.disabled_at = None
    return True


def camera_names() -> list[str]:
    """Every camera's name (enabled or not), as camera limits may name them."""
    from .. import camera

    return [spec.name for spec in camera.registry().specs()]


def clean_cameras(raw) -> list[str]:
    """Camera names as typed ("a,b" or a list), each a camera that exists; [] for none."""
    if raw is None:
        return []
    names = raw.split(",") if isinstance(raw, str) else list(raw)
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not names:
        return []
    known = camera_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(known) or "none yet"
        raise AccountError(
            f"No camera named {', '.join(f'“{n}”' for n in unknown)} (the cameras: {listed})."
        )
    return names


def set_password(account: Account, password: str):
    account.set_password(check_password_rules(password))


# ---- API tokens ---------------------------------------------------------------------------


EXPIRES_DAYS_MAX = 3650


def create_token(
    name: str,
    account: Account | None = None,
    *,
    scopes=None,
    cameras=None,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token row (added to the session) and the token itself, which is never stored.

    ``scopes`` (names or "a,b"; None: every scope the account's role has, as the role is at
    each request) may not exceed the account's role; ``cameras`` narrows the account's
    cameras; ``expires_days`` makes it stop working that many days from now.
    """
    name = " ".join((name or "").split())
    if not name:
        raise AccountError("A token name is required.")
    if len(name) > TOKEN_NAME_MAX:
        raise AccountError(f"The token name is too long (at most {TOKEN_NAME_MAX} characters).")
    role = account.role if account is not None else ADMIN
    scope_names = None
    if scopes is not None:
        try:
            scope_names = clean_scopes(scopes)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        beyond = [s for s in scope_names if s not in ROLE_SCOPES.get(role, ())]
        if beyond:
            raise AccountError(
                f"The account “{account.username}” is {ARTICLE[role]}: a token of it cannot have "
                f"{', '.join(f'“{s}”' for s in beyond)} (its role allows "
                f"{', '.join(s for s in SCOPES if s in ROLE_SCOPES[role])})."
            )
    camera_list = clean_cameras(cameras)
    if account is not None and account.camera_list and camera_list:
        beyond = [c for c in camera_list if c not in account.camera_list]
        if beyond:
            raise AccountError(
                f"The account “{account.username}” may not see {', '.join(beyond)}: "
                f"a token of it may name only {', '.join(account.camera_list)}."
            )
    expires_at = None
    if expires_days is not None:
        if not 1 <= int(expires_days) <= EXPIRES_DAYS_MAX:
            raise AccountError(f"A token expires in 1 to {EXPIRES_DAYS_MAX} days.")
        expires_at = utcnow() + timedelta(days=int(expires_days))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        token_hash=ApiToken.hash(token),
        prefix=token[:8],
        account=account,
        scopes=None if scope_names is None else ",".join(scope_names),
        cameras=",".join(camera_list),
        expires_at=expires_at,
    )
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

    Made on the command line without ``--account``: its scopes alone limit it (without
    scopes it may do what an admin may). It has no account id.
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
