"""Who may open what: every blueprint calls ``bp.before_request(require_login)``."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..config import current_settings
from ..extensions import db, login_manager
from ..models import Account
from ..web import wants_json

# Open to anyone when FACEREC_PUBLIC_STREAM is on: the live page, its stream, and the
# read-only status the live page polls for its "in view" list.
PUBLIC_STREAM_RULES = {
    "/",
    "/stream.mjpg",
    "/api/v1/stream/status",
    "/cameras/<name>",
    "/cameras/<name>/stream.mjpg",
    "/api/v1/cameras",
    "/api/v1/cameras/<name>/status",
}


def require_login():
    """before_request hook: anonymous requests go to /login (HTML) or get 401 (API)."""
    if current_user.is_authenticated:
        return None
    if (
        current_settings().public_stream
        and request.method in ("GET", "HEAD")
        and request.url_rule is not None
        and request.url_rule.rule in PUBLIC_STREAM_RULES
    ):
        return None
    return login_manager.unauthorized()


def is_administrator(user) -> bool:
    """Whether ``user`` (an account, a token client, anonymous) administers this server.

    TODO(roles): until accounts have roles (issue 24), the administrator is the first
    account, the one /setup created; replace this with the roles' own check when it lands.
    """
    if not getattr(user, "is_authenticated", False) or not isinstance(user, Account):
        return False
    first = db.session.execute(select(func.min(Account.id))).scalar()
    return user.id == first


def require_admin(view):
    """Only an administrator may use ``view`` (cameras, webhooks: they make the server
    connect where they say); anyone else gets 403 saying so."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not is_administrator(current_user._get_current_object()):
            abort(403, description="Only an administrator can do this.")
        return view(*args, **kwargs)

    return guarded


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch in target for ch in "\r\n\t"):
        return None
    return target


def _browser_navigation() -> bool:
    """A browser opening a page (its Accept header names text/html ahead of JSON)."""
    accept = request.accept_mimetypes
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in accept.values()
        and accept["text/html"] > accept["application/json"]
    )


@login_manager.unauthorized_handler
def _unauthorized():
    """API clients get 401 JSON; browsers are sent to the sign-in page and back."""
    api = request.path.startswith("/api/")
    if (api and not _browser_navigation()) or (not api and wants_json()):
        if g.get("bad_token"):
            message = "The API token is invalid or has been revoked."
        else:
            message = "Authentication required: sign in or send 'Authorization: Bearer <token>'."
        response = jsonify(error=message)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="facerec"'
        return response
    target = None
    if request.method in ("GET", "HEAD"):
        target = safe_next(request.full_path.rstrip("?"))
    if target == "/":
        target = None
    return redirect(url_for("auth.login", next=target))
