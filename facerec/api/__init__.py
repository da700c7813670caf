"""The JSON API under /api/v1."""

from flask import Blueprint, current_app, g, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ..auth.guard import require_login
from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer-token clients cannot carry a CSRF token; browser sessions must (checked below).
csrf.exempt(bp)
# Runs before the CSRF check below, so an anonymous request gets 401, not 400.
bp.before_request(require_login)


@bp.before_request
def _csrf_for_browser_sessions():
    """A request riding on the session cookie must send the page's token in X-CSRFToken."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if g.get("api_token_id"):
        return  # signed in by a valid bearer token (set by the token loader), not the cookie
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


from . import audit, cameras, errors, negatives, routes, search, sightings, unknowns, users  # noqa: E402,F401
