"""The history pages: /history (who was seen when, updated live) and /history.csv."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("history", __name__)
bp.before_request(require_login)

from . import routes  # noqa: E402,F401
