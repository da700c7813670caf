"""Admin pages: the table of people, a person's page, API tokens, webhooks."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_login)

from . import cameras, negatives, routes, tokens, webhooks  # noqa: E402,F401
