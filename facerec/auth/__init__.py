"""Sign-in accounts (Flask-Login), API tokens, roles, and the check every request passes.

Guards for views: ``requires``, ``public``, ``require_camera``, ``can`` (``auth.roles``).
"""

import logging
from datetime import timedelta

from flask import Blueprint, after_this_request, current_app, g
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, login_manager
from ..models import Account, ApiToken, iso, utcnow
from . import roles
from .accounts import TokenClient, active_token, bearer_token
from .guard import require_login
from .roles import can, public, require_camera, requires
from .throttle import LoginThrottle

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

# last_used_at is written at most this often per token (not on every API call).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@bp.record_once
def _setup(state):
    state.app.extensions["login_throttle"] = LoginThrottle(limit=5, window=60.0)
    roles.init_app(state.app)  # every request of the app is checked, whatever its blueprint


@login_manager.user_loader
def load_account(session_id: str):
    """The account of a session cookie, unless its sessions were ended since it was issued.

    The cookie holds ``id:generation`` (``Account.get_id``); signing out, "Sign out
    everywhere" and a password change raise the account's generation, so every cookie issued
    before (a copy kept by a thief included) is refused from then on. A bare id comes from a
    cookie issued before generations existed and counts as generation 0. A disabled account
    has no session at all.
    """
    account_id, _, generation = str(session_id).partition(":")
    try:
        account = db.session.get(Account, int(account_id))
        generation = int(generation or 0)
    except (TypeError, ValueError):
        return None
    if account is None or generation != (account.session_generation or 0):
        return None
    if not account.is_active:
        return None
    return account


@login_manager.request_loader
def load_from_bearer_token(request):
    """A token's account (or a TokenClient): ``Authorization: Bearer <token>`` on the JSON API
    and on the views that take tokens (streams, metrics); ``?token=`` on the streams alone.

    Refused tokens (unknown, revoked, expired, of a disabled account) leave the reason in
    ``g.bad_token`` for the 401. The token row is ``g.api_token``: its scopes and camera limit
    narrow what the account may do (``auth.roles``).
    """
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if not request.path.startswith("/api/") and not getattr(view, "accepts_tokens", False):
        return None
    token = bearer_token(request)
    if token is None and getattr(view, "permission", None) == "stream":
        token = request.args.get("token") or None
    if token is None:
        return None
    row = active_token(token)
    now = utcnow()
    if row is None:
        g.bad_token = "The API token is invalid or has been revoked."
        return None
    if row.expired(now):
        g.bad_token = f"The API token “{row.name}” expired at {iso(row.expires_at)}."
        return None
    if row.account is not None and not row.account.is_active:
        g.bad_token = f"The API token's account “{row.account.username}” is disabled."
        return None
    g.api_token_id = row.id
    g.api_token = row
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        record_later(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    if row.account is not None:
        return row.account
    return TokenClient(token_id=row.id, name=row.name)


def record_later(statement):
    """Write bookkeeping (when a token or account was last used) after the response is sent.

    It runs in its own transaction once the client has its answer, so a locked database can
    neither fail nor delay the request it belongs to; if it cannot be written, it is skipped.
    """
    app = current_app._get_current_object()

    def write():
        with app.app_context():
            try:
                db.session.execute(statement)
                db.session.commit()
            except SQLAlchemyError as exc:
                db.session.rollback()
                log.info("bookkeeping skipped (database busy): %s", exc.__class__.__name__)
            finally:
                db.session.remove()

    @after_this_request
    def _when_sent(response):
        response.call_on_close(write)
        return response


__all__ = ["bp", "can", "public", "record_later", "require_camera", "require_login", "requires"]

from . import routes  # noqa: E402,F401
