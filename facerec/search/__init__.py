"""Search the history by face: /history/search (each search on the audit trail)."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("search", __name__)
bp.before_request(require_login)

from . import routes  # noqa: E402,F401
