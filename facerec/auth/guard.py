"""Sign-in requirement and safe redirects; who may do what is ``auth.roles``."""

from __future__ import annotations

from flask import current_app, g, jsonify, redirect, request, url_for

from ..extensions import login_manager


def require_login():
    """before_request hook of the blueprints: the same check ``roles.enforce`` makes for every
    request of the app (it runs first; this one finds the same answer). Kept so that a
    blueprint registered on an app without the auth blueprint stays closed."""
    from .roles import enforce

    return enforce()


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
    # Here: ``web`` brings the face engine and OpenCV, and the command line imports ``auth``.
    from ..web import wants_json

    api = request.path.startswith("/api/")
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    takes_tokens = getattr(view, "accepts_tokens", False)
    message = g.get("bad_token") or (
        "Authentication required: sign in or send 'Authorization: Bearer <token>'."
    )
    if (api and not _browser_navigation()) or (not api and wants_json()):
        response = jsonify(error=message)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="facerec"'
        return response
    if takes_tokens and not _browser_navigation():
        # A stream or metrics client (Home Assistant, Prometheus): a plain 401, not a page.
        response = current_app.response_class(message + "\n", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="facerec"'
        return response
    target = None
    if request.method in ("GET", "HEAD"):
        target = safe_next(request.full_path.rstrip("?"))
    if target == "/":
        target = None
    return redirect(url_for("auth.login", next=target))
